"""Reads that tolerate a second's lag, on a streaming read replica (docs/deploy.md, A read
replica).

With DATABASE_REPLICA_URL set the project has a second database alias, "replica". Nothing goes
there by default: every read and every write stays on the primary ("default"). A read opts in,
in one of two ways:

- `with replica_reads(): ...`: the ORM reads made inside the block (through the router below)
  go to the replica. For a selector that reads and evaluates everything itself (the stock
  page's counts, the /metrics gauges).
- `on_replica(queryset)`: the queryset is bound to the replica, wherever it is evaluated later
  (a changelist rendered after the view returns, an export streamed after it). Bind only what
  is read: a queryset bound to the replica that is then updated would write to the replica.

What decides (claims, attribution, top-ups, the widget's codes, anything read to write) never
opts in. A list endpoint of the read API opts in the same way: its selector wraps its query in
`on_replica` (see codes.selectors.codes_export_rows).

Either way the replica is used only when it can serve: each process measures the replica's lag
at most every DATABASE_REPLICA_CHECK_SECONDS, and reads the primary instead (logging why, once
per change) while the replica is more than DATABASE_REPLICA_MAX_LAG_SECONDS behind or cannot be
reached. A manager who just changed something reads the primary for DATABASE_REPLICA_PIN_SECONDS
(ReadYourWritesMiddleware), so the page after a save shows the save.
"""

import logging
import threading
import time
from contextlib import contextmanager
from contextvars import ContextVar

from django.conf import settings
from django.core import signing
from django.db import DEFAULT_DB_ALIAS, DatabaseError, connections
from django.db.models import QuerySet

log = logging.getLogger("foundation.replica")

REPLICA = "replica"
PIN_COOKIE = "primary_reads"
_PIN_SALT = "foundation.replica.pin"

_lag_tolerated: ContextVar[bool] = ContextVar("replica_reads", default=False)
_pinned_to_primary: ContextVar[bool] = ContextVar("pinned_to_primary", default=False)


def replica_configured() -> bool:
    return REPLICA in settings.DATABASES


# --- Is the replica fit to read? ------------------------------------------------------------

# On the replica: whether it is a standby at all, whether its WAL receiver streams from the
# primary, whether it has replayed all it received, and how long ago it replayed the last
# transaction. A standby that replayed everything it received while streaming is current
# (however long ago the primary last wrote); otherwise it is as old as its last replayed
# transaction. A standby that is not streaming (cut off from the primary) is as old as that.
LAG_SQL = """
SELECT pg_is_in_recovery(),
       EXISTS (SELECT 1 FROM pg_stat_wal_receiver WHERE status = 'streaming'),
       pg_last_wal_receive_lsn() IS NOT DISTINCT FROM pg_last_wal_replay_lsn(),
       EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8
"""


def replica_lag_seconds() -> float:
    """The replica's lag in seconds, read on it now (0.0: current; inf: unknown). Raises
    DatabaseError when it cannot be reached."""
    with connections[REPLICA].cursor() as cursor:
        cursor.execute(LAG_SQL)
        standby, streaming, replayed_all, since_last = cursor.fetchone()
    if not standby:
        return 0.0  # promoted, or the URL names a primary: current by definition
    if streaming and replayed_all:
        return 0.0
    return float("inf") if since_last is None else max(0.0, since_last)


class ReplicaHealth:
    """One process's view of the replica: usable or not, measured at most every
    DATABASE_REPLICA_CHECK_SECONDS (and retried at most every 5 s while unreachable, so a
    replica that does not answer costs a connect timeout only that often)."""

    RETRY_UNREACHABLE_SECONDS = 5.0

    def __init__(self):
        self._lock = threading.Lock()
        self.usable = False
        self.reason = "not checked yet"
        self.lag: float | None = None
        self._next_check = 0.0

    def reset(self) -> None:
        with self._lock:
            self.usable, self.reason, self.lag, self._next_check = False, "not checked yet", None, 0

    def check_due(self) -> bool:
        return time.monotonic() >= self._next_check

    def is_usable(self) -> bool:
        if self.check_due() and self._lock.acquire(blocking=False):
            try:
                if self.check_due():
                    self._check()
            finally:
                self._lock.release()
        return self.usable

    def _check(self) -> None:
        limit = settings.DATABASE_REPLICA_MAX_LAG_SECONDS
        pause = settings.DATABASE_REPLICA_CHECK_SECONDS
        try:
            lag = replica_lag_seconds()
        except DatabaseError as error:
            # The replica may have gone while this thread held a connection to it: drop it, so
            # the next check connects anew.
            connections[REPLICA].close()
            self.unreachable(error, locked=True)
            return
        else:
            if lag > limit:
                shown = "an unknown time" if lag == float("inf") else f"{lag:.1f} s"
                self._set(False, f"the replica is {shown} behind (limit {limit:g} s)", lag)
            else:
                self._set(True, f"the replica is {lag:.1f} s behind", lag)
        self._next_check = time.monotonic() + pause

    def unreachable(self, error: Exception, *, locked: bool = False) -> None:
        """The replica cannot be reached: read the primary until the next retry."""
        first_line = (str(error).strip().splitlines() or [""])[0]
        if not locked:
            self._lock.acquire()
        try:
            self._set(
                False, f"the replica cannot be reached ({type(error).__name__}: {first_line})", None
            )
            pause = max(settings.DATABASE_REPLICA_CHECK_SECONDS, self.RETRY_UNREACHABLE_SECONDS)
            self._next_check = time.monotonic() + pause
        finally:
            if not locked:
                self._lock.release()

    def _set(self, usable: bool, reason: str, lag: float | None) -> None:
        changed = usable != self.usable or self.reason == "not checked yet"
        self.usable, self.reason, self.lag = usable, reason, lag
        if not changed:
            return
        if usable:
            log.info("Replica reads go to the replica (%s).", reason)
        else:
            log.warning("Replica reads go to the primary: %s.", reason)


health = ReplicaHealth()


# --- Choosing the database of a read ---------------------------------------------------------


def read_alias() -> str:
    """The alias for a read that tolerates lag: the replica when there is one, it is fit to
    read and this request is not pinned to the primary; else the primary."""
    if not replica_configured() or _pinned_to_primary.get() or not health.is_usable():
        return DEFAULT_DB_ALIAS
    try:
        # This thread's connection to it, (re)opened now: a replica gone since the last check
        # is read around at once, not only at the next check.
        connections[REPLICA].ensure_connection()
    except DatabaseError as error:
        connections[REPLICA].close()
        health.unreachable(error)
        return DEFAULT_DB_ALIAS
    return REPLICA


@contextmanager
def replica_reads():
    """ORM reads inside the block tolerate lag (see the module's docstring)."""
    token = _lag_tolerated.set(True)
    try:
        yield
    finally:
        _lag_tolerated.reset(token)


def on_replica(queryset: QuerySet) -> QuerySet:
    """`queryset` bound to the database read_alias() chooses now."""
    return queryset.using(read_alias())


@contextmanager
def primary_reads():
    """Every read inside the block goes to the primary, replica_reads() or not."""
    token = _pinned_to_primary.set(True)
    try:
        yield
    finally:
        _pinned_to_primary.reset(token)


class ReplicaRouter:
    """Writes go to the primary; reads too, except inside replica_reads()."""

    def db_for_read(self, model, **hints):
        return read_alias() if _lag_tolerated.get() else DEFAULT_DB_ALIAS

    def db_for_write(self, model, **hints):
        # Explicit: Django would otherwise write an object back to the database it was read
        # from, the replica included.
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True

    def allow_migrate(self, db, app_label, model_name=None, **hints):
        return db == DEFAULT_DB_ALIAS


# --- Read-your-writes ------------------------------------------------------------------------

_SAFE_METHODS = {"GET", "HEAD", "OPTIONS", "TRACE"}


class ReadYourWritesMiddleware:
    """A signed-in user who changed something (a successful POST, PUT, PATCH or DELETE) reads
    the primary for the next DATABASE_REPLICA_PIN_SECONDS: a short-lived signed cookie says
    until when, on whichever web machine the next request lands. A request that writes reads
    the primary too. Nothing happens without a replica."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        if not replica_configured():
            return self.get_response(request)
        writes = request.method not in _SAFE_METHODS
        token = _pinned_to_primary.set(writes or self._pinned(request))
        try:
            response = self.get_response(request)
        finally:
            _pinned_to_primary.reset(token)
        user = getattr(request, "user", None)
        if writes and response.status_code < 400 and user is not None and user.is_authenticated:
            seconds = settings.DATABASE_REPLICA_PIN_SECONDS
            response.set_signed_cookie(
                PIN_COOKIE,
                f"{time.time() + seconds:.3f}",
                salt=_PIN_SALT,
                max_age=seconds,
                httponly=True,
                samesite="Lax",
                secure=settings.SESSION_COOKIE_SECURE,
            )
        return response

    @staticmethod
    def _pinned(request) -> bool:
        try:
            until = request.get_signed_cookie(PIN_COOKIE, salt=_PIN_SALT)
            return float(until) > time.time()
        except (KeyError, signing.BadSignature, ValueError):
            return False
