"""Broken neighbours (docs/architecture.md, Resilience): Redis and the Celery broker at closed
ports.

Redis unreachable: the APIs keep answering (rate limits fail open, logged), every order is
recorded, and what truly needs Redis (keeping an upload for its confirmation) answers 503 saying
so. Broker unreachable: the request answers as usual and the failed enqueue is logged; the
periodic tasks redo the work.
"""

import json
import logging
import socket
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from codes.models import Batch, BatchStatus, StockAlert
from codes.services import batch_upload_enqueue, pool_get_or_create_referral
from codes.tasks import process_waiting_uploads
from config.celery import app as celery_app
from conversions.models import Conversion, ConversionStatus
from participants.models import Reward
from programs.ratelimit import reset_fail_open
from tests.api_helpers import advocate_with_code, client_for, stocked_program, url
from tests.codes import files
from tests.widget.conftest import bearer, token_for

ME = "/api/v1/widget/me"


def closed_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]  # nothing listens once the probe is closed


@pytest.fixture
def redis_down(settings):
    location = f"redis://127.0.0.1:{closed_port()}/0"
    settings.REDIS_URL = location
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": location,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    reset_fail_open()
    yield location
    reset_fail_open()


@pytest.fixture
def broker_down():
    conf = celery_app.conf
    saved = conf.task_always_eager, conf.broker_url
    conf.task_always_eager = False
    conf.broker_url = f"redis://127.0.0.1:{closed_port()}/0"
    _forget_broker_connections()
    yield
    conf.task_always_eager, conf.broker_url = saved
    _forget_broker_connections()


def _forget_broker_connections():
    # Drop the app's references only: the pools live in kombu's registry, keyed by broker URL,
    # and other tests (eager runs acquire a producer too) go on using them.
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


# --- Redis unreachable ------------------------------------------------------------------------


@pytest.mark.django_db
def test_with_redis_down_the_server_api_answers_and_records_every_order(redis_down, caplog):
    program = stocked_program(low_stock_threshold=5)
    _, code = advocate_with_code(program)
    client = client_for(program)
    with caplog.at_level(logging.WARNING, logger="programs.ratelimit"):
        created = client.post(
            url(program, "conversions"),
            {"OrderId": "ORD-1", "OrderPromoCode": code.code},
            format="json",
        )
    assert created.status_code == 201
    assert created.json()["status"] == "attributed"
    assert Conversion.objects.filter(order_id="ORD-1").exists()
    assert "Rate limits are off" in caplog.text  # said once, in the log
    assert client.get(url(program, "stock")).status_code == 200
    assert client.get(url(program, f"codes/{code.code}")).status_code == 200


@pytest.mark.django_db
def test_with_redis_down_the_widget_answers(redis_down):
    from tests.widget.conftest import stock

    program = stocked_program()
    stock(program, 3)
    token = token_for(program, "alice")
    from rest_framework.test import APIClient

    api = APIClient()
    me = api.get(ME, **bearer(token))
    assert me.status_code == 200
    code = me.json()["referral_codes"][0]["code"]
    copied = api.post(f"/api/v1/widget/codes/{code}/copy", **bearer(token))
    assert copied.status_code == 200


@pytest.mark.django_db
def test_with_redis_down_the_upload_preview_says_it_cannot_keep_the_file(
    redis_down, client, django_user_model
):
    client.force_login(django_user_model.objects.create_superuser("root", "r@example.com", "pw"))
    pool = pool_get_or_create_referral(program=stocked_program())
    batches = Batch.objects.count()
    response = client.post(
        reverse("admin:codes_batch_upload"),
        {"pool": pool.pk, "import_file": SimpleUploadedFile("c.txt", files.text(["abc"]))},
    )
    assert response.status_code == 503
    assert "Redis" in response.text and "unreachable" in response.text
    assert Batch.objects.count() == batches


def test_an_api_view_that_needs_redis_answers_503_in_the_error_shape(rf):
    import redis

    from foundation.api_views import ApiJsonErrorsMiddleware

    middleware = ApiJsonErrorsMiddleware(lambda request: None)
    answer = middleware.process_exception(
        rf.get("/api/v1/anything"), redis.ConnectionError("Connection refused")
    )
    assert answer.status_code == 503
    assert json.loads(answer.content)["error"]["code"] == "service_unavailable"
    page = middleware.process_exception(rf.get("/admin/"), redis.ConnectionError("refused"))
    assert page.status_code == 503 and b"Redis" in page.content


# --- Broker unreachable -----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_with_the_broker_down_a_conversion_crossing_the_threshold_still_answers(
    broker_down, caplog
):
    program = stocked_program(codes=6, low_stock_threshold=3, low_stock_recipients="ops@x.com")
    _, code = advocate_with_code(program)  # 3 codes held, 3 left: at the threshold
    StockAlert.objects.all().delete()
    pool = pool_get_or_create_referral(program=program)
    type(pool).objects.filter(pk=pool.pk).update(low_alert_armed=True)
    client = client_for(program)
    with caplog.at_level(logging.ERROR, logger="foundation.tasks"):
        answer = client.post(
            url(program, "conversions"),
            {"OrderId": "ORD-9", "OrderPromoCode": code.code, "CustomerId": "friend-1"},
            format="json",
        )
    assert answer.status_code == 201
    assert answer.json()["status"] == "attributed"
    assert Conversion.objects.get(order_id="ORD-9").status == ConversionStatus.ATTRIBUTED
    assert Reward.objects.filter(advocate__participant_id="adv-1").count() == 1
    alert = StockAlert.objects.get()
    assert alert.sent_at is None  # recorded, its e-mail not sent yet
    assert "Could not enqueue codes.send_stock_alert" in caplog.text


@pytest.mark.django_db(transaction=True)
def test_an_alert_left_unsent_by_a_broker_outage_is_sent_by_the_next_stock_check(
    broker_down, mailoutbox
):
    from django.core.management import call_command

    program = stocked_program(codes=4, low_stock_threshold=3, low_stock_recipients="ops@x.com")
    advocate_with_code(program)  # takes 3: 1 left, alert recorded, its task never enqueued
    alert = StockAlert.objects.get()
    assert alert.sent_at is None
    celery_app.conf.task_always_eager = True  # the broker is back
    # (a just-recorded alert may still be on its way: only one past the grace is sent again)
    StockAlert.objects.filter(pk=alert.pk).update(
        created_at=alert.created_at - timedelta(minutes=6)
    )
    call_command("check_code_stock")
    alert.refresh_from_db()
    assert alert.sent_at is not None
    assert len(mailoutbox) == 1


@pytest.mark.django_db(transaction=True)
def test_an_upload_whose_task_was_never_enqueued_is_imported_by_the_periodic_task(broker_down):
    pool = pool_get_or_create_referral(program=stocked_program())
    batch = batch_upload_enqueue(pool=pool, chunks=[files.text(["abc", "def"])], file_name="c.txt")
    batch.refresh_from_db()
    assert batch.status == BatchStatus.PENDING  # the task could not be sent
    celery_app.conf.task_always_eager = True
    assert process_waiting_uploads() == 0  # not yet: its task may still be on its way
    Batch.objects.filter(pk=batch.pk).update(created_at=batch.created_at - timedelta(minutes=11))
    assert process_waiting_uploads() == 1
    batch.refresh_from_db()
    assert (batch.status, batch.codes_added) == (BatchStatus.COMPLETED, 2)
