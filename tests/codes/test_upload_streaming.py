"""Confirming a big admin upload streams the file from the upload store into the batch's kept
pieces, and the background import reads it back from them: no process holds the file whole.
Runs on the local folder store (SQLite pass) and on Redis (PostgreSQL pass)."""

import math
import tracemalloc
from pathlib import Path

import pytest
from django.conf import settings
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

import codes.services.batches as batches
import codes.upload_store as store
from codes.models import Batch, BatchStatus, BatchUploadPart, PromoCode
from codes.services import pool_get_or_create_referral
from tests.codes import files
from tests.factories import ProgramFactory, UserFactory

pytestmark = pytest.mark.django_db
UPLOAD = reverse("admin:codes_batch_upload")
MB = 1024 * 1024


@pytest.fixture
def pool():
    return pool_get_or_create_referral(program=ProgramFactory(slug="shop"))


@pytest.fixture
def admin_client(client, django_user_model):
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.com", "pw"))
    return client


def preview(client, pool, name, data):
    response = client.post(UPLOAD, {"pool": pool.pk, "import_file": SimpleUploadedFile(name, data)})
    assert response.status_code == 200, response.context["form"].errors
    return response.context["confirm_form"].initial["upload"]


def confirm(client, reference):
    return client.post(UPLOAD, {"upload": reference, "confirm": "yes"})


def nothing_left_in_the_store(token):
    if settings.REDIS_URL:
        return cache.get(f"codes-upload:{token}") is None and not cache.get_many(
            [f"codes-upload:{token}:{i}" for i in range(100)]
        )
    return not any(Path(settings.VAR_DIR, "uploads").glob(f"{token}*"))


def test_a_claimed_upload_is_read_in_chunks_once_and_leaves_the_store(pool, monkeypatch):
    monkeypatch.setattr(store, "_CHUNK_BYTES", 64 * 1024)
    user = UserFactory()
    data = files.text(["code", *(f"S{i:07d}" for i in range(100_000))])  # ~ 900 KB
    reference = store.upload_keep(
        chunks=(data[i : i + 10_000] for i in range(0, len(data), 10_000)),
        user=user,
        pool=pool,
        file_name="s.csv",
    )
    pending = store.upload_verify(reference=reference, user=user)
    chunks = store.upload_claim_chunks(pending)
    with pytest.raises(store.UploadExpired):  # claimed at the call, before any is read
        store.upload_claim_chunks(pending)
    pieces = list(chunks)
    assert b"".join(pieces) == data
    assert len(pieces) >= 10 and max(len(p) for p in pieces) < 2 * 64 * 1024
    assert nothing_left_in_the_store(pending.token)


def test_a_big_upload_is_kept_in_pieces_then_imported_from_them_and_they_go(
    admin_client, pool, settings, monkeypatch, django_capture_on_commit_callbacks
):
    settings.CODES_UPLOAD_ASYNC_BYTES = 10
    monkeypatch.setattr(batches, "UPLOAD_PART_BYTES", 50_000)
    codes = [f"X{i:06d}" for i in range(30_000)]
    data = files.xlsx([("Code",), *((c,) for c in codes)])  # its reader seeks across pieces
    reference = preview(admin_client, pool, "big.xlsx", data)
    with django_capture_on_commit_callbacks() as callbacks:
        done = confirm(admin_client, reference)
    batch = Batch.objects.get()
    assert batch.status == BatchStatus.PENDING
    pieces = BatchUploadPart.objects.filter(batch=batch).order_by("index")
    assert [p.index for p in pieces] == list(range(math.ceil(len(data) / 50_000)))
    assert b"".join(bytes(p.data) for p in pieces) == data
    for callback in callbacks:  # the worker's turn
        callback()
    batch.refresh_from_db()
    assert (batch.status, batch.codes_added) == (BatchStatus.COMPLETED, 30_000)
    assert sorted(PromoCode.objects.values_list("code", flat=True)) == codes
    assert not BatchUploadPart.objects.exists()
    assert admin_client.get(done.url).status_code == 200


def confirm_peak(client, pool, megabytes):
    """What confirming a CSV of this size allocates at its peak (the import not included)."""
    data = files.text(["code", *(f"B{i:09d}" for i in range(megabytes * MB // 11))])
    reference = preview(client, pool, f"{megabytes}.csv", data)
    del data
    with django_capture_on_commit_callbacks_of(client):
        tracemalloc.start()
        try:
            confirm(client, reference)
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()


def django_capture_on_commit_callbacks_of(client):
    from django.test import TestCase

    return TestCase.captureOnCommitCallbacks()  # the import is the worker's: not run here


def test_the_confirm_step_never_holds_a_big_file_whole(admin_client, pool, settings):
    """The confirming request's memory does not grow with the file: it holds a few pieces at
    a time (it used to hold the file several times over)."""
    settings.CODES_UPLOAD_ASYNC_BYTES = MB
    small = confirm_peak(admin_client, pool, 12)
    big = confirm_peak(admin_client, pool, 36)
    assert Batch.objects.count() == 2
    assert BatchUploadPart.objects.count() >= 12 + 36  # kept in pieces of a MB
    assert big < 36 * MB and big < 1.25 * small + 2 * MB, (small / MB, big / MB)
