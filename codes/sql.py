"""Every raw SQL statement of the codes app, each with the reason it is SQL.

The claim engine (claim, the holder lock, the holder's state, the capped stock count) runs on every
assignment: these statements are SQL because the ORM cannot say them (FOR UPDATE SKIP LOCKED in
a MATERIALIZED CTE, an advisory lock) or spends more CPU building them than the database spends
running them (bench/assign.py). Their code-state predicates are not written here: they are
compiled by Django from `models.CodeState`, the one definition of each state.

On PostgreSQL the whole top-up of one holder is one call of a PL/pgSQL function whose text is
built here from the same predicates (top_up_function_sql): one round trip instead of five.

The import is SQL because a million rows go through it: COPY straight into the codes table when
no code clashes, else COPY into a staging table (ImportStaging) and one set-based INSERT …
SELECT; never a million ORM objects. ForeignKeyChecks says how their keys are checked.
"""

import secrets
import time
from dataclasses import dataclass
from datetime import datetime

from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.db.models import Q
from psycopg import errors as psycopg_errors

from foundation.events import listening_sql
from programs.models import (
    Program,
    code_quota_of,
    code_quota_sql,
    counts_toward_quota_sql,
)

from .models import (
    CODE_MAX_LENGTH,
    Batch,
    CodeShortfall,
    CodeSource,
    CodeState,
    CodeStatus,
    Pool,
    PoolKind,
    PromoCode,
)

CODES = PromoCode._meta.db_table
CODES_QUOTED = f'"{CODES}"'
HOLDERS = PromoCode._meta.get_field("holder").related_model._meta.db_table
# Advisory-lock keys of code holders: this namespace in the high bits, the holder's id below.
_HOLDER_LOCK_NAMESPACE = 0x5250_4300_0000_0000

_compiled: dict[tuple[str, str], tuple[str, list]] = {}


# One holder's codes, as `c`, for counting what they hold: the holder's rows are fetched first
# (OFFSET 0 keeps the pool and state tests out of that scan), so the database walks the holder
# index whatever its statistics say. Left to itself, on statistics taken while no code had a
# holder yet, PostgreSQL counted through the pool-and-state index instead, reading every code
# already assigned in the pool on each top-up (bench/assign.py slowed by half over one run).
def _holders_codes(holder: str) -> str:
    fence = " OFFSET 0" if connection.vendor == "postgresql" else ""
    return f"(SELECT * FROM {CODES} WHERE holder_id = {holder}{fence}) AS c"


def state_sql(name: str) -> tuple[str, list]:
    """The WHERE fragment and parameters of `CodeState.<name>` on the codes table, compiled by
    Django once per database vendor. Only predicates on the codes table's own columns."""
    key = (connection.vendor, name)
    if key not in _compiled:
        predicate: Q = getattr(CodeState, name)
        query = PromoCode.objects.filter(predicate).query
        compiler = query.get_compiler(connection=connection)
        sql, params = query.where.as_sql(compiler, connection)
        _compiled[key] = (sql, list(params))
    return _compiled[key]


# --- The claim engine ---------------------------------------------------------------------------


def claim(*, pool_id: int, usage: str | None, holder_id: int, count: int, now: datetime) -> int:
    """Claim up to `count` available codes of the pool for the holder; return how many.

    PostgreSQL: one statement. The candidates are locked with SELECT … FOR UPDATE SKIP LOCKED in
    a MATERIALIZED CTE (evaluated exactly once), so concurrent claimers each take different rows
    without waiting on one another, oldest batch first and file order within a batch
    (approximately, under concurrency); the UPDATE takes them. (Not `UPDATE … WHERE id IN
    (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)`: PostgreSQL may re-run that subquery during the
    update and claim more than n rows.) SQLite (one writer at a time: the connection begins
    IMMEDIATE transactions) runs the same as a SELECT then an UPDATE. Either way the UPDATE
    re-checks the available predicate: a code is never handed to two holders. `usage` None:
    any usage (fuel tanks); the claim index leads (pool, usage, batch, id), so codes of one
    usage are taken before the other's.
    """
    if count <= 0:
        return 0
    available, available_params = state_sql("CLAIMABLE")
    where = [f"pool_id = %s AND {available}"]
    params: list = [pool_id, *available_params]
    order = "batch_id, id"
    if usage is not None:
        where.append("usage = %s")
        params.append(usage)
    else:
        order = "usage, batch_id, id"
    candidates = f"SELECT id FROM {CODES} WHERE {' AND '.join(where)} ORDER BY {order} LIMIT %s"
    params.append(count)
    set_assigned = "status = %s, holder_id = %s, assigned_at = %s"
    set_params = [CodeStatus.ASSIGNED.value, holder_id, now]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"WITH picked AS MATERIALIZED ({candidates} FOR UPDATE SKIP LOCKED) "
                f"UPDATE {CODES} SET {set_assigned} FROM picked "
                f"WHERE {CODES}.id = picked.id AND {available}",
                [*params, *set_params, *available_params],
            )
            return cursor.rowcount
        cursor.execute(candidates, params)
        ids = [row[0] for row in cursor.fetchall()]
        if not ids:
            return 0
        marks = ", ".join(["%s"] * len(ids))
        cursor.execute(
            f"UPDATE {CODES} SET {set_assigned} WHERE id IN ({marks}) AND {available}",
            [*set_params, *ids, *available_params],
        )
        return cursor.rowcount


def claim_one(*, pool_id: int, holder_id: int, now: datetime) -> int | None:
    """Claim one available code of the pool (any usage) for the holder; return its id or None.

    The fuel-tank claim: the same statement as `claim`, returning the id it took.
    """
    available, available_params = state_sql("CLAIMABLE")
    candidates = (
        f"SELECT id FROM {CODES} WHERE pool_id = %s AND {available} "
        "ORDER BY usage, batch_id, id LIMIT 1"
    )
    params = [pool_id, *available_params]
    set_params = [CodeStatus.ASSIGNED.value, holder_id, now]
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute(
                f"WITH picked AS MATERIALIZED ({candidates} FOR UPDATE SKIP LOCKED) "
                f"UPDATE {CODES} SET status = %s, holder_id = %s, assigned_at = %s FROM picked "
                f"WHERE {CODES}.id = picked.id AND {available} RETURNING {CODES}.id",
                [*params, *set_params, *available_params],
            )
        else:
            cursor.execute(candidates, params)
            row = cursor.fetchone()
            if row is None:
                return None
            cursor.execute(
                f"UPDATE {CODES} SET status = %s, holder_id = %s, assigned_at = %s "
                f"WHERE id = %s AND {available} RETURNING id",
                [*set_params, row[0], *available_params],
            )
        row = cursor.fetchone()
    return row[0] if row else None


@dataclass(frozen=True)
class HolderProgram:
    """What a top-up needs of the holder's program, read with the holder lock."""

    promo_codes_enabled: bool
    code_usage: str
    codes_per_advocate: int
    low_stock_threshold: int
    referral_pool_id: int | None

    @property
    def code_quota(self) -> int:
        return code_quota_of(self.code_usage, self.codes_per_advocate)


def lock_holder(holder_id: int) -> None:
    """Serialise, until the transaction ends, every change to one holder's codes: the first
    statement of every top-up, alone, so the next one reads what the lock's previous holder
    committed.

    A PostgreSQL advisory lock on the holder's id, not a lock on the participant row: the codes
    app owns the quota and reads no participant column. SQLite has no locks to take: its
    IMMEDIATE transactions serialise writers already.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_advisory_xact_lock(%s)", [_HOLDER_LOCK_NAMESPACE | holder_id])


def holder_state(
    *, holder_id: int, program_id: int
) -> tuple[HolderProgram | None, int, datetime | None]:
    """After the holder lock, in one statement: the program's settings and referral pool, how
    many codes toward the quota the holder holds, and since when they are queued as short of
    codes (None: not queued). A statement of its own, after `lock_holder`, so that everything
    it reads is what the previous holder of the lock committed (a statement sees the data as of
    its start). (`PromoCode.objects.toward_quota` says the same through the ORM; this is the
    hot-path form.)"""
    assigned, assigned_params = state_sql("ASSIGNED_VALID")
    held = (
        f"SELECT COUNT(*) FROM {_holders_codes('%s')} WHERE c.pool_id = r.id "
        f"AND {assigned.replace(CODES_QUOTED, 'c')} "
        f"AND {counts_toward_quota_sql('p.code_usage', 'c.usage')}"
    )
    queued = f"SELECT since FROM {CodeShortfall._meta.db_table} WHERE holder_id = %s"
    sql = (
        "SELECT p.promo_codes_enabled, p.code_usage, p.codes_per_advocate, "
        f"p.low_stock_threshold, r.id, ({held}), ({queued}) "
        f"FROM {Program._meta.db_table} p LEFT JOIN {Pool._meta.db_table} r "
        "ON r.program_id = p.id AND r.kind = %s WHERE p.id = %s"
    )
    params = [holder_id, *assigned_params, holder_id]
    params += [PoolKind.REFERRAL.value, program_id]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    if row is None:
        return None, 0, None
    *settings, count, since = row
    if isinstance(since, str):  # SQLite hands back the text of a subquery's timestamp
        since = datetime.fromisoformat(since)
    return HolderProgram(*settings), count, since


# --- The top-up in one round trip (PostgreSQL) -----------------------------------------------

TOP_UP_FUNCTION = "codes_top_up_holder"
_TOP_UP_ARGUMENTS = "(bigint, bigint, boolean, timestamptz, bigint, bigint)"


def _inline(name: str, alias: str | None = None) -> str:
    """`state_sql(name)` with its parameters written in as literals (for a function body),
    on `alias` instead of the codes table when given."""
    fragment, params = state_sql(name)
    if alias is not None:
        fragment = fragment.replace(CODES_QUOTED, alias)
    return connection.ops.compose_sql(fragment, params)


def top_up_function_sql() -> str:
    """CREATE OR REPLACE the PL/pgSQL function that tops one holder up in one call: holder
    lock, the program's settings, the holder's queue entry and held count, the claim of the
    shortfall, the queue written. Each statement in it takes a fresh snapshot (READ COMMITTED),
    so what it counts after the lock is what the lock's previous holder committed.

    Built here, from `CodeState` through `state_sql`, like every other claim statement: the
    migration that adds it and every `migrate` after it (codes.receivers) install the current
    text, so a changed state rule reaches the database with the next migrate.

    The claim starts at (after_batch, after_id), the last code this process claimed from the
    pool (see assignment._claim_hints): claimed rows leave dead entries at the head of the
    claim index until VACUUM, and starting past them keeps a claim's cost flat however many
    codes were claimed before. When that finds too few, a second claim scans from the start
    (a code skipped while another transaction held it, a batch that committed late).
    """
    available = _inline("CLAIMABLE")
    assigned_c = _inline("ASSIGNED_VALID", "c")
    referral = connection.ops.compose_sql("%s", [PoolKind.REFERRAL.value])
    status_assigned = connection.ops.compose_sql("%s", [CodeStatus.ASSIGNED.value])

    def claim(start: str) -> str:
        return f"""
        WITH picked AS MATERIALIZED (
            SELECT id FROM {CODES}
            WHERE pool_id = v_pool AND {available} AND usage = v_usage{start}
            ORDER BY batch_id, id LIMIT v_missing - claimed FOR UPDATE SKIP LOCKED
        ), taken AS (
            UPDATE {CODES} SET status = {status_assigned}, holder_id = holder, assigned_at = now_
            FROM picked WHERE {CODES}.id = picked.id AND {available}
            RETURNING {CODES}.batch_id, {CODES}.id, {CODES}.code
        )
        SELECT count(*)::integer,
               max(ARRAY[batch_id, id]) FILTER (WHERE batch_id IS NOT NULL),
               coalesce(array_agg(id ORDER BY id), '{{}}'),
               coalesce(array_agg(code ORDER BY id), '{{}}')
          INTO v_count, v_last, v_ids, v_codes FROM taken;
        claimed := claimed + v_count;
        claimed_ids := claimed_ids || v_ids;
        claimed_codes := claimed_codes || v_codes;
        IF v_last IS NOT NULL AND (last_claimed IS NULL OR v_last > last_claimed) THEN
            last_claimed := v_last;
        END IF;"""

    return f"""
CREATE OR REPLACE FUNCTION {TOP_UP_FUNCTION}(
    holder bigint, program bigint, only_if_queued boolean, now_ timestamptz,
    after_batch bigint, after_id bigint,
    OUT outcome text, OUT claimed integer, OUT short boolean, OUT pool_id bigint,
    OUT code_usage text, OUT threshold integer, OUT last_claimed bigint[],
    OUT claimed_ids bigint[], OUT claimed_codes text[], OUT holder_participant_id text,
    OUT holder_email text, OUT listened boolean)
LANGUAGE plpgsql AS $fn$
#variable_conflict use_column
DECLARE
    v_enabled boolean; v_per integer; v_pool bigint; v_usage text;
    v_held integer; v_since timestamptz; v_missing integer; v_count integer; v_last bigint[];
    v_ids bigint[]; v_codes text[];
BEGIN
    outcome := 'nothing'; claimed := 0; short := false;
    claimed_ids := '{{}}'; claimed_codes := '{{}}';
    PERFORM pg_advisory_xact_lock({_HOLDER_LOCK_NAMESPACE} | holder);
    SELECT p.promo_codes_enabled, p.code_usage, p.codes_per_advocate, p.low_stock_threshold,
           r.id
      INTO v_enabled, v_usage, v_per, threshold, v_pool
      FROM {Program._meta.db_table} p
      LEFT JOIN {Pool._meta.db_table} r ON r.program_id = p.id AND r.kind = {referral}
     WHERE p.id = program;
    IF NOT FOUND OR NOT v_enabled THEN RETURN; END IF;
    pool_id := v_pool; code_usage := v_usage;
    IF v_pool IS NULL THEN outcome := 'no pool'; RETURN; END IF;
    SELECT since INTO v_since FROM {CodeShortfall._meta.db_table} WHERE holder_id = holder;
    IF only_if_queued AND v_since IS NULL THEN RETURN; END IF;
    SELECT count(*) INTO v_held FROM {_holders_codes("holder")}
     WHERE c.pool_id = v_pool AND {assigned_c}
       AND {counts_toward_quota_sql("v_usage", "c.usage")};
    v_missing := {code_quota_sql("v_usage", "v_per")} - v_held;
    IF v_missing <= 0 THEN
        IF v_since IS NOT NULL THEN
            DELETE FROM {CodeShortfall._meta.db_table} WHERE holder_id = holder;
        END IF;
        RETURN;
    END IF;
    -- Two statements, not one with `after_batch IS NULL OR …`: a cached generic plan could
    -- not start the index scan at the hint then.
    IF after_batch IS NOT NULL THEN
        {claim(" AND (batch_id, id) > (after_batch, after_id)")}
    END IF;
    IF claimed < v_missing THEN
        {claim("")}
    END IF;
    outcome := 'topped up';
    short := claimed < v_missing;
    IF claimed > 0 THEN  -- what code.assigned names (codes.events), and whether anyone listens
        SELECT h.participant_id, h.email, {listening_sql("program")}
          INTO holder_participant_id, holder_email, listened
          FROM {HOLDERS} h WHERE h.id = holder;
    END IF;
    IF short AND v_since IS NULL THEN
        INSERT INTO {CodeShortfall._meta.db_table} (holder_id, program_id, since)
        VALUES (holder, program, now_);
    ELSIF NOT short AND v_since IS NOT NULL THEN
        DELETE FROM {CodeShortfall._meta.db_table} WHERE holder_id = holder;
    END IF;
END
$fn$
"""


def top_up_function_install(*, only_if_present: bool = False) -> None:
    """Install (or replace) the top-up function on PostgreSQL; nothing elsewhere.
    `only_if_present`: replace it only if a migration installed it (not after migrating back
    before it)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        if only_if_present:
            cursor.execute("SELECT to_regproc(%s) IS NOT NULL", [TOP_UP_FUNCTION])
            if not cursor.fetchone()[0]:
                return
        with transaction.atomic():
            # Its answer's columns may have changed, which CREATE OR REPLACE cannot do.
            cursor.execute(f"DROP FUNCTION IF EXISTS {TOP_UP_FUNCTION}{_TOP_UP_ARGUMENTS}")
            cursor.execute(top_up_function_sql())


@dataclass(frozen=True)
class TopUpCall:
    """What the top-up function did (see top_up_function_sql)."""

    outcome: str  # "nothing", "no pool" (create it, call again) or "topped up"
    claimed: int
    short: bool
    pool_id: int | None
    usage: str | None
    threshold: int | None
    last_claimed: tuple[int, int] | None
    # What code.assigned names: the codes claimed, (id, code) in claim order, and their holder.
    codes: list[tuple[int, str]]
    holder_participant_id: str | None
    holder_email: str
    # Whether anyone listens to the program's events (foundation.events.listening_sql), asked
    # when codes were claimed; None when none were.
    listened: bool | None


def top_up_call(
    *,
    holder_id: int,
    program_id: int,
    only_if_queued: bool,
    now: datetime,
    after: tuple[int, int] | None,
) -> TopUpCall:
    """One round trip: the whole top-up of one holder (PostgreSQL only)."""
    after_batch, after_id = after if after is not None else (None, None)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT * FROM {TOP_UP_FUNCTION}(%s, %s, %s, %s, %s, %s)",
            [holder_id, program_id, only_if_queued, now, after_batch, after_id],
        )
        (
            outcome,
            claimed,
            short,
            pool_id,
            usage,
            threshold,
            last,
            ids,
            codes,
            participant_id,
            email,
            listened,
        ) = cursor.fetchone()
    return TopUpCall(
        outcome=outcome,
        claimed=claimed,
        short=short,
        pool_id=pool_id,
        usage=usage,
        threshold=threshold,
        last_claimed=tuple(last) if last else None,
        codes=sorted(zip(ids or (), codes or (), strict=True)),
        holder_participant_id=participant_id,
        holder_email=email or "",
        listened=listened,
    )


def available_at_most(
    *,
    pool_id: int,
    usage: str | None,
    limit: int,
    after: tuple[int, int] | None = None,
    valid_at: datetime | None = None,
    using: str = DEFAULT_DB_ALIAS,
) -> int:
    """min(available, limit + 1) of a pool (usage None: any usage); with `after` (a batch id
    and code id), of the pool's codes past that point in claim order only: a lower bound; with
    `valid_at`, only the codes that will not have expired by then.

    SQL: it runs after every claim, and Django's sliced count() costs more CPU than the query
    itself. Walks at most limit + 1 entries of the claim index (after the dead ones claimed
    codes leave at its head, unless `after` starts past them).
    """
    available, params = state_sql("CLAIMABLE")
    sql = f"SELECT COUNT(*) FROM (SELECT 1 FROM {CODES} WHERE pool_id = %s AND {available}"
    params = [pool_id, *params]
    if usage is not None:
        sql += " AND usage = %s"
        params.append(usage)
    if after is not None:
        sql += " AND (batch_id, id) > (%s, %s)"
        params += list(after)
    if valid_at is not None:
        sql += " AND (expires_at IS NULL OR expires_at > %s)"
        params.append(connections[using].ops.adapt_datetimefield_value(valid_at))
    sql += " LIMIT %s) AS capped"
    params.append(limit + 1)
    with connections[using].cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


# --- Import staging -----------------------------------------------------------------------------


class ForeignKeyChecks:
    """How an import's inserted codes get their foreign keys checked, on PostgreSQL.

    Every code of a batch carries the same batch, pool and program, and no holder, friend or
    voider: checking each row's keys one by one (PostgreSQL's RI triggers) proves the same fact
    a million times. When the database role may set `session_replication_role` (a superuser,
    or on PostgreSQL 15+ a role granted SET on it), the import checks them once per batch: it
    locks the batch and the pool-with-its-program rows FOR KEY SHARE (what each row's check
    would take: neither can be deleted or re-keyed until commit), then turns the per-row
    triggers off for the insert alone (SET LOCAL, put back right after, undone by any rollback).
    Otherwise row by row, each as the row goes in (not queued until COMMIT: a million deferred
    checks cost twice the insert). The codes table has no trigger but these checks.
    """

    ONCE = "once per batch"
    PER_ROW = "row by row"

    def __init__(self):
        self.mode = self.ONCE if self._role_may_skip_triggers() else self.PER_ROW

    @staticmethod
    def _role_may_skip_triggers() -> bool:
        with connection.cursor() as cursor:
            if connection.pg_version >= 150000:
                cursor.execute("SELECT has_parameter_privilege('session_replication_role', 'SET')")
            else:
                cursor.execute("SELECT rolsuper FROM pg_roles WHERE rolname = current_user")
            return bool(cursor.fetchone()[0])

    def describe(self) -> str:
        if self.mode == self.ONCE:
            return "foreign keys checked once per batch"
        return (
            "foreign keys checked row by row (the database role may not set "
            "session_replication_role)"
        )

    def before_insert(self, cursor, *, pool_id: int, program_id: int, batch_id: int) -> None:
        if self.mode == self.PER_ROW:
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            return
        cursor.execute(
            f"SELECT 1 FROM {Batch._meta.db_table} WHERE id = %s FOR KEY SHARE", [batch_id]
        )
        found = cursor.fetchone()
        cursor.execute(
            f"SELECT 1 FROM {Pool._meta.db_table} WHERE id = %s AND program_id = %s FOR KEY SHARE",
            [pool_id, program_id],
        )
        if not (found and cursor.fetchone()):
            raise IntegrityError(
                f"The batch {batch_id} or the pool {pool_id} of program {program_id} is gone."
            )
        cursor.execute("SET LOCAL session_replication_role = replica")

    def after_insert(self, cursor) -> None:
        if self.mode == self.PER_ROW:
            cursor.execute("SET CONSTRAINTS ALL DEFERRED")  # Django's default
        else:
            cursor.execute("SET LOCAL session_replication_role = origin")


class CodeClash(Exception):
    """A code of the file is already in the program or twice in the file (COPY refused it)."""


_UNIQUE_PER_PROGRAM = "promocode_unique_per_program"


def copy_codes_into_table(*, rows, program, pool, batch, checks: ForeignKeyChecks) -> int:
    """COPY a batch's codes straight into the codes table, in the order given (ids follow
    file order); return how many. `rows` yields lists of canonical codes. Raises CodeClash,
    with nothing of the COPY left, when a code is already in the program or comes twice: the
    unique index is the check, so a file without clash costs one pass. PostgreSQL, inside the
    batch transaction."""
    prefix = (
        f"{program.pk}\t{pool.pk}\t{batch.pk}\t{{}}\t{batch.usage}\t{CodeSource.POOL.value}\t"
        f"{CodeStatus.AVAILABLE.value}\t0\t\n"
    )
    copy_sql = (
        f"COPY {CODES} (program_id, pool_id, batch_id, code, usage, source, status, "
        "redemption_count, redeemed_order_id) FROM STDIN"
    )
    written = 0
    with connection.cursor() as cursor:
        checks.before_insert(cursor, pool_id=pool.pk, program_id=program.pk, batch_id=batch.pk)
        try:
            with cursor.cursor.copy(copy_sql) as copy:
                for chunk in rows:
                    # Codes are [A-Z0-9_-] by now: nothing in them needs COPY escaping.
                    copy.write("".join([prefix.format(code) for code in chunk]))
                    written += len(chunk)
        except psycopg_errors.UniqueViolation as error:
            if error.diag.constraint_name == _UNIQUE_PER_PROGRAM:
                raise CodeClash(str(error)) from None
            raise
        checks.after_insert(cursor)
    return written


class ImportStaging:
    """A table of (line, code) of its own that the valid rows of one file land in.

    Staging is not business data: it is written in chunks outside the batch transaction, so
    progress can be committed as it goes, and then one set-based INSERT … SELECT … ON CONFLICT
    DO NOTHING moves the codes into the program inside the batch transaction. PostgreSQL loads
    it with COPY; SQLite with executemany.

    On PostgreSQL it is an UNLOGGED table named for this import, not a TEMPORARY one: the
    chunks are separate transactions, and behind PgBouncer in transaction mode each may run
    on another server connection, where a temporary table of the first would not exist.
    Unlogged, it costs no WAL (and is never copied to a replica). It is dropped when the import
    ends, failed or not; one left by a process that died mid-import is dropped by
    `drop_abandoned` (the periodic codes.process_waiting_uploads task). SQLite keeps a
    temporary table (one connection per process, no pooler).
    """

    PREFIX = "codes_import_staging_"
    ABANDONED_AFTER_SECONDS = 24 * 3600

    def __init__(self):
        self.vendor = connection.vendor
        # The start time in the name says when an abandoned one may go.
        self.table = f"{self.PREFIX}{int(time.time())}_{secrets.token_hex(6)}"

    def create(self):
        kind = "UNLOGGED" if self.vendor == "postgresql" else "TEMPORARY"
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(
                f"CREATE {kind} TABLE {self.table} "
                f"(line bigint NOT NULL, code varchar({CODE_MAX_LENGTH}) NOT NULL)"
            )

    def drop(self):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {self.table}")

    @classmethod
    def drop_abandoned(cls, *, older_than: float | None = None) -> list[str]:
        """Drop the staging tables of imports that started more than `older_than` seconds
        ago (default a day) and are still there: their process died. PostgreSQL only."""
        if connection.vendor != "postgresql":
            return []
        limit = time.time() - (cls.ABANDONED_AFTER_SECONDS if older_than is None else older_than)
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT relname FROM pg_class WHERE relkind = 'r' AND relpersistence = 'u' "
                "AND relname LIKE %s AND relnamespace = current_schema()::regnamespace",
                [cls.PREFIX.replace("_", r"\_") + "%"],
            )
            names = [row[0] for row in cursor.fetchall()]
        dropped = []
        for name in names:
            started = name[len(cls.PREFIX) :].split("_", 1)[0]
            if started.isdigit() and int(started) < limit:
                with transaction.atomic(), connection.cursor() as cursor:
                    cursor.execute(f'DROP TABLE IF EXISTS "{name}"')
                dropped.append(name)
        return dropped

    def write(self, rows):
        with connection.cursor() as cursor:
            if self.vendor == "postgresql":
                # Codes are [A-Z0-9_-] by now: nothing in them needs COPY escaping.
                copy_sql = f"COPY {self.table} (line, code) FROM STDIN"
                with cursor.cursor.copy(copy_sql) as copy:
                    copy.write("".join(f"{line}\t{code}\n" for line, code in rows))
            else:
                cursor.executemany(f"INSERT INTO {self.table} (line, code) VALUES (%s, %s)", rows)

    def counts(self):
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*), count(DISTINCT code) FROM {self.table}")
            return cursor.fetchone()

    def insert_codes(self, *, program, pool, batch, checks: ForeignKeyChecks | None = None):
        """Move the staged codes into the program in file order, skipping existing ones.
        `checks`: how foreign keys are checked (PostgreSQL)."""
        table = PromoCode._meta.db_table
        postgres = self.vendor == "postgresql"
        with connection.cursor() as cursor:
            if postgres:
                # Sort the staged rows in memory rather than spilling to disk.
                cursor.execute("SET LOCAL work_mem = '256MB'")
                checks = checks or ForeignKeyChecks()
                checks.before_insert(
                    cursor, pool_id=pool.pk, program_id=program.pk, batch_id=batch.pk
                )
            # (No finally: a failed INSERT rolls the transaction back, settings with it.)
            cursor.execute(
                f"INSERT INTO {table} (program_id, pool_id, batch_id, code, usage, source, "
                "status, redemption_count, redeemed_order_id) "
                f"SELECT %s, %s, %s, code, %s, %s, %s, 0, '' FROM {self.table} "
                "WHERE 1 = 1 ORDER BY line ON CONFLICT (program_id, code) DO NOTHING",
                [
                    program.pk,
                    pool.pk,
                    batch.pk,
                    batch.usage,
                    CodeSource.POOL,
                    CodeStatus.AVAILABLE,
                ],
            )
            added = cursor.rowcount
            if postgres:
                checks.after_insert(cursor)
            return added

    def duplicate_rows(self, limit):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT line, code FROM (SELECT line, code, row_number() OVER "
                f"(PARTITION BY code ORDER BY line) AS n FROM {self.table}) AS t "
                "WHERE n > 1 ORDER BY line LIMIT %s",
                [limit],
            )
            return cursor.fetchall()

    def existing_rows(self, *, program, batch, limit):
        table = PromoCode._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT min(s.line), s.code FROM {self.table} s JOIN {table} p "
                "ON p.program_id = %s AND p.code = s.code "
                "WHERE p.batch_id IS NULL OR p.batch_id <> %s "
                "GROUP BY s.code ORDER BY 1 LIMIT %s",
                [program.pk, batch.pk, limit],
            )
            return cursor.fetchall()
