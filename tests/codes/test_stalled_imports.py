"""A background import whose worker dies: its batch is taken again by the periodic task and
imported exactly once, or failed with a reason the manager sees; its kept file goes either way.
The last test kills a real Celery worker's pool process mid-import (PostgreSQL and Redis)."""

import os
import signal
import subprocess
import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

import codes.services.batches as batches
from codes.models import Batch, BatchStatus, BatchUploadPart, PromoCode
from codes.services import batch_process_upload, batch_upload_enqueue, pool_get_or_create_referral
from codes.services.batches import UPLOAD_ATTEMPTS_MAX
from codes.tasks import STALLED_UPLOAD_GRACE, process_waiting_uploads
from tests.codes import files
from tests.config.processes import LineReader, clean_env, start
from tests.factories import ProgramFactory

CODES = [f"K{i:07d}" for i in range(300)]


@pytest.fixture
def pool():
    return pool_get_or_create_referral(program=ProgramFactory(slug="shop"))


def kept_batch(pool, codes=CODES):
    """An upload batch waiting in the background (its task not run: the test plays the worker)."""
    return batch_upload_enqueue(pool=pool, chunks=[files.text(["code", *codes])], file_name="c.csv")


def taken_then_abandoned(batch, *, minutes_ago):
    """What a worker killed mid-import leaves: the batch taken, its heartbeat minutes old."""
    Batch.objects.filter(pk=batch.pk).update(
        status=BatchStatus.PROCESSING,
        attempts=1,
        progress_rows=100,
        heartbeat_at=timezone.now() - timedelta(minutes=minutes_ago),
    )


def has_kept_file(batch):
    return BatchUploadPart.objects.filter(batch=batch).exists()


@pytest.mark.django_db
def test_a_batch_whose_worker_died_is_imported_again_by_the_periodic_task(pool):
    batch = kept_batch(pool)
    taken_then_abandoned(batch, minutes_ago=1)
    assert process_waiting_uploads() == 0  # a heartbeat a minute old: its worker may be busy
    batch.refresh_from_db()
    assert (batch.status, batch.attempts) == (BatchStatus.PROCESSING, 1)

    taken_then_abandoned(batch, minutes_ago=STALLED_UPLOAD_GRACE.seconds // 60 + 1)
    assert process_waiting_uploads() == 1
    batch.refresh_from_db()
    assert (batch.status, batch.codes_added, batch.attempts) == (BatchStatus.COMPLETED, 300, 2)
    assert sorted(PromoCode.objects.values_list("code", flat=True)) == CODES
    assert not has_kept_file(batch)
    assert process_waiting_uploads() == 0  # done: never imported a second time


@pytest.mark.django_db
def test_a_batch_that_keeps_killing_its_worker_fails_with_a_reason_shown_to_the_manager(
    pool, admin_client
):
    batch = kept_batch(pool)
    taken_then_abandoned(batch, minutes_ago=10)
    Batch.objects.filter(pk=batch.pk).update(attempts=UPLOAD_ATTEMPTS_MAX)
    assert process_waiting_uploads() == 1
    batch.refresh_from_db()
    assert batch.status == BatchStatus.FAILED
    assert f"stopped {UPLOAD_ATTEMPTS_MAX} times" in batch.failure_reason
    assert not has_kept_file(batch) and not PromoCode.objects.exists()
    page = admin_client.get(reverse("admin:codes_batch_change", args=[batch.pk]))
    assert "Failed: no codes were added." in page.text
    assert f"The import stopped {UPLOAD_ATTEMPTS_MAX} times before finishing" in page.text
    assert 'http-equiv="refresh"' not in page.text


@pytest.mark.django_db
def test_a_worker_that_was_only_slow_stops_once_another_took_its_batch_over(pool, monkeypatch):
    """The first worker stalls past the grace; the periodic task takes the batch over; the
    first one, waking, finds its attempt is no longer the batch's and writes nothing."""
    monkeypatch.setattr(batches, "STAGING_CHUNK_ROWS", 100)
    batch = kept_batch(pool)
    read_rows = batches.read_rows
    taken_over = []

    def stalls_after_the_first_chunk(stream, fmt, **reading):
        for number, row in enumerate(read_rows(stream, fmt, **reading), 1):
            if number == 150 and not taken_over:  # the first worker, asleep mid-import
                taken_over.append(True)
                Batch.objects.filter(pk=batch.pk).update(
                    heartbeat_at=timezone.now() - STALLED_UPLOAD_GRACE - timedelta(seconds=1)
                )
                assert process_waiting_uploads() == 1  # the second worker does it all
            yield row

    monkeypatch.setattr(batches, "read_rows", stalls_after_the_first_chunk)
    assert batch_process_upload(batch_id=batch.pk) is None  # the first worker gives up
    batch.refresh_from_db()
    assert (batch.status, batch.codes_added, batch.attempts) == (BatchStatus.COMPLETED, 300, 2)
    assert PromoCode.objects.count() == 300
    assert not has_kept_file(batch)


@pytest.mark.django_db
def test_a_waiting_or_finished_batch_is_not_taken_as_stalled(pool):
    waiting = kept_batch(pool)
    done = kept_batch(pool, ["OTHER"])
    batch_process_upload(batch_id=done.pk)
    old = timezone.now() - timedelta(hours=1)
    Batch.objects.update(heartbeat_at=old)
    Batch.objects.filter(pk=waiting.pk).update(created_at=timezone.now())
    assert process_waiting_uploads() == 0
    waiting.refresh_from_db()
    assert (waiting.status, waiting.attempts) == (BatchStatus.PENDING, 0)


# A real worker killed mid-import -----------------------------------------------------------


def pool_processes(worker_pid):
    """The pids of a prefork worker's pool processes (its children)."""
    children = set()
    for task in Path(f"/proc/{worker_pid}/task").iterdir():
        children.update(int(pid) for pid in (task / "children").read_text().split())
    return children


def wait_for(predicate, what, seconds=120):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def tasks_sent_to_redis():
    """Tasks go to Redis (as in production), not run eagerly in this process."""
    from config.celery import app

    saved = {k: app.conf[k] for k in ("broker_url", "task_always_eager")}
    app.conf.update(broker_url=os.environ["REDIS_URL"], task_always_eager=False)
    app._pool = None
    app.amqp._producer_pool = None
    yield app
    app.conf.update(saved)
    app._pool = None
    app.amqp._producer_pool = None


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_killing_a_real_workers_pool_process_mid_import_then_the_periodic_task_finishes_it(
    tmp_path, pool, tasks_sent_to_redis
):
    import redis

    broker = os.environ["REDIS_URL"]
    redis.Redis.from_url(broker).flushdb()  # no task left by an earlier test
    db = connection.settings_dict
    env = clean_env(
        tmp_path,
        DATABASE_URL=f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        REDIS_URL=broker,
        CELERY_BROKER_URL=broker,
    )
    count = 600_000
    worker = start("celery -A config worker -Q imports -c 1 --loglevel INFO", env)
    log = LineReader(worker.stderr)
    try:
        log.wait_for(lambda line: " ready." in line, seconds=120)
        # The admin's background path: the file kept on the batch, its task sent to Redis.
        batch = kept_batch(pool, [f"Q{i:08d}" for i in range(count)])
        wait_for(
            lambda: Batch.objects.filter(pk=batch.pk, progress_rows__gt=0).exists(),
            "the worker to start importing",
        )
        (child,) = pool_processes(worker.pid)
        os.kill(child, signal.SIGKILL)
        log.wait_for(lambda line: "WorkerLostError" in line or "signal 9" in line)
        time.sleep(2)
        batch.refresh_from_db()
        assert batch.status == BatchStatus.PROCESSING  # where it stayed for ever, before
        assert batch.attempts == 1 and not PromoCode.objects.exists()

        # Minutes later (the heartbeat aged by hand), the periodic task runs in the worker.
        Batch.objects.filter(pk=batch.pk).update(
            heartbeat_at=timezone.now() - STALLED_UPLOAD_GRACE - timedelta(seconds=1)
        )
        process_waiting_uploads.delay()
        wait_for(
            lambda: Batch.objects.exclude(pk=batch.pk, status=BatchStatus.PROCESSING).exists(),
            "the batch to be imported again",
            seconds=300,
        )
        log.wait_for(lambda line: f"Importing upload batch {batch.pk} again" in line)
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
    batch.refresh_from_db()
    assert batch.status == BatchStatus.COMPLETED, batch.failure_reason
    assert (batch.codes_added, batch.rows_read, batch.attempts) == (count, count, 2)
    assert PromoCode.objects.filter(batch=batch).count() == count
    assert not has_kept_file(batch)
