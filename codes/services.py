"""Writes with business meaning for pools, batches and codes.

Keyword-only arguments, one transaction each.
"""

import io
import secrets
from pathlib import PurePath

from django.db import connection, transaction
from django.utils import timezone

from programs.models import Program

from .models import (
    Batch,
    BatchSource,
    BatchStatus,
    CodeSource,
    CodeStatus,
    Pool,
    PoolKind,
    PromoCode,
)
from .parsing import UnreadableFile, file_format, read_rows

REFERRAL_POOL_NAME = "Referral codes"
# No look-alikes: I, O, 0 and 1 are left out so a code read aloud or off a receipt is typed
# right the first time.
GENERATED_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
DEFAULT_GENERATED_LENGTH = 10
_GENERATE_ROUNDS = 20


class PromoCodesOff(ValueError):
    """The program has referral promo codes turned off."""


class CodeSpaceTooSmall(ValueError):
    """The requested count cannot fit in the codes the prefix and length allow."""


@transaction.atomic
def pool_get_or_create_referral(*, program):
    pool, _ = Pool.objects.get_or_create(
        program=program, kind=PoolKind.REFERRAL, defaults={"name": REFERRAL_POOL_NAME}
    )
    return pool


def _random_code(prefix, length):
    return prefix + "".join(secrets.choice(GENERATED_ALPHABET) for _ in range(length))


@transaction.atomic
def batch_generate(*, pool, count, prefix="", length=DEFAULT_GENERATED_LENGTH, created_by=None):
    """Generate `count` new random codes into `pool` as one batch.

    A clash with an existing code is resolved by insert-and-retry: insert ignoring conflicts on
    the unique index, count what landed, generate the shortfall again. Never check-then-insert,
    which two concurrent generators would both pass.
    """
    program = Program.objects.get(pk=pool.program_id)
    if not program.promo_codes_enabled:
        raise PromoCodesOff(f"Referral promo codes are off for program {program.slug!r}.")
    prefix = (prefix or "").strip().upper()
    if count < 1:
        raise ValueError("Count must be at least 1.")
    if length < 4:
        raise ValueError("Length must be at least 4 random characters.")
    if len(prefix) + length > 64:
        raise ValueError("Prefix and length together must be at most 64 characters.")
    if prefix and not all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in prefix):
        raise ValueError("The prefix may only use A–Z, 0–9, - and _.")
    space = len(GENERATED_ALPHABET) ** length
    taken = PromoCode.objects.filter(program=program, code__startswith=prefix).count()
    # Random draws slow to a crawl near a full space; refuse above half of what is left.
    if count > (space - taken) // 2:
        raise CodeSpaceTooSmall(
            f"{count} codes do not fit: prefix {prefix!r} with {length} random characters "
            f"allows {space:,} codes and {taken:,} exist. Use a longer length."
        )
    batch = Batch.objects.create(
        pool=pool,
        source=BatchSource.GENERATED,
        usage=program.code_usage,
        status=BatchStatus.PROCESSING,
        file_name=f"generated {count} × {prefix}{'?' * length}",
        created_by=created_by,
    )
    added = 0
    for _ in range(_GENERATE_ROUNDS):
        missing = count - added
        if missing == 0:
            break
        fresh = {_random_code(prefix, length) for _ in range(missing)}
        PromoCode.objects.bulk_create(
            [
                PromoCode(program=program, pool=pool, batch=batch, code=c, usage=batch.usage)
                for c in fresh
            ],
            ignore_conflicts=True,
            batch_size=5000,
        )
        added = PromoCode.objects.filter(batch=batch).count()
    else:
        raise CodeSpaceTooSmall("Could not find enough free codes; use a longer length.")
    Batch.objects.filter(pk=batch.pk).update(
        status=BatchStatus.COMPLETED,
        rows_read=count,
        codes_added=added,
        progress_rows=count,
        completed_at=timezone.now(),
    )
    batch.refresh_from_db()
    return batch


# Batches: import, upload and processing (issue #3) ------------------------------------------

# Refused rows kept on a batch (counts are always exact).
BATCH_ERRORS_KEPT = 1000
# Rows staged per statement, and how often progress is written.
STAGING_CHUNK_ROWS = 50_000
_STAGING_TABLE = "codes_import_staging"


def _program_accepting_codes(pool):
    program = Program.objects.get(pk=pool.program_id)
    if not program.promo_codes_enabled:
        raise PromoCodesOff(f"Referral promo codes are off for program {program.slug!r}.")
    return program


class _Staging:
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


def _refusal(line, value, reason):
    return {"line": line, "value": value, "reason": reason}


def batch_import(
    *,
    pool,
    stream,
    file_name,
    source=BatchSource.IMPORT,
    created_by=None,
    batch=None,
    on_progress=None,
):
    """Import a code file (any upload format) into `pool` as one batch; return the batch.

    Rows are read as a stream and validated in Python, then staged (see _Staging); one
    transaction then inserts the new codes and writes the batch with its counts, so a crash or
    database error leaves no codes and no partial batch. A file that cannot be read raises
    UnreadableFile and writes nothing. `batch` is a pending upload batch to fill in (the admin's
    background path); without it a new batch is created. `on_progress(rows)` is called as rows
    are staged.
    """
    program = _program_accepting_codes(pool)
    fmt = file_format(file_name)
    staging = _Staging()
    staging.create()
    try:
        rows_read = invalid = 0
        errors = []
        chunk = []

        def flush():
            with transaction.atomic():
                if chunk:
                    staging.write(chunk)
                if batch is not None:
                    Batch.objects.filter(pk=batch.pk).update(progress_rows=rows_read)
            chunk.clear()
            if on_progress:
                on_progress(rows_read)

        for row in read_rows(stream, fmt):
            rows_read += 1
            if row.code is None:
                invalid += 1
                if len(errors) < BATCH_ERRORS_KEPT:
                    errors.append(_refusal(row.line, row.value, row.reason))
            else:
                chunk.append((row.line, row.code))
            if rows_read % STAGING_CHUNK_ROWS == 0:
                flush()
        flush()
        with transaction.atomic():
            if batch is None:
                batch = Batch.objects.create(
                    pool=pool,
                    source=source,
                    file_name=PurePath(file_name).name[:255],
                    usage=program.code_usage,
                    status=BatchStatus.PROCESSING,
                    created_by=created_by,
                )
            valid, distinct = staging.counts()
            added = staging.insert_codes(program=program, pool=pool, batch=batch)
            duplicates = valid - distinct
            already = distinct - added
            if duplicates:
                errors += [
                    _refusal(line, code, "duplicate within the file")
                    for line, code in staging.duplicate_rows(BATCH_ERRORS_KEPT)
                ]
            if already:
                errors += [
                    _refusal(line, code, "already in the program")
                    for line, code in staging.existing_rows(
                        program=program, batch=batch, limit=BATCH_ERRORS_KEPT
                    )
                ]
            errors.sort(key=lambda e: e["line"])
            Batch.objects.filter(pk=batch.pk).update(
                status=BatchStatus.COMPLETED,
                rows_read=rows_read,
                codes_added=added,
                duplicates_in_file=duplicates,
                already_in_program=already,
                invalid_rows=invalid,
                errors=errors[:BATCH_ERRORS_KEPT],
                progress_rows=rows_read,
                failure_reason="",
                upload_data=None,
                completed_at=timezone.now(),
            )
    finally:
        staging.drop()
    batch.refresh_from_db()
    return batch


@transaction.atomic
def batch_upload_enqueue(*, pool, data, file_name, created_by=None):
    """Keep an uploaded file on a pending batch and process it in a Celery task after commit.

    For admin uploads too big to import within the request. The file travels in the database
    (Batch.upload_data), so any worker can pick it up; it is cleared once imported.
    """
    from .tasks import batch_process_upload_task

    program = _program_accepting_codes(pool)
    file_format(file_name)
    batch = Batch.objects.create(
        pool=pool,
        source=BatchSource.UPLOAD,
        file_name=PurePath(file_name).name[:255],
        usage=program.code_usage,
        status=BatchStatus.PENDING,
        created_by=created_by,
        upload_data=data,
    )
    transaction.on_commit(lambda: batch_process_upload_task.delay(batch.pk))
    return batch


def batch_process_upload(*, batch_id):
    """Import a pending upload batch (the Celery task's body); mark it failed if it cannot be.

    The import itself is one transaction (see batch_import); a failure leaves the batch row
    with status failed and its reason, and no codes.
    """
    claimed = Batch.objects.filter(pk=batch_id, status=BatchStatus.PENDING).update(
        status=BatchStatus.PROCESSING
    )
    if not claimed:
        return None  # already processed (a redelivered task), or gone
    batch = Batch.objects.select_related("pool").get(pk=batch_id)
    try:
        return batch_import(
            pool=batch.pool,
            stream=io.BytesIO(bytes(batch.upload_data or b"")),
            file_name=batch.file_name,
            batch=batch,
        )
    except (UnreadableFile, PromoCodesOff) as exc:
        _batch_fail(batch, str(exc))
    except Exception:
        _batch_fail(batch, "The import failed with an internal error; no codes were added.")
        raise
    batch.refresh_from_db()
    return batch


def _batch_fail(batch, reason):
    Batch.objects.filter(pk=batch.pk).update(
        status=BatchStatus.FAILED,
        failure_reason=reason,
        upload_data=None,
        completed_at=timezone.now(),
    )
