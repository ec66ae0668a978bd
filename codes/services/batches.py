"""Batches: importing a code file (admin upload or import_codes) into a pool as one batch."""

import logging
import tempfile
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta
from pathlib import PurePath
from typing import BinaryIO

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone, translation
from django.utils.translation import gettext_noop

from audit.services import audit_record
from foundation.tasks import enqueue_on_commit

from ..errors import PromoCodesOff
from ..models import Batch, BatchSource, BatchStatus, BatchUploadPart, Pool, PromoCode
from ..parsing import UnreadableFile, file_format, read_rows
from ..sql import CodeClash, ForeignKeyChecks, ImportStaging, copy_codes_into_table
from .pools import program_accepting_codes
from .stock import pool_batch_landed

log = logging.getLogger(__name__)

# Refused rows kept on a batch (counts are always exact).
BATCH_ERRORS_KEPT = 1000
# Rows staged per statement, and how often progress (and a background import's heartbeat) is
# written.
STAGING_CHUNK_ROWS = 50_000
# A background upload whose worker stopped this many times is failed rather than tried again (a
# file that kills its worker would otherwise be retried for ever).
UPLOAD_ATTEMPTS_MAX = 3


class LeaseLost(Exception):
    """Another worker took this batch over (this one was thought gone): stop, write nothing."""


def _lease(batch):
    """The batch row, while `batch` (as this worker took it) still holds it."""
    return Batch.objects.filter(pk=batch.pk, status=BatchStatus.PROCESSING, attempts=batch.attempts)


class InvalidValidity(ValueError):
    """A batch's validity that cannot be: the message says why."""


def validity_moment(text: str, *, end_of_day: bool = False) -> datetime:
    """A validity date from a person: ISO 8601, a date ("2026-12-31") or a date and time (no
    zone: the site's). A bare date starts at midnight, or with `end_of_day` (an expiry) ends at
    the next midnight, so "until 2026-12-31" includes that day. ValueError naming the text."""
    text = (text or "").strip()
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise InvalidValidity(
            f"{text!r} is not a date: use ISO 8601, e.g. 2026-12-31 or 2026-12-31T18:00."
        ) from None
    bare_date = "T" not in text.upper() and " " not in text
    if bare_date and end_of_day:
        moment += timedelta(days=1)
    if timezone.is_naive(moment):
        moment = timezone.make_aware(moment)
    return moment


def validity_checked(*, valid_from: datetime | None, expires_at: datetime | None) -> dict:
    """A batch's validity as the fields to store; InvalidValidity when it would end before it
    begins."""
    if valid_from is not None and expires_at is not None and expires_at <= valid_from:
        raise InvalidValidity(
            f"The codes would expire ({expires_at:%Y-%m-%d %H:%M}) before they become valid "
            f"({valid_from:%Y-%m-%d %H:%M})."
        )
    return {"valid_from": valid_from, "expires_at": expires_at}


# Codes given their own expiry per UPDATE (a file's expiry column).
OWN_EXPIRY_SLICE = 5000


def batch_validity_apply(batch: Batch) -> None:
    """Give the batch's codes the batch's validity (inside the transaction landing them)."""
    validity = {
        name: getattr(batch, name)
        for name in ("valid_from", "expires_at")
        if getattr(batch, name) is not None
    }
    if validity:
        PromoCode.objects.filter(batch=batch).update(**validity)


def _refusal(line, value, reason):
    """A refused row as its batch keeps it: stored text, in English whoever imported the file
    (a row's reason is translated when read: the preview reads it in the manager's language)."""
    with translation.override("en"):
        return {"line": line, "value": value, "reason": str(reason)}


def batch_import(
    *,
    pool: Pool,
    stream: BinaryIO,
    file_name: str,
    source: str = BatchSource.IMPORT,
    created_by=None,
    batch: Batch | None = None,
    on_progress: Callable[[int], None] | None = None,
    on_method: Callable[[str], None] | None = None,
    valid_from: datetime | None = None,
    expires_at: datetime | None = None,
    column: int | str | None = None,
    no_header: bool = False,
) -> Batch:
    """Import a code file (any upload format) into `pool` as one batch; return the batch.

    Rows are read as a stream and validated in Python. On PostgreSQL the codes are first
    COPied straight into the codes table inside the batch transaction (sql.copy_codes_into_table);
    if a code clashes (already in the program, or twice in the file) that is undone and the file
    is read again through the staging table (sql.ImportStaging), which sorts out which rows
    clash. Either way one transaction inserts the new codes and writes the batch with its
    counts, so a crash or database error leaves no codes and no partial batch. A file that
    cannot be read raises UnreadableFile and writes nothing. `batch` is a pending upload batch
    to fill in (the admin's background path, whose progress is watched while staging commits
    it); without it a new batch is created. `on_progress(rows)` is called as rows are read;
    `on_method(text)` is told how the codes were loaded. `valid_from` / `expires_at` give every
    code of the batch its validity, in the transaction that lands them (never claimable
    before). `column` (0-based, or a header cell's name) and `no_header` choose where the codes
    are (parsing.read_rows); a platform export's skipped rows are counted on `batch.skipped`.
    """
    if batch is not None and column is None:
        column = batch.code_column
    reading = {"column": column, "no_header": no_header}
    validity = validity_checked(valid_from=valid_from, expires_at=expires_at)
    program = program_accepting_codes(pool)
    fmt = file_format(file_name)
    checks = ForeignKeyChecks() if connection.vendor == "postgresql" else None
    if checks is not None and batch is None:
        start = stream.tell()
        try:
            batch = _import_straight(
                program=program,
                pool=pool,
                stream=stream,
                fmt=fmt,
                file_name=file_name,
                source=source,
                created_by=created_by,
                validity=validity,
                on_progress=on_progress,
                checks=checks,
                reading=reading,
            )
        except CodeClash:
            stream.seek(start)
        else:
            if on_method:
                on_method(f"COPY straight into the codes table, {checks.describe()}")
            return batch
    batch = _import_staged(
        program=program,
        pool=pool,
        stream=stream,
        fmt=fmt,
        file_name=file_name,
        source=source,
        created_by=created_by,
        validity=validity,
        batch=batch,
        on_progress=on_progress,
        checks=checks,
        reading=reading,
    )
    if on_method:
        method = "through a staging table (some codes clash)"
        on_method(method + (f", {checks.describe()}" if checks else ""))
    return batch


def _import_straight(
    *,
    program,
    pool,
    stream,
    fmt,
    file_name,
    source,
    created_by,
    validity,
    on_progress,
    checks,
    reading,
) -> Batch:
    """The batch and its codes in one transaction, COPY straight into the codes table; raises
    CodeClash (nothing written) when a code is already in the program or twice in the file."""
    counts = {"rows_read": 0, "invalid_rows": 0}
    errors = []
    own_expiries: dict = {}
    layout: dict = {}

    def chunks():
        chunk = []
        for row in read_rows(stream, fmt, layout=layout, **reading):
            counts["rows_read"] += 1
            if row.code is None:
                counts["invalid_rows"] += 1
                if len(errors) < BATCH_ERRORS_KEPT:
                    errors.append(_refusal(row.line, row.value, row.reason))
            else:
                chunk.append(row.code)
                if row.expires_at is not None:
                    own_expiries.setdefault(row.code, row.expires_at)  # the first row wins
            if counts["rows_read"] % STAGING_CHUNK_ROWS == 0:
                yield chunk
                chunk = []
                if on_progress:
                    on_progress(counts["rows_read"])
        yield chunk
        if on_progress:
            on_progress(counts["rows_read"])

    with transaction.atomic():
        batch = _batch_create(
            pool=pool,
            program=program,
            file_name=file_name,
            source=source,
            created_by=created_by,
            validity=validity,
        )
        added = copy_codes_into_table(
            rows=chunks(), program=program, pool=pool, batch=batch, checks=checks
        )
        _batch_complete(
            batch,
            pool=pool,
            errors=errors,
            own_expiries=own_expiries,
            counts={
                "rows_read": counts["rows_read"] + _skipped_rows(layout),
                "codes_added": added,
                "duplicates_in_file": 0,
                "already_in_program": 0,
                "invalid_rows": counts["invalid_rows"],
                "skipped": dict(layout.get("skipped", {})),
            },
        )
    batch.refresh_from_db()
    return batch


def _import_staged(
    *,
    program,
    pool,
    stream,
    fmt,
    file_name,
    source,
    created_by,
    validity,
    batch,
    on_progress,
    checks,
    reading,
) -> Batch:
    """Stage the valid rows (committed chunk by chunk, so a watched batch shows progress),
    then one transaction moves the new ones into the program and writes the counts."""
    staging = ImportStaging()
    staging.create()
    try:
        rows_read = invalid = 0
        errors = []
        chunk = []
        own_expiries: dict = {}
        layout: dict = {}

        def flush():
            with transaction.atomic():
                if chunk:
                    staging.write(chunk)
                if batch is not None:
                    held = _lease(batch).update(
                        progress_rows=rows_read, heartbeat_at=timezone.now()
                    )
                    if not held:
                        raise LeaseLost(batch.pk)
            chunk.clear()
            if on_progress:
                on_progress(rows_read)

        for row in read_rows(stream, fmt, layout=layout, **reading):
            rows_read += 1
            if row.code is None:
                invalid += 1
                if len(errors) < BATCH_ERRORS_KEPT:
                    errors.append(_refusal(row.line, row.value, row.reason))
            else:
                chunk.append((row.line, row.code))
                if row.expires_at is not None:
                    own_expiries.setdefault(row.code, row.expires_at)  # the first row wins
            if rows_read % STAGING_CHUNK_ROWS == 0:
                flush()
        flush()
        with transaction.atomic():
            # Locked to the end of the import: no other worker can take the batch over now.
            if batch is not None and not list(_lease(batch).select_for_update().values("pk")):
                raise LeaseLost(batch.pk)
            if batch is None:
                batch = _batch_create(
                    pool=pool,
                    program=program,
                    file_name=file_name,
                    source=source,
                    created_by=created_by,
                    validity=validity,
                )
            valid, distinct = staging.counts()
            added = staging.insert_codes(program=program, pool=pool, batch=batch, checks=checks)
            duplicates = valid - distinct
            already = distinct - added
            if duplicates:
                errors += [
                    _refusal(line, code, gettext_noop("duplicate within the file"))
                    for line, code in staging.duplicate_rows(BATCH_ERRORS_KEPT)
                ]
            if already:
                errors += [
                    _refusal(line, code, gettext_noop("already in the program"))
                    for line, code in staging.existing_rows(
                        program=program, batch=batch, limit=BATCH_ERRORS_KEPT
                    )
                ]
            _batch_complete(
                batch,
                pool=pool,
                errors=errors,
                own_expiries=own_expiries,
                counts={
                    "rows_read": rows_read + _skipped_rows(layout),
                    "codes_added": added,
                    "duplicates_in_file": duplicates,
                    "already_in_program": already,
                    "invalid_rows": invalid,
                    "skipped": dict(layout.get("skipped", {})),
                },
            )
    finally:
        staging.drop()
    batch.refresh_from_db()
    return batch


def _skipped_rows(layout) -> int:
    return sum(layout.get("skipped", {}).values())


def _batch_create(*, pool, program, file_name, source, created_by, validity) -> Batch:
    return Batch.objects.create(
        **validity,
        pool=pool,
        source=source,
        file_name=PurePath(file_name).name[:255],
        usage=program.code_usage,
        status=BatchStatus.PROCESSING,
        created_by=created_by,
    )


def _batch_complete(
    batch: Batch, *, pool: Pool, errors: list, counts: dict, own_expiries: dict | None = None
) -> None:
    """Write the batch's counts and refused rows, and give its codes the batch's validity
    (inside its transaction), then the codes whose file row named an expiry that one
    (`own_expiries`: {code: moment}; it wins over the batch's)."""
    errors.sort(key=lambda e: e["line"])
    batch_validity_apply(batch)
    by_moment: dict = {}
    for code, moment in (own_expiries or {}).items():
        by_moment.setdefault(moment, []).append(code)
    for moment, codes in by_moment.items():
        for start in range(0, len(codes), OWN_EXPIRY_SLICE):
            PromoCode.objects.filter(
                batch=batch, code__in=codes[start : start + OWN_EXPIRY_SLICE]
            ).update(expires_at=moment)
    Batch.objects.filter(pk=batch.pk).update(
        status=BatchStatus.COMPLETED,
        **counts,
        errors=errors[:BATCH_ERRORS_KEPT],
        progress_rows=counts["rows_read"],
        failure_reason="",
        completed_at=timezone.now(),
    )
    BatchUploadPart.objects.filter(batch=batch).delete()  # its kept file, if it had one
    _audit_completed(batch, counts)
    if counts["codes_added"]:
        # After commit: re-arm alerts, top up advocates short of codes.
        pool_batch_landed(pool_id=pool.pk)


# The pieces a background upload is kept in (BatchUploadPart). Small: writing a piece costs
# several times its size in the web process (PostgreSQL's text form of bytea is hex).
UPLOAD_PART_BYTES = 1024 * 1024


@transaction.atomic
def batch_upload_enqueue(
    *,
    pool: Pool,
    chunks: Iterable[bytes],
    file_name: str,
    created_by=None,
    valid_from: datetime | None = None,
    expires_at: datetime | None = None,
    column: int | None = None,
) -> Batch:
    """Keep an uploaded file (an iterable of byte chunks, e.g. upload_claim_chunks) on a
    pending batch and process it in a Celery task after commit.

    For admin uploads too big to import within the request. The file travels in the database
    in pieces of UPLOAD_PART_BYTES (BatchUploadPart), written as the chunks come, so neither
    this process nor the worker holds it whole and any worker can pick it up; the pieces go
    once the batch completes or fails. `column`: the codes' column chosen at the preview,
    kept on the batch for the worker.
    """
    from ..tasks import batch_process_upload_task

    program = program_accepting_codes(pool)
    file_format(file_name)
    batch = Batch.objects.create(
        # Given to the codes when the batch lands (batch_validity_apply).
        **validity_checked(valid_from=valid_from, expires_at=expires_at),
        pool=pool,
        source=BatchSource.UPLOAD,
        file_name=PurePath(file_name).name[:255],
        usage=program.code_usage,
        status=BatchStatus.PENDING,
        created_by=created_by,
        code_column=column,
    )
    index = 0
    buffer = bytearray()

    def keep(piece):
        nonlocal index
        BatchUploadPart.objects.create(batch=batch, index=index, data=bytes(piece))
        index += 1

    for chunk in chunks:
        buffer += chunk
        while len(buffer) >= UPLOAD_PART_BYTES:
            keep(memoryview(buffer)[:UPLOAD_PART_BYTES])
            del buffer[:UPLOAD_PART_BYTES]
    if buffer or index == 0:
        keep(buffer)
    enqueue_on_commit(batch_process_upload_task, batch.pk)
    return batch


def _kept_file(batch):
    """The batch's kept file as a seekable file (the readers of some formats seek), copied
    piece by piece from the database to a nameless temporary file, never whole in memory."""
    file = tempfile.TemporaryFile()  # noqa: SIM115 (the caller closes it)
    try:
        parts = BatchUploadPart.objects.filter(batch=batch).order_by("index")
        for pk in parts.values_list("pk", flat=True):
            file.write(BatchUploadPart.objects.filter(pk=pk).values_list("data", flat=True).get())
        file.seek(0)
    except BaseException:
        file.close()
        raise
    return file


def batch_process_upload(*, batch_id: int) -> Batch | None:
    """Import a pending upload batch (the Celery task's body); mark it failed if it cannot be.

    The import itself is one transaction (see batch_import); a failure leaves the batch row
    with status failed and its reason, and no codes. Taking the batch starts its lease (see
    Batch.attempts): a worker that dies leaves it to batch_resume_stalled.
    """
    claimed = Batch.objects.filter(pk=batch_id, status=BatchStatus.PENDING).update(
        status=BatchStatus.PROCESSING, attempts=F("attempts") + 1, heartbeat_at=timezone.now()
    )
    if not claimed:
        return None  # already processed (a redelivered task), or gone
    return _batch_run(batch_id)


def batch_resume_stalled(*, batch_id: int, stalled_before) -> Batch | None:
    """Take over a background upload whose worker is gone (still processing, no heartbeat
    since `stalled_before`) and import it again from its kept file, or fail it with a reason
    after UPLOAD_ATTEMPTS_MAX attempts. Nothing happens if it is not stalled (any more).

    Exactly once: taking it over bumps its attempt, and the import writes its codes only
    while its attempt is still the batch's (a worker that was only slow stops at its next
    heartbeat); the final transaction locks the batch row, so a batch landing its codes is
    never taken over.
    """
    with transaction.atomic():
        batch = (
            Batch.objects.select_for_update(skip_locked=True)
            .filter(Batch.stalled(stalled_before), pk=batch_id)
            .first()
        )
        if batch is None:
            return None
        if batch.attempts >= UPLOAD_ATTEMPTS_MAX:
            log.error("Upload batch %s stopped %s times; failing it", batch.pk, batch.attempts)
            _batch_fail(
                batch,
                f"The import stopped {batch.attempts} times before finishing (its worker was "
                "stopped or ran out of memory); no codes were added. Upload the file again, "
                "or import it with the import_codes command.",
            )
            batch.refresh_from_db()
            return batch
        Batch.objects.filter(pk=batch.pk).update(
            attempts=F("attempts") + 1, heartbeat_at=timezone.now()
        )
    log.warning(
        "Importing upload batch %s again: its worker stopped (attempt %s of %s)",
        batch_id,
        batch.attempts + 1,
        UPLOAD_ATTEMPTS_MAX,
    )
    return _batch_run(batch_id)


def _batch_run(batch_id):
    """Import a batch this worker has just taken (its lease is the batch's attempt)."""
    batch = Batch.objects.select_related("pool").get(pk=batch_id)
    try:
        with _kept_file(batch) as stream:
            return batch_import(
                pool=batch.pool, stream=stream, file_name=batch.file_name, batch=batch
            )
    except LeaseLost:
        log.warning("Upload batch %s was taken over by another worker; this one stops", batch_id)
        return None
    except (UnreadableFile, PromoCodesOff) as exc:
        _batch_fail(batch, str(exc))
    except Exception:
        _batch_fail(batch, "The import failed with an internal error; no codes were added.")
        raise
    batch.refresh_from_db()
    return batch


def _batch_fail(batch, reason):
    """Fail a batch this worker holds (a lost lease changes nothing); its kept file goes."""
    failed = _lease(batch).update(
        status=BatchStatus.FAILED, failure_reason=reason, completed_at=timezone.now()
    )
    if not failed:
        return
    BatchUploadPart.objects.filter(batch=batch).delete()
    audit_record(
        obj=batch,
        event=gettext_noop("batch failed"),
        changes={
            "status": (BatchStatus.PROCESSING, BatchStatus.FAILED),
            "failure_reason": ("", reason),
        },
    )


def _audit_completed(batch: Batch, counts: dict) -> None:
    """One entry for a landed batch, with its counts (the counts are written by an UPDATE,
    which the automatic trail does not see). One entry per batch, never one per code."""
    changes = {"status": (batch.status, BatchStatus.COMPLETED)}
    changes.update(
        {name: ({} if name == "skipped" else 0, value) for name, value in counts.items()}
    )
    audit_record(obj=batch, event=gettext_noop("batch completed"), changes=changes)


def import_staging_sweep() -> int:
    """Drop the staging tables of imports whose process died mid-import (a day old and still
    there); return how many."""
    dropped = ImportStaging.drop_abandoned()
    for name in dropped:
        log.warning("Dropped the staging table %s of an import that never finished", name)
    return len(dropped)
