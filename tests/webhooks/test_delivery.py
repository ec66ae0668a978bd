"""Delivery to a real receiver that verifies the Standard Webhooks signature."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone
from standardwebhooks.webhooks import Webhook

from tests.factories import ProgramFactory
from webhooks.models import Delivery, DeliveryStatus, Endpoint
from webhooks.services import (
    GIVE_UP_AFTER,
    deliveries_redeliver,
    deliveries_sweep,
    deliveries_write,
    delivery_attempt,
    endpoint_create,
    endpoint_rotate_secret,
    endpoint_send_test,
)
from webhooks.tasks import deliveries_send

pytestmark = pytest.mark.django_db


def emit_one(program, data=None, email=""):
    return deliveries_write(
        program_id=program.pk,
        events=[("referral.converted", data or {"referral_id": 7, "amount": "10.00"}, email)],
    )


def test_an_event_arrives_signed_with_the_endpoints_secret(
    receiver, django_capture_on_commit_callbacks
):
    program = ProgramFactory()
    endpoint = endpoint_create(program=program, url=receiver.url)
    receiver.secrets = [endpoint.secret]
    with django_capture_on_commit_callbacks(execute=True):
        emit_one(program)
    [got] = receiver.received
    assert got.verified_with == [endpoint.secret]
    assert got.event["type"] == "referral.converted"
    assert got.event["data"] == {"version": 1, "referral_id": 7, "amount": "10.00"}
    assert set(got.event) == {"type", "timestamp", "data"}
    delivery = Delivery.objects.get()
    assert got.id == delivery.event_id
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        DeliveryStatus.DELIVERED,
        1,
        200,
    )
    assert delivery.latency_ms is not None
    assert delivery.next_try_at is None


def test_the_secret_is_standard_webhooks_base64(receiver):
    endpoint = endpoint_create(program=ProgramFactory(), url=receiver.url)
    assert endpoint.secret.startswith("whsec_")
    Webhook(endpoint.secret)  # decodes


def test_email_only_for_an_endpoint_opted_in(receiver, django_capture_on_commit_callbacks):
    program = ProgramFactory()
    plain = endpoint_create(program=program, url=receiver.url)
    opted = endpoint_create(program=program, url=receiver.url + "?opted", include_email=True)
    receiver.secrets = [plain.secret, opted.secret]
    with django_capture_on_commit_callbacks(execute=True):
        emit_one(program, email="ada@example.com")
    by_secret = {item.verified_with[0]: item.event["data"] for item in receiver.received}
    assert "email" not in by_secret[plain.secret]
    assert by_secret[opted.secret]["email"] == "ada@example.com"
    # One event, one id, at both endpoints.
    assert len({item.id for item in receiver.received}) == 1


def test_an_endpoint_receives_only_the_events_it_chose(
    receiver, django_capture_on_commit_callbacks
):
    program = ProgramFactory()
    endpoint = endpoint_create(program=program, url=receiver.url, events=["reward.paid"])
    receiver.secrets = [endpoint.secret]
    with django_capture_on_commit_callbacks(execute=True):
        deliveries_write(
            program_id=program.pk,
            events=[
                ("reward.created", {"reward_id": 1}, ""),
                ("reward.paid", {"reward_id": 1}, ""),
            ],
        )
    assert receiver.types() == ["reward.paid"]


def test_a_disabled_endpoint_or_another_programs_gets_nothing(receiver):
    program = ProgramFactory()
    endpoint_create(program=ProgramFactory(), url=receiver.url)
    disabled = endpoint_create(program=program, url=receiver.url)
    Endpoint.objects.filter(pk=disabled.pk).update(enabled=False)
    assert emit_one(program) == []
    assert not Delivery.objects.exists()


def test_500_then_200_is_delivered_on_the_retry(receiver, django_capture_on_commit_callbacks):
    program = ProgramFactory()
    endpoint = endpoint_create(program=program, url=receiver.url)
    receiver.secrets = [endpoint.secret]
    receiver.statuses = [500]
    with django_capture_on_commit_callbacks(execute=True):
        emit_one(program)
    delivery = Delivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, 500)
    wait = delivery.next_try_at - timezone.now()
    assert timedelta(seconds=10) < wait <= timedelta(seconds=31)
    # Not due yet: the sweep leaves it; once due, the sweep sends it again.
    assert deliveries_sweep() == []
    later = delivery.next_try_at + timedelta(seconds=1)
    assert deliveries_sweep(now=later) == [delivery.pk]
    delivery_attempt(delivery_id=delivery.pk, now=later)
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (
        "delivered",
        2,
        200,
    )
    assert len(receiver.received) == 2
    assert all(item.verified_with for item in receiver.received)
    assert receiver.received[0].id == receiver.received[1].id  # the same event, de-duplicable


def test_back_off_grows_with_jitter_up_to_six_hours():
    from webhooks.services import retry_delay

    for attempts, ceiling in [(1, 30), (2, 60), (5, 480), (20, 6 * 3600)]:
        delays = {retry_delay(attempts).total_seconds() for _ in range(20)}
        assert all(ceiling / 2 <= delay <= ceiling for delay in delays)
        assert len(delays) > 1


def test_a_rotated_secret_verifies_with_old_and_new_for_24_hours(
    receiver, django_capture_on_commit_callbacks
):
    program = ProgramFactory()
    endpoint = endpoint_create(program=program, url=receiver.url)
    old = endpoint.secret
    endpoint = endpoint_rotate_secret(endpoint=endpoint)
    new = endpoint.secret
    assert new != old and new.startswith("whsec_")
    receiver.secrets = [old, new]
    with django_capture_on_commit_callbacks(execute=True):
        emit_one(program)
    assert receiver.received[0].verified_with == [old, new]
    # After 24 hours only the new secret signs.
    Endpoint.objects.filter(pk=endpoint.pk).update(
        previous_secret_expires_at=timezone.now() - timedelta(seconds=1)
    )
    with django_capture_on_commit_callbacks(execute=True):
        emit_one(program)
    assert receiver.received[1].verified_with == [new]


def test_a_test_event_and_redeliver(receiver, django_capture_on_commit_callbacks):
    endpoint = endpoint_create(program=ProgramFactory(), url=receiver.url)
    receiver.secrets = [endpoint.secret]
    with django_capture_on_commit_callbacks(execute=True):
        delivery = endpoint_send_test(endpoint=endpoint)
    assert receiver.types() == ["webhook.test"]
    with django_capture_on_commit_callbacks(execute=True):
        deliveries_redeliver(deliveries=Delivery.objects.filter(pk=delivery.pk))
    assert receiver.types() == ["webhook.test", "webhook.test"]
    assert receiver.received[0].id == receiver.received[1].id


def test_given_up_after_three_days_disabled_and_one_email(
    receiver, django_capture_on_commit_callbacks
):
    program = ProgramFactory(low_stock_recipients="ops@example.com")
    endpoint = endpoint_create(program=program, url=receiver.url)
    receiver.statuses = [500] * 10
    ids = emit_one(program) + emit_one(program)
    start = timezone.now()
    for delivery_id in ids:
        delivery_attempt(delivery_id=delivery_id, now=start)
    endpoint.refresh_from_db()
    assert endpoint.failing_since is not None and endpoint.enabled
    assert not mail.outbox
    # Three days on, still failing: the deliveries are given up on, the endpoint disabled, and
    # the recipients told once.
    later = start + GIVE_UP_AFTER + timedelta(minutes=1)
    Endpoint.objects.filter(pk=endpoint.pk).update(failing_since=start)
    Delivery.objects.filter(pk__in=ids).update(next_try_at=later, created_at=start)
    with django_capture_on_commit_callbacks(execute=True):
        for delivery_id in ids:
            delivery_attempt(delivery_id=delivery_id, now=later)
    # The first failure disabled the endpoint; the sweep gives up on what it still held.
    assert deliveries_sweep(now=later) == []
    statuses = set(Delivery.objects.values_list("status", flat=True))
    assert statuses == {"failed"}
    endpoint.refresh_from_db()
    assert not endpoint.enabled
    assert "failed since" in endpoint.disabled_reason
    assert len(mail.outbox) == 1
    assert mail.outbox[0].to == ["ops@example.com"]
    assert "disabled" in mail.outbox[0].subject
    # A disabled endpoint gets no new events.
    assert emit_one(program) == []


def test_lost_sends_are_swept_when_the_broker_returns(receiver):
    """The on-commit send never ran (broker down): the rows wait in the outbox and the beat's
    sweep delivers them."""
    program = ProgramFactory()
    endpoint = endpoint_create(program=program, url=receiver.url)
    receiver.secrets = [endpoint.secret]
    ids = emit_one(program)  # no on-commit callbacks run here
    assert receiver.received == []
    assert deliveries_sweep() == ids
    deliveries_send(ids)
    assert len(receiver.verified()) == 1
    assert deliveries_sweep() == []


def test_with_the_broker_down_the_event_is_delivered_once_it_returns(
    broker_down, receiver, django_capture_on_commit_callbacks, caplog
):
    from config.celery import app as celery_app
    from webhooks.tasks import deliveries_sweep as sweep_task

    program = ProgramFactory()
    endpoint = endpoint_create(program=program, url=receiver.url)
    receiver.secrets = [endpoint.secret]
    with django_capture_on_commit_callbacks(execute=True):
        emit_one(program)  # the send after commit cannot reach the broker: logged, not raised
    assert "Could not enqueue webhooks.deliveries_send" in caplog.text
    assert receiver.received == []
    assert Delivery.objects.get().status == "pending"
    celery_app.conf.task_always_eager = True  # the broker is back: beat's sweep runs
    assert sweep_task() == 1
    assert len(receiver.verified()) == 1
    assert Delivery.objects.get().status == "delivered"


def test_the_log_keeps_30_days():
    from webhooks.tasks import deliveries_prune

    program = ProgramFactory()
    endpoint_create(program=program, url="http://127.0.0.1:9/hook")
    old, recent, waiting = emit_one(program) + emit_one(program) + emit_one(program)
    long_ago = timezone.now() - timedelta(days=31)
    Delivery.objects.filter(pk=old).update(
        status="delivered", next_try_at=None, created_at=long_ago
    )
    Delivery.objects.filter(pk=recent).update(status="failed", next_try_at=None)
    Delivery.objects.filter(pk=waiting).update(created_at=long_ago)  # pending: kept till failed
    assert deliveries_prune() == 1
    assert set(Delivery.objects.values_list("pk", flat=True)) == {recent, waiting}
