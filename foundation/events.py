"""Business events, announced by the services that cause them (docs/architecture.md, Events).

A service calls `event_emit(...)` inside its own transaction; the signal's receivers run there
and then, in that transaction, so whatever they write (the webhooks app's outbox) commits or
rolls back with the change itself. The apps that cause events never import the apps that listen.
"""

import threading
from contextlib import contextmanager

from django.db import transaction
from django.dispatch import Signal

PARTICIPANT_CREATED = "participant.created"
PARTICIPANT_ERASED = "participant.erased"
CODE_ASSIGNED = "code.assigned"
CODE_REDEEMED = "code.redeemed"
CODE_EXPIRED = "code.expired"
REFERRAL_CONVERTED = "referral.converted"
REFERRAL_HELD_FOR_REVIEW = "referral.held_for_review"
REWARD_CREATED = "reward.created"
REWARD_AVAILABLE = "reward.available"
REWARD_PAID = "reward.paid"
REWARD_CANCELLED = "reward.cancelled"
CONVERSION_REVERSED = "conversion.reversed"
STOCK_LOW = "stock.low"
STOCK_EMPTY = "stock.empty"

EVENT_TYPES = (
    PARTICIPANT_CREATED,
    PARTICIPANT_ERASED,
    CODE_ASSIGNED,
    CODE_REDEEMED,
    CODE_EXPIRED,
    REFERRAL_CONVERTED,
    REFERRAL_HELD_FOR_REVIEW,
    REWARD_CREATED,
    REWARD_AVAILABLE,
    REWARD_PAID,
    REWARD_CANCELLED,
    CONVERSION_REVERSED,
    STOCK_LOW,
    STOCK_EMPTY,
)

# Sent with `program_id`, `types` (the event types `build` may return) and `build`: a callable
# returning a list of (type, data, email) — `data` holds ids and amounts only; `email` is the
# advocate's address (or "") that only an endpoint opted in to it receives. A listener calls
# `build` only when someone wants one of `types`, so an event nobody listens to costs no reads.
business_events = Signal()

# Sent with `discard` at the end of the outermost `events_batched` block: a listener that held
# the block's events writes them then (discard=False), or forgets them (True, the block raised).
business_events_flush = Signal()

_batch = threading.local()


@contextmanager
def events_batched():
    """Inside this block (within a transaction), a listener may hold the events announced and
    write them together when it ends (docs/architecture.md, Events): an order's several
    announcements cost one write. The block must hold no savepoint rolled back with events
    announced in it (they would be written at its end all the same)."""
    depth = getattr(_batch, "depth", 0)
    _batch.depth = depth + 1
    discard = True
    try:
        yield
        discard = False
    finally:
        _batch.depth = depth
        if not depth:
            business_events_flush.send(sender=None, discard=discard)


def events_batching() -> bool:
    """Whether an `events_batched` block is open (a listener may hold its events to its end)."""
    return getattr(_batch, "depth", 0) > 0


def event_emit(*, program_id: int, type: str, data: dict, email: str = "") -> None:
    """Announce one event of program `program_id`. Call it inside the transaction of the change."""
    events_emit(program_id=program_id, types=(type,), build=lambda: [(type, data, email)])


def events_emit(*, program_id: int, types: tuple[str, ...], build) -> None:
    """Announce the events `build()` returns (of these `types`), built only if anyone listens."""
    if _listening_programs().get(program_id) is False:
        return
    business_events.send(sender=None, program_id=program_id, types=types, build=build)


# Whether anyone listens, asked by a statement that already runs (docs/architecture.md,
# Events). A listener that writes in the event's transaction registers, beside its receiver, a
# function giving the SQL test of whether it wants any event of a program (from the SQL of the
# program's id); a generated database function selects `listening_sql(...)` with its own work
# and reports it with `events_listening`. When false, the transaction's later events of that
# program are not announced at all (no read, no payload); when true, a listener may write
# without looking first (`events_listened`). A listener whose settings change within a
# transaction calls `listeners_changed`, and what was found is forgotten.
_PROBES: list = []


def listening_probe_register(sql_of) -> None:
    """`sql_of(program_id_sql)` is the SQL boolean "this listener wants some event of that
    program" (as of the statement that evaluates it)."""
    if sql_of not in _PROBES:
        _PROBES.append(sql_of)


def listening_sql(program_id_sql: str) -> str:
    """The SQL boolean "some listener wants an event of the program", true when a connected
    listener registered no test."""
    if len(business_events.receivers) > len(_PROBES):
        return "true"
    return "(" + " OR ".join(["false", *(sql_of(program_id_sql) for sql_of in _PROBES)]) + ")"


class _Listening(dict):
    """Whether anyone listens to a program's events (program id → bool), as a statement of
    this transaction found, kept until the transaction ends (an on-commit callback that does
    nothing)."""

    def __call__(self):
        self.clear()


def _listening_programs(create: bool = False) -> dict:
    connection = transaction.get_connection()
    if not connection.in_atomic_block:
        return {}
    for _, callback, _ in connection.run_on_commit:
        if isinstance(callback, _Listening):
            return callback
    if not create:
        return {}
    listening = _Listening()
    transaction.on_commit(listening)
    return listening


def events_listening(*, program_id: int, listening: bool) -> None:
    """`listening_sql` of this program was `listening` in the current transaction. When false,
    its events go unannounced until the transaction ends or a listener changes; when true, a
    listener may write without looking first (`events_listened`). Outside a transaction,
    nothing."""
    if len(business_events.receivers) > len(_PROBES):
        return
    _listening_programs(create=True)[program_id] = listening


def events_listened(program_id: int) -> bool | None:
    """What `events_listening` recorded for the program in this transaction (None: not asked)."""
    return _listening_programs().get(program_id)


def listeners_changed() -> None:
    """A listener's settings changed in this transaction: forget what was found."""
    _listening_programs().clear()
