"""The review at attribution: each check with its reason code, the score, each policy's outcome,
and what the order answers."""

from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from rest_framework.test import APIClient

from codes.models import CodeStatus
from conversions.models import Conversion, ReviewStatus
from conversions.review import (
    CHECKS,
    ReviewFacts,
    normalise_email,
    normalise_name,
    review_decide,
    review_score,
)
from foundation.hashing import ip_digest
from participants.models import Participant, RewardStatus
from participants.services import participant_upsert
from participants.widget.tokens import widget_token_encode
from programs.models import REVIEW_THRESHOLDS, CodeUsage, ReviewPolicy
from tests.api_helpers import advocate_with_code, client_for, stocked_program, url

WEIGHTS = {check.code: check.weight for check in CHECKS}


def facts(**changes):
    """An order that no check flags, changed by `changes`."""
    values = {
        "customer_email": "grace@example.com",
        "customer_id": "grace",
        "customer_status": "New",
        "ip_hash": "",
        "advocate_participant_id": "anna",
        "advocate_email": "anna@example.com",
        "advocate_name": "Anna Lind",
        "friend_name": " ",
        "advocate_seen_at_ip": False,
        "friend_ordered_before": False,
        "advocate_orders_last_hour": 0,
        "velocity_limit": 10,
    }
    return ReviewFacts(**{**values, **changes})


def test_a_clean_order_scores_zero():
    assert review_score(facts()) == (0, ())


@pytest.mark.parametrize(
    ("changes", "code"),
    [
        ({"customer_email": "Anna+promo@example.com"}, "self_referral_email"),
        (
            {"customer_email": "a.n.n.a+x@googlemail.com", "advocate_email": "anna@gmail.com"},
            "self_referral_email",
        ),
        ({"customer_id": " ANNA "}, "self_referral_id"),
        ({"friend_name": "ánna-LIND"}, "self_referral_name"),
        ({"ip_hash": "h", "advocate_seen_at_ip": True}, "same_ip"),
        ({"customer_email": "grace@mailinator.com"}, "disposable_email"),
        ({"customer_email": "grace@eu.mailinator.com"}, "disposable_email"),
        ({"customer_status": "Returning"}, "existing_customer"),
        ({"customer_status": "existing"}, "existing_customer"),
        ({"friend_ordered_before": True}, "existing_customer"),
        ({"advocate_orders_last_hour": 10}, "velocity"),
    ],
)
def test_each_check_flags_with_its_code_and_weight(changes, code):
    assert review_score(facts(**changes)) == (WEIGHTS[code], (code,))


@pytest.mark.parametrize(
    "changes",
    [
        {"customer_email": "anna@example.org"},  # another domain
        {"customer_email": "a.nna@example.com"},  # dots matter outside Gmail
        {"ip_hash": "", "advocate_seen_at_ip": True},  # no address sent
        {"advocate_orders_last_hour": 9},  # the tenth order of the hour is within 10
        {"customer_email": "grace@gmail.com"},
        {"friend_name": "Grace Hopper"},
    ],
)
def test_near_misses_are_not_flagged(changes):
    assert review_score(facts(**changes)) == (0, ())


def test_the_score_adds_the_weights_up_to_100():
    score, reasons = review_score(
        facts(customer_id="Anna", friend_name="anna lind", customer_status="returning")
    )
    assert reasons == ("self_referral_id", "self_referral_name", "existing_customer")
    assert score == 100


def test_normalised_forms():
    assert normalise_email(" John.Smith+shop@GoogleMail.com ") == "johnsmith@gmail.com"
    assert normalise_email("john.smith+shop@example.com") == "john.smith@example.com"
    assert normalise_email("no address") == ""
    assert normalise_name("  Zoë  O'Brien ") == "zoe o brien"


@pytest.mark.parametrize(
    ("policy", "score", "status"),
    [
        (ReviewPolicy.RELAXED, 69, ReviewStatus.APPROVED),
        (ReviewPolicy.RELAXED, 70, ReviewStatus.HELD),
        (ReviewPolicy.RELAXED, 100, ReviewStatus.DENIED),
        (ReviewPolicy.MODERATE, 39, ReviewStatus.APPROVED),
        (ReviewPolicy.MODERATE, 40, ReviewStatus.HELD),
        (ReviewPolicy.MODERATE, 80, ReviewStatus.DENIED),
        (ReviewPolicy.STRICT, 19, ReviewStatus.APPROVED),
        (ReviewPolicy.STRICT, 20, ReviewStatus.HELD),
        (ReviewPolicy.STRICT, 40, ReviewStatus.DENIED),
    ],
)
def test_each_policys_thresholds(policy, score, status):
    assert review_decide(score, REVIEW_THRESHOLDS[policy]) == status


def post(client, program, **body):
    return client.post(url(program, "conversions"), body, format="json")


def reviewed_program(policy, **fields):
    program = stocked_program(review_policy=policy, code_usage=CodeUsage.MULTI, **fields)
    advocate, code = advocate_with_code(program, "anna", "anna.lind@gmail.com")
    return program, advocate, code


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("policy", "review_status", "reward_status"),
    [
        (ReviewPolicy.RELAXED, ReviewStatus.APPROVED, RewardStatus.AVAILABLE),
        (ReviewPolicy.MODERATE, ReviewStatus.HELD, RewardStatus.PENDING_REVIEW),
        (ReviewPolicy.STRICT, ReviewStatus.DENIED, RewardStatus.CANCELLED),
    ],
)
def test_a_disposable_friend_email_under_each_policy(policy, review_status, reward_status):
    program, advocate, code = reviewed_program(policy)
    response = post(
        client_for(program),
        program,
        OrderId="ORD-1",
        OrderPromoCode=code.code,
        CustomerEmail="grace@mailinator.com",
    )
    assert response.status_code == 201
    body = response.json()
    assert body["review"] == {
        "status": review_status,
        "score": 40,
        "reasons": ["disposable_email"],
    }
    assert body["reward"]["status"] == reward_status
    # The attribution stands whatever the review says: the code is redeemed, the friend linked.
    assert body["status"] == "attributed"
    assert body["advocate_id"] == "anna"
    conversion = Conversion.objects.get()
    assert conversion.referral.advocate == advocate
    assert conversion.reward.status == reward_status
    code.refresh_from_db()
    assert code.redemption_count == 1 or code.status == CodeStatus.REDEEMED
    # A replay answers the same.
    again = post(
        client_for(program),
        program,
        OrderId="ORD-1",
        OrderPromoCode=code.code,
        CustomerEmail="grace@mailinator.com",
    )
    assert again.json() == body


@pytest.mark.django_db
def test_with_the_policy_off_nothing_is_reviewed():
    program, _, code = reviewed_program(ReviewPolicy.OFF)
    body = post(
        client_for(program),
        program,
        OrderId="ORD-1",
        OrderPromoCode=code.code,
        CustomerEmail="grace@mailinator.com",
    ).json()
    assert body["review"] is None
    assert body["reward"]["status"] == RewardStatus.AVAILABLE


@pytest.mark.django_db
def test_a_gmail_variant_of_the_advocates_address_is_denied_under_moderate():
    program, _, code = reviewed_program(ReviewPolicy.MODERATE)
    body = post(
        client_for(program),
        program,
        OrderId="ORD-1",
        OrderPromoCode=code.code,
        CustomerEmail="Anna.Lind+deal@googlemail.com",
    ).json()
    assert body["review"]["reasons"] == ["self_referral_email"]
    assert body["review"]["status"] == ReviewStatus.DENIED
    assert body["reward"]["status"] == RewardStatus.CANCELLED
    assert body["reward"]["reason_code"] == "review_denied"


@pytest.mark.django_db
def test_a_friend_with_the_advocates_name_is_held_under_moderate():
    program, advocate, code = reviewed_program(ReviewPolicy.MODERATE)
    Participant.objects.filter(pk=advocate.pk).update(first_name="Anna", last_name="Lind")
    participant_upsert(program=program, participant_id="g", first_name="ANNA", last_name="lind")
    body = post(
        client_for(program), program, OrderId="ORD-1", OrderPromoCode=code.code, CustomerId="g"
    ).json()
    assert body["review"]["reasons"] == ["self_referral_name"]
    assert body["review"]["status"] == ReviewStatus.HELD


@pytest.mark.django_db
def test_the_same_ip_as_the_advocates_widget_load():
    program, _, code = reviewed_program(ReviewPolicy.STRICT)
    token = widget_token_encode(program=program, participant_id="anna")
    loaded = APIClient().get(
        "/api/v1/widget/me", REMOTE_ADDR="203.0.113.7", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert loaded.status_code == 200
    assert Participant.objects.get(participant_id="anna").ip_hash == ip_digest("203.0.113.7")
    client = client_for(program)
    body = post(
        client, program, OrderId="ORD-1", OrderPromoCode=code.code, IpAddress="203.0.113.7"
    ).json()
    assert body["review"]["reasons"] == ["same_ip"]
    other = post(
        client, program, OrderId="ORD-2", OrderPromoCode=code.code, IpAddress="203.0.113.8"
    ).json()
    assert other["review"]["reasons"] == []
    # Kept hashed, never as sent.
    assert "203.0.113.7" not in str(Conversion.objects.values_list("ip_hash", flat=True))


@pytest.mark.django_db
def test_the_same_ip_as_the_advocates_own_order():
    program, _, code = reviewed_program(ReviewPolicy.STRICT)
    client = client_for(program)
    post(client, program, OrderId="OWN-1", CustomerId="anna", IpAddress="2001:db8::1")
    body = post(
        client,
        program,
        OrderId="ORD-1",
        OrderPromoCode=code.code,
        CustomerId="grace",
        IpAddress="2001:DB8:0::1",
    ).json()
    assert body["review"]["reasons"] == ["same_ip"]


@pytest.mark.django_db
def test_an_invalid_ip_address_is_refused_naming_the_field():
    program = stocked_program(review_policy=ReviewPolicy.STRICT)
    response = post(client_for(program), program, OrderId="ORD-1", IpAddress="300.1.1.1")
    assert response.status_code == 400
    assert "IpAddress" in response.json()["error"]["fields"]
    assert not Conversion.objects.exists()


@pytest.mark.django_db
def test_an_existing_customer_by_customer_status_or_an_earlier_order():
    program, _, code = reviewed_program(ReviewPolicy.STRICT)
    client = client_for(program)
    said = post(
        client,
        program,
        OrderId="ORD-1",
        OrderPromoCode=code.code,
        CustomerId="c1",
        CustomerStatus="Returning",
    ).json()
    assert said["review"]["reasons"] == ["existing_customer"]
    post(client, program, OrderId="EARLIER", CustomerId="c2")  # no code: unattributed
    earlier = post(
        client, program, OrderId="ORD-2", OrderPromoCode=code.code, CustomerId="c2"
    ).json()
    assert earlier["review"]["reasons"] == ["existing_customer"]


@pytest.mark.django_db
def test_velocity_past_the_programs_limit_within_an_hour():
    program, _, code = reviewed_program(ReviewPolicy.STRICT, review_velocity_per_hour=2)
    client = client_for(program)
    reasons = [
        post(
            client, program, OrderId=f"ORD-{n}", OrderPromoCode=code.code, CustomerId=f"c{n}"
        ).json()["review"]["reasons"]
        for n in range(3)
    ]
    assert reasons == [[], [], ["velocity"]]


@pytest.mark.django_db
def test_set_review_policy_command():
    program = stocked_program()
    out = StringIO()
    call_command("set_review_policy", "--program", program.slug, "--policy", "strict", stdout=out)
    program.refresh_from_db()
    assert program.review_policy == ReviewPolicy.STRICT
    assert "20 or more is held" in out.getvalue()
    call_command(
        "set_review_policy",
        "--program",
        program.slug,
        "--policy",
        "custom",
        "--hold-at",
        "30",
        "--deny-at",
        "90",
        stdout=out,
    )
    program.refresh_from_db()
    assert program.review_thresholds == (30, 90)
    with pytest.raises(CommandError, match="above the deny score"):
        call_command(
            "set_review_policy",
            "--program",
            program.slug,
            "--policy",
            "custom",
            "--hold-at",
            "90",
            "--deny-at",
            "30",
        )
    with pytest.raises(CommandError, match="needs both"):
        call_command("set_review_policy", "--program", program.slug, "--policy", "custom")
    call_command("set_review_policy", "--program", program.slug, "--policy", "off", stdout=out)
    program.refresh_from_db()
    assert program.review_thresholds is None
