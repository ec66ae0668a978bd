"""Every raw SQL statement of the codes app, each with the reason it is SQL.

The claim engine (claim, the holder lock, the holder's state, the capped stock count) runs on every
assignment: these statements are SQL because the ORM cannot say them (FOR UPDATE SKIP LOCKED in
a MATERIALIZED CTE, an advisory lock) or spends more CPU building them than the database spends
running them (bench/assign.py). Their code-state predicates are not written here: they are
compiled by Django from `models.CodeState`, the one definition of each state.

The import's staging table (ImportStaging) is SQL because a million rows go through it: COPY and
one set-based INSERT … SELECT, never a million ORM objects.
"""

from dataclasses import dataclass
from datetime import datetime

from django.db import connection, transaction
from django.db.models import Q

from programs.models import CodeUsage, Program

from .models import CodeShortfall, CodeSource, CodeState, CodeStatus, Pool, PoolKind, PromoCode

CODES = PromoCode._meta.db_table
CODES_QUOTED = f'"{CODES}"'
_STAGING_TABLE = "codes_import_staging"
# Advisory-lock keys of code holders: this namespace in the high bits, the holder's id below.
_HOLDER_LOCK_NAMESPACE = 0x5250_4300_0000_0000

_compiled: dict[tuple[str, str], tuple[str, list]] = {}


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
    available, available_params = state_sql("AVAILABLE")
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
    available, available_params = state_sql("AVAILABLE")
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
        return self.codes_per_advocate if self.code_usage == CodeUsage.SINGLE else 1


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
    assigned, assigned_params = state_sql("ASSIGNED")
    held = (
        f"SELECT COUNT(*) FROM {CODES} c WHERE c.holder_id = %s AND c.pool_id = r.id "
        f"AND {assigned.replace(CODES_QUOTED, 'c')} "
        "AND (p.code_usage <> %s OR c.usage = %s)"
    )
    queued = f"SELECT since FROM {CodeShortfall._meta.db_table} WHERE holder_id = %s"
    sql = (
        "SELECT p.promo_codes_enabled, p.code_usage, p.codes_per_advocate, "
        f"p.low_stock_threshold, r.id, ({held}), ({queued}) "
        f"FROM {Program._meta.db_table} p LEFT JOIN {Pool._meta.db_table} r "
        "ON r.program_id = p.id AND r.kind = %s WHERE p.id = %s"
    )
    single = CodeUsage.SINGLE.value
    params = [holder_id, *assigned_params, single, single, holder_id]
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


def available_at_most(*, pool_id: int, usage: str | None, limit: int) -> int:
    """min(available, limit + 1) of a pool (usage None: any usage).

    SQL: it runs after every claim, and Django's sliced count() costs more CPU than the query
    itself. Walks at most limit + 1 entries of the claim index.
    """
    available, params = state_sql("AVAILABLE")
    sql = f"SELECT COUNT(*) FROM (SELECT 1 FROM {CODES} WHERE pool_id = %s AND {available}"
    params = [pool_id, *params]
    if usage is not None:
        sql += " AND usage = %s"
        params.append(usage)
    sql += " LIMIT %s) AS capped"
    params.append(limit + 1)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


# --- Import staging -----------------------------------------------------------------------------


class ImportStaging:
    """A per-connection temporary table of (line, code) the valid rows of a file land in.

    Staging is not business data: it is written in chunks outside the batch transaction, so
    progress can be committed as it goes, and then one set-based INSERT … SELECT … ON CONFLICT
    DO NOTHING moves the codes into the program inside the batch transaction. PostgreSQL loads
    it with COPY; SQLite with executemany.
    """

    def __init__(self):
        self.vendor = connection.vendor

    def create(self):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {_STAGING_TABLE}")
            cursor.execute(
                f"CREATE TEMPORARY TABLE {_STAGING_TABLE} "
                "(line bigint NOT NULL, code varchar(64) NOT NULL)"
            )

    def drop(self):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {_STAGING_TABLE}")

    def write(self, rows):
        with connection.cursor() as cursor:
            if self.vendor == "postgresql":
                # Codes are [A-Z0-9_-] by now: nothing in them needs COPY escaping.
                copy_sql = f"COPY {_STAGING_TABLE} (line, code) FROM STDIN"
                with cursor.cursor.copy(copy_sql) as copy:
                    copy.write("".join(f"{line}\t{code}\n" for line, code in rows))
            else:
                cursor.executemany(
                    f"INSERT INTO {_STAGING_TABLE} (line, code) VALUES (%s, %s)", rows
                )

    def counts(self):
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*), count(DISTINCT code) FROM {_STAGING_TABLE}")
            return cursor.fetchone()

    def insert_codes(self, *, program, pool, batch):
        """Move the staged codes into the program in file order, skipping existing ones."""
        table = PromoCode._meta.db_table
        postgres = self.vendor == "postgresql"
        with connection.cursor() as cursor:
            if postgres:
                # Sort the staged rows in memory rather than spilling to disk.
                cursor.execute("SET LOCAL work_mem = '256MB'")
                # Check the foreign keys as the rows go in: a million deferred checks queued
                # until COMMIT cost twice the INSERT itself. Django's default (deferred) is put
                # back right after.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            try:
                cursor.execute(
                    f"INSERT INTO {table} (program_id, pool_id, batch_id, code, usage, source, "
                    "status, redemption_count, redeemed_order_id) "
                    f"SELECT %s, %s, %s, code, %s, %s, %s, 0, '' FROM {_STAGING_TABLE} "
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
                return cursor.rowcount
            finally:
                if postgres:
                    cursor.execute("SET CONSTRAINTS ALL DEFERRED")

    def duplicate_rows(self, limit):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT line, code FROM (SELECT line, code, row_number() OVER "
                f"(PARTITION BY code ORDER BY line) AS n FROM {_STAGING_TABLE}) AS t "
                "WHERE n > 1 ORDER BY line LIMIT %s",
                [limit],
            )
            return cursor.fetchall()

    def existing_rows(self, *, program, batch, limit):
        table = PromoCode._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT min(s.line), s.code FROM {_STAGING_TABLE} s JOIN {table} p "
                "ON p.program_id = %s AND p.code = s.code "
                "WHERE p.batch_id IS NULL OR p.batch_id <> %s "
                "GROUP BY s.code ORDER BY 1 LIMIT %s",
                [program.pk, batch.pk, limit],
            )
            return cursor.fetchall()
