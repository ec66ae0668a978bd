"""Where an admin upload waits between its preview and its confirmation (docs/architecture.md,
Resilience).

The preview keeps the file under a random name made here and gives the page a signed reference
(django.core.signing, so it cannot be forged or altered) naming that file, the user, the pool
and the uploaded file's name. The confirm step reads only a file named by a reference it can
verify for the same user: never a name or a path that the request carries. A reference works
once: confirming claims the file and removes it.

Files wait in the shared cache (Redis, in chunks) when REDIS_URL is set, so any web machine
can confirm what another previewed; otherwise in a folder under VAR_DIR (the embedded default,
one machine).
"""

import contextlib
import os
import re
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core import signing
from django.core.cache import cache

from foundation.resilience import CACHE_ERRORS

# How long a previewed file waits for its confirmation.
UPLOAD_TTL_SECONDS = 6 * 3600
_CHUNK_BYTES = 4 * 1024 * 1024
_SALT = "codes.upload_store"
_TOKEN = re.compile(r"[0-9a-f]{32}")
_CACHE_PREFIX = "codes-upload:"


class UploadExpired(LookupError):
    """The reference is not valid for this user, or its file is gone (expired or confirmed)."""


class UploadStoreUnavailable(RuntimeError):
    """The shared store (Redis) cannot be reached: an upload cannot wait for its confirmation."""


@dataclass(frozen=True)
class PendingUpload:
    token: str
    user_id: int
    pool_id: int
    file_name: str
    size: int
    # The codes' column the manager chose at the preview (0-based; None: the header rule's),
    # and how many columns the file's first row has: a choice is checked against it.
    column: int | None = None
    width: int = 0


def _uses_cache():
    return bool(settings.REDIS_URL)


def _folder():
    folder = Path(settings.VAR_DIR) / "uploads"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def upload_keep(*, chunks, user, pool, file_name, width=0):
    """Keep an uploaded file (an iterable of byte chunks); return its signed reference.

    `pool` is None for an upload that is not a code file (the participant import): its
    reference then names no pool, and the code upload's confirm step refuses it. `width`: the
    columns of the file's first row, the columns a manager may choose from."""
    token = secrets.token_hex(16)
    try:
        size = _cache_write(token, chunks) if _uses_cache() else _folder_write(token, chunks)
    except CACHE_ERRORS as exc:
        raise UploadStoreUnavailable(str(exc)) from exc
    return _reference(
        token=token,
        user_id=user.pk,
        pool_id=pool.pk if pool is not None else None,
        file_name=file_name,
        size=size,
        column=None,
        width=width,
    )


def _reference(*, token, user_id, pool_id, file_name, size, column, width):
    payload = {
        "t": token,
        "u": user_id,
        "p": pool_id,
        "f": file_name,
        "s": size,
        "c": column,
        "w": width,
    }
    return signing.dumps(payload, salt=_SALT, compress=True)


class ColumnRefused(ValueError):
    """A chosen column that is not one of the upload's (a tampered form)."""


def upload_choose_column(pending, *, column):
    """A new signed reference to the same waiting file with the codes' column chosen (0-based):
    ColumnRefused unless it is a column of THAT upload's first row."""
    if isinstance(column, bool) or not isinstance(column, int) or not 0 <= column < pending.width:
        raise ColumnRefused(column)
    return _reference(
        token=pending.token,
        user_id=pending.user_id,
        pool_id=pending.pool_id,
        file_name=pending.file_name,
        size=pending.size,
        column=column,
        width=pending.width,
    )


def upload_verify(*, reference, user):
    """The PendingUpload a reference names, if it was issued to `user`; else UploadExpired."""
    try:
        payload = signing.loads(reference, salt=_SALT, max_age=UPLOAD_TTL_SECONDS)
    except signing.BadSignature:
        raise UploadExpired("This upload is not yours or has expired.") from None
    pending = PendingUpload(
        token=payload.get("t", ""),
        user_id=payload.get("u"),
        pool_id=payload.get("p"),
        file_name=payload.get("f", ""),
        size=payload.get("s", 0),
        column=payload.get("c"),
        width=payload.get("w", 0),
    )
    # A signed token is one this module made, but check its form anyway: it names a file.
    if not _TOKEN.fullmatch(pending.token) or pending.user_id != user.pk:
        raise UploadExpired("This upload is not yours or has expired.")
    return pending


def upload_claim_chunks(pending):
    """Take the waiting file of a verified upload (once, at this call): return an iterator of
    its bytes in chunks of a few MB, so a big file is never held whole. The file leaves the
    store as it is read (all of it once the iterator ends or is closed).

    Raises UploadExpired when it is gone (confirmed already, or expired), and
    UploadStoreUnavailable when the shared store cannot be reached, here or while reading.
    """
    try:
        chunks = _cache_claim(pending.token) if _uses_cache() else _folder_claim(pending.token)
    except CACHE_ERRORS as exc:
        raise UploadStoreUnavailable(str(exc)) from exc
    if chunks is None:
        raise UploadExpired("The uploaded file has expired or was already imported.")
    return _store_errors(chunks)


def upload_read_chunks(pending):
    """The waiting file of a verified upload, read again without taking it (a preview with
    another column): an iterator of its chunks. UploadExpired when it is gone."""
    try:
        chunks = _cache_read(pending.token) if _uses_cache() else _folder_read(pending.token)
    except CACHE_ERRORS as exc:
        raise UploadStoreUnavailable(str(exc)) from exc
    if chunks is None:
        raise UploadExpired("The uploaded file has expired or was already imported.")
    return _store_errors(chunks)


def upload_claim(pending):
    """Take the waiting file of a verified upload (once): return its bytes (for small files;
    see upload_claim_chunks)."""
    return b"".join(upload_claim_chunks(pending))


def _store_errors(chunks):
    try:
        yield from chunks
    except CACHE_ERRORS as exc:
        raise UploadStoreUnavailable(str(exc)) from exc
    finally:
        chunks.close()


# The embedded default: a local folder ------------------------------------------------------


def _folder_write(token, chunks):
    folder = _folder()
    _folder_sweep(folder)
    size = 0
    with open(folder / token, "xb") as out:
        for chunk in chunks:
            out.write(chunk)
            size += len(chunk)
    return size


def _folder_claim(token):
    folder = _folder()
    path = folder / token
    claimed = folder / f"{token}.{secrets.token_hex(4)}.claimed"
    try:
        os.rename(path, claimed)  # atomic: of two concurrent confirmations one gets the file
    except FileNotFoundError:
        return None
    if time.time() - claimed.stat().st_mtime > UPLOAD_TTL_SECONDS:
        claimed.unlink()
        return None
    return _file_chunks(claimed)


def _folder_read(token):
    path = _folder() / token
    try:
        file = open(path, "rb")  # noqa: SIM115 (closed by the generator)
    except FileNotFoundError:
        return None
    if time.time() - os.fstat(file.fileno()).st_mtime > UPLOAD_TTL_SECONDS:
        file.close()
        return None

    def chunks():
        with file:
            while chunk := file.read(_CHUNK_BYTES):
                yield chunk

    return chunks()


def _file_chunks(path):
    try:
        with open(path, "rb") as file:
            while chunk := file.read(_CHUNK_BYTES):
                yield chunk
    finally:
        with contextlib.suppress(OSError):
            path.unlink()


def upload_sweep():
    """Remove the files of previews never confirmed, once past their time; return how many.

    Run periodically. Files waiting in the shared cache expire there on their own."""
    if _uses_cache():
        return 0
    return _folder_sweep(_folder())


def _folder_sweep(folder):
    # Previews never confirmed leave their file behind: drop those past their time.
    cutoff = time.time() - UPLOAD_TTL_SECONDS
    removed = 0
    for entry in os.scandir(folder):
        with contextlib.suppress(OSError):
            if entry.is_file() and entry.stat().st_mtime < cutoff:
                os.unlink(entry.path)
                removed += 1
    return removed


# With REDIS_URL: the shared cache, in chunks -------------------------------------------------


def _cache_write(token, chunks):
    key = _CACHE_PREFIX + token
    count = size = 0
    buffer = bytearray()

    def flush():
        nonlocal count
        cache.set(f"{key}:{count}", bytes(buffer), UPLOAD_TTL_SECONDS)
        count += 1
        buffer.clear()

    for chunk in chunks:
        buffer += chunk
        size += len(chunk)
        if len(buffer) >= _CHUNK_BYTES:
            flush()
    if buffer or count == 0:
        flush()
    cache.set(key, count, UPLOAD_TTL_SECONDS)  # last: the file is complete once this exists
    return size


def _cache_claim(token):
    key = _CACHE_PREFIX + token
    count = cache.get(key)
    if not isinstance(count, int) or not cache.delete(key):
        return None  # expired, or another confirmation claimed it first
    return _cache_chunks(key, count)


def _cache_read(token):
    key = _CACHE_PREFIX + token
    count = cache.get(key)
    if not isinstance(count, int):
        return None

    def chunks():
        for i in range(count):
            chunk = cache.get(f"{key}:{i}")
            if chunk is None:
                raise UploadExpired("The uploaded file has expired or was already imported.")
            yield chunk

    return chunks()


def _cache_chunks(key, count):
    parts = [f"{key}:{i}" for i in range(count)]
    try:
        for part in parts:
            chunk = cache.get(part)
            if chunk is None:
                raise UploadExpired("The uploaded file has expired or was already imported.")
            cache.delete(part)
            yield chunk
    finally:
        cache.delete_many(parts)  # what is left of a file read only in part


__all__ = [
    "ColumnRefused",
    "PendingUpload",
    "UploadExpired",
    "UploadStoreUnavailable",
    "upload_choose_column",
    "upload_claim",
    "upload_claim_chunks",
    "upload_keep",
    "upload_read_chunks",
    "upload_sweep",
    "upload_verify",
]
