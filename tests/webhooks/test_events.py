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

from codes.models import CodeStatus, PromoCode
from codes.services import codes_void, expiry
from codes.tasks import top_up_expired_holders
from conversions.services import conversion_record, conversion_reverse
from foundation.events import EVENT_TYPES
from participants.models import Participant, Reward, RewardStatus
from participants.services import (
    participant_erase,
    participant_upsert,
    reward_review_decide,
    rewards_mark_paid,
    rewards_release_due,
)
from programs.models import CodeUsage, ReviewPolicy, RewardKind
from tests.factories import ProgramFactory, stock_pool
from tests.webhooks.docs_schemas import assert_documented, documented_types
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
    for item in receiver.received:
        assert_documented(item.event)
    per_endpoint = {first.secret: [], second.secret: []}
    for item in receiver.received:
        per_endpoint[item.verified_with[0]].append(item)
    for secret, items in per_endpoint.items():
        ids = Counter(item.id for item in items)
        assert max(ids.values()) == 1, f"an event arrived twice at {secret}"
        types = {item.event["type"] for item in items}
        # The two that need an expiry or a review policy have their own tests below.
        assert types == set(EVENT_TYPES) - {"code.expired", "referral.held_for_review"}
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


def test_every_event_has_its_documented_schema():
    assert documented_types() == {*EVENT_TYPES, "webhook.test"}


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


def by_endpoint(receiver, *endpoints):
    """The events each endpoint received, all signed with its secret and none twice."""
    assert receiver.received and all(item.verified_with for item in receiver.received)
    for item in receiver.received:
        assert_documented(item.event)
    got = {endpoint.secret: [] for endpoint in endpoints}
    for item in receiver.received:
        got[item.verified_with[0]].append(item)
    for items in got.values():
        assert max(Counter(item.id for item in items).values()) == 1
    return [got[endpoint.secret] for endpoint in endpoints]


def test_a_code_that_expires_held_or_available_is_announced_once(
    receiver, django_capture_on_commit_callbacks
):
    program = ProgramFactory(code_usage=CodeUsage.SINGLE, codes_per_advocate=1)
    pool = stock_pool(program, 6)
    # Each change commits (its events sent on commit), as outside a test.
    with django_capture_on_commit_callbacks(execute=True):
        advocate, _ = participant_upsert(program=program, participant_id="ada", email="ada@x.org")
    held = PromoCode.objects.get(holder=advocate)
    available = PromoCode.objects.filter(status=CodeStatus.AVAILABLE).order_by("pk")
    spare, voided, later = available[0], available[1], available[2]
    with django_capture_on_commit_callbacks(execute=True):
        codes_void(program=program, codes=[voided.code], reason="test")
    past = timezone.now() - timedelta(minutes=5)
    PromoCode.objects.filter(pk__in=[held.pk, spare.pk, voided.pk]).update(expires_at=past)
    PromoCode.objects.filter(pk=later.pk).update(expires_at=timezone.now() + timedelta(days=1))
    plain = endpoint_create(program=program, url=receiver.url, events=["code.expired"])
    opted_in = endpoint_create(program=program, url=receiver.url + "?2", include_email=True)
    receiver.secrets = [plain.secret, opted_in.secret]

    with django_capture_on_commit_callbacks(execute=True):
        top_up_expired_holders()
    with django_capture_on_commit_callbacks(execute=True):
        top_up_expired_holders()  # a second run announces nothing again

    for items in by_endpoint(receiver, plain, opted_in):
        expired = sorted(
            (item.event["data"] for item in items if item.event["type"] == "code.expired"),
            key=lambda data: data["code_id"],
        )
        # The held code and the available one; not the voided one, not the one still valid.
        assert expired == [
            {
                "version": 1,
                "code_id": held.pk,
                "code": held.code,
                "program_id": program.pk,
                "pool_id": pool.pk,
                "pool": pool.name,
                "participant_id": "ada",
                "expires_at": past.isoformat(),
            },
            {
                "version": 1,
                "code_id": spare.pk,
                "code": spare.code,
                "program_id": program.pk,
                "pool_id": pool.pk,
                "pool": pool.name,
                "participant_id": None,
                "expires_at": past.isoformat(),
            },
        ]
    # The advocate got a fresh code in the same run (code.assigned, to the endpoint of all).
    types = [item.event["type"] for item in receiver.received]
    assert types.count("code.assigned") == 1
    assert PromoCode.objects.held_by(advocate).exclude(pk=held.pk).count() == 1


def test_expired_codes_past_one_runs_bound_are_announced_by_the_runs_that_follow(
    receiver, django_capture_on_commit_callbacks
):
    program = ProgramFactory()
    stock_pool(program, 25)
    PromoCode.objects.update(expires_at=timezone.now() - timedelta(hours=1))
    endpoint = endpoint_create(program=program, url=receiver.url)
    receiver.secrets = [endpoint.secret]
    # 3 chunks of 4 per run: 25 codes take three runs, the task enqueueing itself after each.
    expiry.EXPIRY_CHUNK, saved_chunk = 4, expiry.EXPIRY_CHUNK
    expiry.EXPIRY_CHUNKS_PER_RUN, saved_chunks = 3, expiry.EXPIRY_CHUNKS_PER_RUN
    try:
        with django_capture_on_commit_callbacks(execute=True):
            top_up_expired_holders()
    finally:
        expiry.EXPIRY_CHUNK, expiry.EXPIRY_CHUNKS_PER_RUN = saved_chunk, saved_chunks
    (items,) = by_endpoint(receiver, endpoint)
    codes = [item.event["data"]["code"] for item in items]
    assert sorted(codes) == sorted(PromoCode.objects.values_list("code", flat=True))
    assert not PromoCode.objects.filter(expired_notified_at__isnull=True).exists()


def path(request):
    """The attribution path of a test: the database function needs PostgreSQL."""
    if request.param == "database" and connection.vendor != "postgresql":
        pytest.skip("the database path needs PostgreSQL")
    return request.param


@pytest.fixture(params=["database", "python"])
def attribution_path(request, settings):
    chosen = path(request)
    settings.CONVERSIONS_FAST_PATH = chosen == "database"
    return chosen


def test_a_referral_held_for_review_is_announced_and_so_is_the_decision(
    receiver, django_capture_on_commit_callbacks, attribution_path
):
    program = ProgramFactory(
        code_usage=CodeUsage.MULTI,
        reward_kind=RewardKind.CREDIT,
        reward_amount=Decimal("5.00"),
        reward_currency="EUR",
        review_policy=ReviewPolicy.MODERATE,
    )
    stock_pool(program, 4)
    plain = endpoint_create(program=program, url=receiver.url)
    opted_in = endpoint_create(program=program, url=receiver.url + "?2", include_email=True)
    receiver.secrets = [plain.secret, opted_in.secret]
    with django_capture_on_commit_callbacks(execute=True):
        advocate, _ = participant_upsert(program=program, participant_id="ada", email="ada@x.org")
    code = held_code(advocate)

    def held_order(order_id, friend):
        # A disposable address scores 40: held under the moderate policy.
        return conversion_record(
            program=program,
            payload={
                "order_id": order_id,
                "promo_code": code,
                "customer_id": friend,
                "customer_email": f"{friend}@mailinator.com",
                "order_subtotal": Decimal("80.00"),
                "currency_code": "EUR",
            },
        )[0]

    with django_capture_on_commit_callbacks(execute=True):
        approved = held_order("O-1", "friend-1")
    with django_capture_on_commit_callbacks(execute=True):
        denied = held_order("O-2", "friend-2")
    assert {approved.reward.status, denied.reward.status} == {RewardStatus.PENDING_REVIEW}
    with django_capture_on_commit_callbacks(execute=True):
        reward_review_decide(reward=approved.reward, approve=True)
    with django_capture_on_commit_callbacks(execute=True):
        reward_review_decide(reward=denied.reward, approve=False, reason="fraud")

    for items, email in zip(
        by_endpoint(receiver, plain, opted_in), [None, "ada@x.org"], strict=True
    ):
        events = [item.event for item in items if item.event["type"] != "participant.created"]
        held = [e["data"] for e in events if e["type"] == "referral.held_for_review"]
        assert [data["order_id"] for data in held] == ["O-1", "O-2"]
        assert held[0] == {
            "version": 1,
            "referral_id": approved.referral_id,
            "conversion_id": approved.pk,
            "order_id": "O-1",
            "participant_id": "ada",
            "friend_id": "friend-1",
            "order_subtotal": "80.00",
            "currency": "EUR",
            "reward_id": approved.reward_id,
            "review": {"status": "held", "score": 40, "reasons": ["disposable_email"]},
            **({"email": email} if email else {}),
        }
        created = [e["data"] for e in events if e["type"] == "reward.created"]
        assert [data["status"] for data in created] == ["pending_review"] * 2
        # Approved without a review period: available at once; denied: cancelled.
        decided = [(e["type"], e["data"]["reward_id"]) for e in events[-2:]]
        assert decided == [
            ("reward.available", approved.reward_id),
            ("reward.cancelled", denied.reward_id),
        ]
        # Held: the referral converted all the same (the attribution stands), once each.
        types = Counter(e["type"] for e in events)
        assert types["referral.converted"] == 2 and types["referral.held_for_review"] == 2


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
    # All the order's events in one statement, and the replacement's code.assigned from what
    # the top-up answered, with no read of the codes it claimed.
    inserts = [q for q in queries if "INSERT INTO webhooks_delivery" in q["sql"]]
    assert len(inserts) == 1
    assert not any(q["sql"].startswith('SELECT "codes_promocode"') for q in queries)
    replacement = PromoCode.objects.get(holder=advocate, status="assigned")
    assigned = json.loads(
        Delivery.objects.get(endpoint=added[0], event_type="code.assigned").payload
    )
    assert (assigned["data"]["code_id"], assigned["data"]["code"]) == (
        replacement.pk,
        replacement.code,
    )
    assert assigned["data"]["participant_id"] == "ada"
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


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_top_up_asks_in_its_own_statement_whether_anyone_listens(receiver):
    """A top-up of a program without endpoints asks no more than its function's statement:
    the function answers that nobody listens, so code.assigned is neither looked up nor built.
    Once an endpoint exists, the next top-up's code.assigned is written."""
    from codes.services import codes_top_up

    # Stock well above its alert threshold: no stock.low on the way.
    program = ProgramFactory(
        code_usage=CodeUsage.SINGLE, codes_per_advocate=1, low_stock_threshold=1
    )
    stock_pool(program, 4)
    with transaction.atomic():  # created without a code: the top-ups below hand them out
        ada = Participant.objects.create(program=program, participant_id="ada", is_advocate=True)
        bea = Participant.objects.create(program=program, participant_id="bea", is_advocate=True)
    with CaptureQueriesContext(connection) as queries:
        assert codes_top_up(holder=ada) == 1
    assert "codes_top_up_holder" in queries[0]["sql"]
    # (What follows is the low-stock check run on commit.)
    assert not any("webhooks_" in q["sql"] for q in queries), [
        q["sql"] for q in queries if "webhooks_" in q["sql"]
    ]
    assert not any(q["sql"].startswith('SELECT "codes_promocode"."id"') for q in queries)
    assert not Delivery.objects.exists()

    endpoint = endpoint_create(program=program, url=receiver.url)
    assert codes_top_up(holder=bea) == 1
    assigned = json.loads(
        Delivery.objects.get(endpoint=endpoint, event_type="code.assigned").payload
    )
    assert assigned["data"]["participant_id"] == "bea"
    assert assigned["data"]["code"] == PromoCode.objects.get(holder=bea).code
