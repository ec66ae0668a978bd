"""Every event the services emit reaches each subscribed endpoint once, signed, written in the
transaction of the change (docs/webhooks.md, Events)."""

import json
import threading
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from codes.models import PromoCode
from conversions.services import conversion_record, conversion_reverse
from foundation.events import EVENT_TYPES
from participants.models import Reward
from participants.services import (
    participant_erase,
    participant_upsert,
    rewards_mark_paid,
    rewards_release_due,
)
from programs.models import CodeUsage, RewardKind
from tests.factories import ProgramFactory, stock_pool
from webhooks.models import Delivery, wants_sql
from webhooks.services import endpoint_create

pytestmark = pytest.mark.django_db


def order(program, order_id, code, customer):
    return conversion_record(
        program=program,
        payload={
            "order_id": order_id,
            "promo_code": code,
            "customer_id": customer,
            "customer_email": f"{customer}@example.com",
            "order_subtotal": Decimal("80.00"),
            "currency_code": "EUR",
        },
    )[0]


def held_code(advocate):
    return PromoCode.objects.filter(holder=advocate, status="assigned").order_by("pk").first().code


def test_each_event_arrives_once_per_endpoint_signed(receiver, django_capture_on_commit_callbacks):
    program = ProgramFactory(
        code_usage=CodeUsage.SINGLE,
        codes_per_advocate=1,
        reward_kind=RewardKind.CREDIT,
        reward_amount=Decimal("12.50"),
        reward_currency="EUR",
        low_stock_threshold=2,
    )
    stock_pool(program, 5)
    first = endpoint_create(program=program, url=receiver.url)
    second = endpoint_create(program=program, url=receiver.url + "?second", include_email=True)
    receiver.secrets = [first.secret, second.secret]

    with django_capture_on_commit_callbacks(execute=True):
        advocate, _ = participant_upsert(
            program=program, participant_id="ada", email="ada@example.com"
        )
    with django_capture_on_commit_callbacks(execute=True):
        paid = order(program, "O-1", held_code(advocate), "friend-1")
    with django_capture_on_commit_callbacks(execute=True):
        rewards_mark_paid(rewards=Reward.objects.filter(pk=paid.reward_id))
    with django_capture_on_commit_callbacks(execute=True):
        reversed_ = order(program, "O-2", held_code(advocate), "friend-2")
    with django_capture_on_commit_callbacks(execute=True):
        conversion_reverse(conversion=reversed_, reason="refund")
    # A review period: the reward is pending, then released.
    program.reward_review_days = 1
    program.save()
    with django_capture_on_commit_callbacks(execute=True):
        order(program, "O-3", held_code(advocate), "friend-3")
    with django_capture_on_commit_callbacks(execute=True):
        rewards_release_due(now=timezone.now() + timedelta(days=2))
    # The pool runs dry: low, then empty.
    with django_capture_on_commit_callbacks(execute=True):
        order(program, "O-4", held_code(advocate), "friend-4")
    with django_capture_on_commit_callbacks(execute=True):
        participant_erase(program=program, participant_id="friend-1")

    assert all(item.verified_with for item in receiver.received)
    per_endpoint = {first.secret: [], second.secret: []}
    for item in receiver.received:
        per_endpoint[item.verified_with[0]].append(item)
    for secret, items in per_endpoint.items():
        ids = Counter(item.id for item in items)
        assert max(ids.values()) == 1, f"an event arrived twice at {secret}"
        types = {item.event["type"] for item in items}
        # code.expired is emitted once codes expire (not part of this flow).
        assert types == set(EVENT_TYPES) - {"code.expired"}
    # Both endpoints got the same events under the same ids.
    assert {i.id for i in per_endpoint[first.secret]} == {i.id for i in per_endpoint[second.secret]}
    assert Delivery.objects.exclude(status="delivered").count() == 0

    events = {}
    for item in per_endpoint[first.secret]:
        events.setdefault(item.event["type"], []).append(item.event["data"])
    converted = events["referral.converted"][0]
    assert converted["order_id"] == "O-1" and converted["participant_id"] == "ada"
    assert converted["friend_id"] == "friend-1" and converted["order_subtotal"] == "80.00"
    created = events["reward.created"][0]
    assert (created["amount"], created["currency"], created["status"]) == (
        "12.50",
        "EUR",
        "available",
    )
    assert events["reward.paid"][0]["reward_id"] == paid.reward_id
    assert events["conversion.reversed"][0]["order_id"] == "O-2"
    assert events["reward.cancelled"][0]["status"] == "cancelled"
    assert [e["available"] for e in events["stock.empty"]] == [0]
    assert events["participant.erased"] == [
        {"version": 1, "participant_id": "friend-1", "is_advocate": False}
    ]
    # No personal data without the opt-in; the opted-in endpoint has the advocate's e-mail.
    assert all("email" not in item.event["data"] for item in per_endpoint[first.secret])
    with_email = [item.event for item in per_endpoint[second.secret]]
    redeemed = next(e for e in with_email if e["type"] == "code.redeemed")
    assert redeemed["data"]["email"] == "ada@example.com"


def test_a_rolled_back_change_leaves_no_event(receiver):
    program = ProgramFactory()
    stock_pool(program, 3)
    endpoint_create(program=program, url=receiver.url)
    with pytest.raises(RuntimeError), transaction.atomic():
        participant_upsert(program=program, participant_id="ada")
        assert Delivery.objects.count() >= 1  # written in the transaction
        raise RuntimeError("the change fails")
    assert not Delivery.objects.exists()


def test_without_endpoints_nothing_is_written():
    program = ProgramFactory()
    stock_pool(program, 3)
    participant_upsert(program=program, participant_id="ada")
    assert not Delivery.objects.exists()


def _order_events(order_id):
    """The event types written to the outbox for this order (its code.assigned replacement
    aside)."""
    return {
        delivery.event_type
        for delivery in Delivery.objects.all()
        if f'"order_id":"{order_id}"' in delivery.payload
    }


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_an_endpoint_added_by_another_connection_gets_the_next_order_s_events(receiver, settings):
    """An order of a program without endpoints reads none (its attribution's own statement says
    nobody listens) and writes no delivery; an endpoint added meanwhile on another connection
    (another process, another node) receives the very next order's events."""
    settings.CONVERSIONS_FAST_PATH = True
    program = ProgramFactory(
        code_usage=CodeUsage.SINGLE,
        codes_per_advocate=1,
        reward_kind=RewardKind.CREDIT,
        reward_amount=Decimal("5.00"),
        reward_currency="EUR",
    )
    stock_pool(program, 6)
    advocate, _ = participant_upsert(program=program, participant_id="ada", email="ada@x.com")
    with CaptureQueriesContext(connection) as queries:
        first = order(program, "O-1", held_code(advocate), "friend-1")
    assert first.status == "attributed"
    assert any("conversions_attribute" in q["sql"] for q in queries)
    assert not any("webhooks_endpoint" in q["sql"] for q in queries)
    assert not Delivery.objects.exists()

    added = []
    thread = threading.Thread(
        target=lambda: (
            added.append(endpoint_create(program=program, url=receiver.url)),
            added.append(
                endpoint_create(
                    program=program,
                    url=receiver.url + "?converted",
                    events=["referral.converted"],
                    include_email=True,
                )
            ),
            connections.close_all(),
        )
    )
    thread.start()
    thread.join()
    assert added

    code = held_code(advocate)
    with CaptureQueriesContext(connection) as queries:
        second = order(program, "O-2", code, "friend-2")
    assert second.status == "attributed"
    # The function found the endpoints: the outbox is written without looking them up first.
    assert not any(q["sql"].startswith('SELECT "webhooks_endpoint"') for q in queries)
    assert {"code.redeemed", "referral.converted"} <= _order_events("O-2")
    assert not _order_events("O-1")
    every, converted_only = added
    assert {"code.redeemed", "referral.converted"} <= set(
        Delivery.objects.filter(endpoint=every).values_list("event_type", flat=True)
    )
    # Each endpoint gets the events it subscribed to, with the e-mail only when opted in.
    assert list(
        Delivery.objects.filter(endpoint=converted_only).values_list("event_type", flat=True)
    ) == ["referral.converted"]
    plain = json.loads(
        Delivery.objects.get(endpoint=every, event_type="referral.converted").payload
    )
    with_email = json.loads(Delivery.objects.get(endpoint=converted_only).payload)
    assert "email" not in plain["data"] and with_email["data"]["email"] == "ada@x.com"
    # The payloads name the people as the attribution found them (no row read again).
    assert (plain["data"]["participant_id"], plain["data"]["friend_id"]) == ("ada", "friend-2")
    assert {k: v for k, v in with_email["data"].items() if k != "email"} == plain["data"]


@pytest.mark.postgres
def test_an_endpoint_added_within_the_transaction_gets_its_later_events(receiver, settings):
    """Within one transaction: an order finds nobody listening, an endpoint is added, the next
    order's events are written for it."""
    settings.CONVERSIONS_FAST_PATH = True
    program = ProgramFactory(code_usage=CodeUsage.SINGLE, codes_per_advocate=1)
    stock_pool(program, 6)
    advocate, _ = participant_upsert(program=program, participant_id="ada", email="ada@x.com")
    with transaction.atomic():
        order(program, "O-1", held_code(advocate), "friend-1")
        assert not Delivery.objects.exists()
        endpoint_create(program=program, url=receiver.url)
        order(program, "O-2", held_code(advocate), "friend-2")
        assert {"code.redeemed", "referral.converted"} <= _order_events("O-2")
        assert not _order_events("O-1")


@pytest.mark.postgres
def test_the_sql_form_of_wants_agrees_with_the_endpoint(receiver):
    """webhooks.models.wants_sql (the outbox's INSERT … SELECT) and Endpoint.wants agree."""
    program = ProgramFactory()
    endpoints = [
        endpoint_create(program=program, url=receiver.url),
        endpoint_create(
            program=program,
            url=receiver.url + "?some",
            events=["referral.converted", "reward.paid"],
        ),
    ]
    for endpoint in endpoints:
        for event_type in EVENT_TYPES:
            with connection.cursor() as cursor:
                cursor.execute(
                    f"SELECT {wants_sql('e', '%s')} FROM webhooks_endpoint e WHERE e.id = %s",
                    [event_type, endpoint.pk],
                )
                assert cursor.fetchone()[0] is endpoint.wants(event_type), (endpoint, event_type)
