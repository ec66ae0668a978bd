"""Assignment and alerts under real concurrency, on PostgreSQL (threads with their own
connections), and one low-stock e-mail through a real Celery worker on a real Redis."""

import os
import threading
import time

import pytest
from django.core import mail
from django.db import connection

from codes.models import AlertKind, CodeStatus, Pool, PromoCode, StockAlert
from codes.services import codes_top_up
from programs.models import CodeUsage
from tests.factories import ParticipantFactory, ProgramFactory, stock_pool

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def stock(program, count):
    return stock_pool(program, count, prefix="K", digits=6)


def run_threads(count, target, args_for):
    """Start `count` threads together (a barrier), each closing its own connection at the end."""
    barrier = threading.Barrier(count)
    errors = []

    def body(index):
        try:
            barrier.wait()
            target(*args_for(index))
        except Exception as error:  # surfaced by the caller
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=body, args=(i,)) for i in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_32_threads_bring_many_advocates_to_quota_and_never_share_a_code():
    program = ProgramFactory(
        code_usage=CodeUsage.SINGLE, codes_per_advocate=3, low_stock_threshold=0
    )
    stock(program, 1000)
    advocates = [ParticipantFactory(program=program) for _ in range(320)]
    told = {}  # advocate pk -> codes the service said it assigned

    def work(chunk):
        for advocate in chunk:
            # Each advocate is topped up by two threads at once: idempotent, no double quota.
            told[(advocate.pk, threading.get_ident())] = codes_top_up(holder=advocate)

    errors = run_threads(32, work, lambda i: (advocates[i::32] + advocates[(i + 1) % 32 :: 32],))
    assert errors == []
    rows = PromoCode.objects.filter(status=CodeStatus.ASSIGNED)
    # A code handed to two advocates would show as a claim the table does not hold (the second
    # UPDATE overwrites the first holder): the claims told must match the rows held.
    assert sum(told.values()) == rows.count() == 960
    per_advocate = {}
    for holder_id in rows.values_list("holder_id", flat=True):
        per_advocate[holder_id] = per_advocate.get(holder_id, 0) + 1
    assert sorted(per_advocate) == sorted(a.pk for a in advocates)
    assert set(per_advocate.values()) == {3}
    assert PromoCode.objects.filter(status=CodeStatus.AVAILABLE).count() == 40


def test_16_concurrent_claimers_crossing_the_threshold_send_exactly_one_alert():
    program = ProgramFactory(
        code_usage=CodeUsage.SINGLE,
        codes_per_advocate=1,
        low_stock_threshold=10,
        low_stock_recipients="ops@example.com",
    )
    pool = stock(program, 20)
    advocates = [ParticipantFactory(program=program) for _ in range(16)]
    errors = run_threads(16, lambda a: codes_top_up(holder=a), lambda i: (advocates[i],))
    assert errors == []
    assert PromoCode.objects.filter(status=CodeStatus.AVAILABLE).count() == 4
    alert = StockAlert.objects.get()  # exactly one
    assert alert.kind == AlertKind.LOW and alert.available <= 10 and alert.sent_at is not None
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["ops@example.com"]
    pool.refresh_from_db()
    assert not pool.low_alert_armed and pool.empty_alert_armed


@pytest.mark.redis
def test_a_real_celery_worker_on_redis_sends_the_low_stock_email():
    import redis
    from celery.contrib.testing.worker import start_worker
    from celery.signals import task_postrun

    import codes.tasks  # noqa: F401  (registers the tasks with the app)
    from config.celery import app

    broker = os.environ["REDIS_URL"]
    redis.Redis.from_url(broker).flushdb()  # nothing left over from an earlier run
    program = ProgramFactory(
        name="Worker Program",
        code_usage=CodeUsage.SINGLE,
        codes_per_advocate=2,
        low_stock_threshold=3,
        low_stock_recipients="ops@example.com",
    )
    stock(program, 4)
    advocate = ParticipantFactory(program=program)

    ran_in = []

    def close_connection(**kwargs):  # the worker thread's own connection, after each task
        ran_in.append((kwargs["task"].name, threading.get_ident()))
        connection.close()

    saved = {k: app.conf[k] for k in ("broker_url", "task_always_eager")}
    app.conf.update(broker_url=broker, task_always_eager=False)
    app._pool = None
    app.amqp._producer_pool = None
    task_postrun.connect(close_connection, weak=False)
    try:
        with start_worker(app, perform_ping_check=False, shutdown_timeout=30):
            assert codes_top_up(holder=advocate) == 2  # 2 left: the send goes to Redis
            deadline = time.monotonic() + 60
            while not mail.outbox and time.monotonic() < deadline:
                time.sleep(0.1)
    finally:
        task_postrun.disconnect(close_connection)
        app.conf.update(saved)
        app._pool = None
        app.amqp._producer_pool = None
    # The e-mail task ran in the worker (fed from Redis), not eagerly in this thread.
    assert ran_in and ran_in[0][0] == "codes.send_stock_alert"
    assert threading.get_ident() not in {ident for _, ident in ran_in}
    assert len(mail.outbox) == 1
    message = mail.outbox[0]
    assert "Worker Program" in message.subject and "2 codes left" in message.subject
    alert = StockAlert.objects.get(pool=Pool.objects.get(program=program))
    assert alert.sent_at is not None
