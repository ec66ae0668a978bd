"""The read API a shop backend needs: an advocate's rewards, the program's rewards and
referrals page by page (stable cursor, filters), and marking a credit paid."""

from datetime import timedelta
from urllib.parse import parse_qs, urlsplit

import pytest
from django.utils import timezone

from audit.models import AuditEntry
from participants.models import Referral, ReferralStatus, Reward, RewardStatus
from participants.services import reward_grant
from programs.models import RewardKind
from tests.api_helpers import client_for, url
from tests.factories import ParticipantFactory, ProgramFactory, fuel_tank

REWARD_ITEM_FIELDS = {
    "id",
    "kind",
    "status",
    "amount",
    "currency",
    "percent",
    "code",
    "advocate_id",
    "friend_id",
    "order_id",
    "referral_id",
    "earned_at",
    "available_at",
    "paid_at",
    "cancelled_at",
    "needs_review",
}


def earn(program, advocate, friend_id):
    """A converted referral of `friend_id` and the reward it grants."""
    friend = ParticipantFactory(program=program, participant_id=friend_id, is_advocate=False)
    referral = Referral.objects.create(
        program=program,
        advocate=advocate,
        friend=friend,
        status=ReferralStatus.CONVERTED,
        order_id=f"order-{friend_id}",
        converted_at=timezone.now(),
    )
    return reward_grant(referral=referral)


@pytest.fixture
def program(db):
    return ProgramFactory(slug="shop", reward_kind=RewardKind.CREDIT, reward_review_days=0)


@pytest.fixture
def alice(program):
    return ParticipantFactory(program=program, participant_id="alice", is_advocate=True)


def read_all(client, first_url):
    """Every row of a list, following `next` links; the pages' sizes."""
    rows, sizes, link = [], [], first_url
    while link:
        response = client.get(link)
        assert response.status_code == 200, response.content
        body = response.json()
        rows += body["results"]
        sizes.append(len(body["results"]))
        link = body["next"]
    return rows, sizes


@pytest.mark.django_db
def test_a_participant_carries_their_rewards_kind_amount_status_and_dates(program, alice):
    reward = earn(program, alice, "bob")
    response = client_for(program).get(url(program, "participants/alice"))
    assert response.status_code == 200
    (item,) = response.json()["rewards"]
    assert set(item) == REWARD_ITEM_FIELDS
    assert item["id"] == reward.pk
    assert (item["kind"], item["status"], item["amount"], item["currency"]) == (
        "credit",
        "available",
        "10.00",
        "USD",
    )
    assert item["friend_id"] == "bob" and item["order_id"] == "order-bob"
    assert item["earned_at"] and item["available_at"] and item["paid_at"] is None


@pytest.mark.django_db
def test_a_fuel_tank_rewards_code_shows_only_once_revealed(db):
    program = ProgramFactory(slug="tanked")
    fuel_tank(program, 5, review_days=3)
    advocate = ParticipantFactory(program=program, participant_id="alice", is_advocate=True)
    reward = earn(program, advocate, "bob")
    client = client_for(program)
    (item,) = client.get(url(program, "rewards")).json()["results"]
    assert item["kind"] == "fuel_tank" and item["status"] == "pending"
    assert item["code"] is None  # reserved, not shown
    from participants.services import rewards_release_due

    rewards_release_due(now=timezone.now() + timedelta(days=4))
    (item,) = client.get(url(program, "rewards")).json()["results"]
    assert item["status"] == "available"
    assert item["code"] == Reward.objects.get(pk=reward.pk).code.code


@pytest.mark.django_db
def test_the_rewards_list_pages_with_a_stable_cursor_and_misses_nothing_added_meanwhile(
    program, alice
):
    for n in range(25):
        earn(program, alice, f"friend-{n:02}")
    client = client_for(program)
    first = client.get(url(program, "rewards"), {"limit": 10}).json()
    assert len(first["results"]) == 10 and first["next"]
    seen = [item["id"] for item in first["results"]]
    link = first["next"]
    added = 0
    while link:
        # New orders arrive between pages: they come on later pages, nothing shifts.
        earn(program, alice, f"late-{added}")
        added += 1
        body = client.get(link).json()
        seen += [item["id"] for item in body["results"]]
        link = body["next"]
    assert len(seen) == len(set(seen)), "a reward was listed twice"
    assert sorted(seen) == sorted(
        Reward.objects.filter(program=program).values_list("pk", flat=True)
    )
    assert added >= 2


@pytest.mark.django_db
def test_rows_with_the_same_creation_time_are_neither_repeated_nor_skipped(program, alice):
    for n in range(7):
        earn(program, alice, f"friend-{n}")
    Reward.objects.filter(program=program).update(created_at=timezone.now())  # all tied
    rows, sizes = read_all(client_for(program), url(program, "rewards?limit=2"))
    assert sizes == [2, 2, 2, 1]
    ids = [row["id"] for row in rows]
    assert ids == sorted(ids) and len(set(ids)) == 7


@pytest.mark.django_db
def test_the_lists_filter_by_status_since_and_advocate(program, alice):
    bea = ParticipantFactory(program=program, participant_id="bea", is_advocate=True)
    old = earn(program, alice, "f1")
    Reward.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=10))
    earn(program, alice, "f2")
    paid = earn(program, bea, "f3")
    Reward.objects.filter(pk=paid.pk).update(status=RewardStatus.PAID, paid_at=timezone.now())
    client = client_for(program)

    def ids(rest, **query):
        response = client.get(url(program, rest), query)
        assert response.status_code == 200, response.content
        return [row["id"] for row in response.json()["results"]]

    assert len(ids("rewards")) == 3
    assert ids("rewards", status="paid") == [paid.pk]
    assert len(ids("rewards", status="available")) == 2
    since = (timezone.now() - timedelta(days=1)).isoformat()
    assert old.pk not in ids("rewards", since=since) and len(ids("rewards", since=since)) == 2
    assert ids("rewards", participant_id="bea") == [paid.pk]
    assert ids("rewards", participant_id="nobody") == []
    assert len(ids("referrals")) == 3
    assert len(ids("referrals", participant_id="alice", status="converted")) == 2
    assert ids("referrals", status="pending") == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "query, field",
    [
        ({"status": "won"}, "status"),
        ({"since": "yesterday"}, "since"),
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"cursor": "forged"}, "cursor"),
    ],
)
def test_a_bad_filter_limit_or_cursor_is_400_naming_it(program, alice, query, field):
    response = client_for(program).get(url(program, "rewards"), query)
    assert response.status_code == 400
    assert set(response.json()["error"]["fields"]) == {field}


@pytest.mark.django_db
def test_a_cursor_works_only_for_the_list_and_filters_that_issued_it(program, alice):
    for n in range(3):
        earn(program, alice, f"f{n}")
    client = client_for(program)
    link = client.get(url(program, "rewards"), {"limit": 1}).json()["next"]
    cursor = parse_qs(urlsplit(link).query)["cursor"][0]
    assert parse_qs(urlsplit(link).query)["limit"] == ["1"]
    for rest, query in (
        ("rewards", {"cursor": cursor, "status": "available"}),
        ("referrals", {"cursor": cursor}),
    ):
        response = client.get(url(program, rest), query)
        assert response.status_code == 400, rest
        assert "another list" in response.json()["error"]["fields"]["cursor"][0]
    other = ProgramFactory(slug="other")
    response = client_for(other).get(url(other, "rewards"), {"cursor": cursor})
    assert response.status_code == 400


@pytest.mark.django_db
def test_another_programs_key_cannot_read_the_lists(program, alice):
    earn(program, alice, "bob")
    other = ProgramFactory(slug="other")
    for rest in ("rewards", "referrals", "conversions"):
        assert client_for(other).get(url(program, rest)).status_code == 403


@pytest.mark.django_db
def test_marking_an_available_reward_paid_is_idempotent_and_audited(program, alice):
    reward = earn(program, alice, "bob")
    client = client_for(program)
    response = client.post(url(program, f"rewards/{reward.pk}/paid"))
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["status"] == "paid" and body["paid_at"]
    again = client.post(url(program, f"rewards/{reward.pk}/paid"))
    assert again.status_code == 200 and again.json() == body
    reward.refresh_from_db()
    assert reward.status == RewardStatus.PAID
    entries = AuditEntry.objects.filter(event="reward marked paid", object_pk=str(reward.pk))
    assert entries.count() == 1  # the second call changed nothing


@pytest.mark.django_db
@pytest.mark.parametrize("status", [RewardStatus.PENDING, RewardStatus.CANCELLED])
def test_a_reward_that_is_not_available_is_409_and_unchanged(program, alice, status):
    reward = earn(program, alice, "bob")
    Reward.objects.filter(pk=reward.pk).update(status=status)
    response = client_for(program).post(url(program, f"rewards/{reward.pk}/paid"))
    assert response.status_code == 409
    error = response.json()["error"]
    assert error["code"] == "conflict" and "cannot become paid" in error["message"]
    reward.refresh_from_db()
    assert reward.status == status and reward.paid_at is None


@pytest.mark.django_db
def test_another_programs_reward_is_404(program, alice):
    other = ProgramFactory(slug="other")
    advocate = ParticipantFactory(program=other, participant_id="olga", is_advocate=True)
    theirs = earn(other, advocate, "oscar")
    response = client_for(program).post(url(program, f"rewards/{theirs.pk}/paid"))
    assert response.status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == RewardStatus.AVAILABLE


@pytest.mark.django_db
def test_the_pages_answer_exactly_what_their_item_serializers_say(program, alice):
    """The lists write their items directly (a serializer per row cost more than the query):
    the same answer as the documented serializers, field for field."""
    from conversions.api_lists import ConversionItemSerializer, conversion_item_body
    from conversions.selectors import conversions_page
    from participants.selectors import referrals_page, rewards_page
    from participants.serializers import (
        ReferralItemSerializer,
        RewardItemSerializer,
        referral_item_body,
        reward_item_body,
    )
    from tests.api_helpers import advocate_with_code, stocked_program

    paid = earn(program, alice, "bob")
    Reward.objects.filter(pk=paid.pk).update(status=RewardStatus.PAID, paid_at=timezone.now())
    earn(program, alice, "carol")
    for item in rewards_page(program=program).rows:
        assert reward_item_body(item) == RewardItemSerializer(item).data
    for item in referrals_page(program=program).rows:
        assert referral_item_body(item) == ReferralItemSerializer(item).data
    shop = stocked_program(codes_per_advocate=1)
    _, code = advocate_with_code(shop)
    client = client_for(shop)
    for body in (
        {"OrderId": "A", "OrderPromoCode": code.code, "CustomerId": "x", "OrderSubtotal": 5},
        {"OrderId": "B", "EventDate": "2026-11-27T08:00:05+02:00", "OrderDiscount": "1.5"},
    ):
        assert client.post(url(shop, "conversions"), body, format="json").status_code == 201
    for item in conversions_page(program=shop).rows:
        assert conversion_item_body(item) == ConversionItemSerializer(item).data
