"""The review queue through the server API: list the held referrals, approve or deny them."""

import pytest

from audit.models import AuditEntry
from participants.models import Reward, RewardStatus
from programs.models import CodeUsage, ReviewPolicy
from tests.api_helpers import advocate_with_code, client_for, stocked_program, url


def held_orders(count=2, **fields):
    """A moderate program with `count` orders from disposable addresses: held for review."""
    program = stocked_program(
        review_policy=ReviewPolicy.MODERATE, code_usage=CodeUsage.MULTI, **fields
    )
    _, code = advocate_with_code(program)
    client = client_for(program)
    client.post(
        url(program, "conversions"),
        {"OrderId": "CLEAN", "OrderPromoCode": code.code, "CustomerId": "clean"},
        format="json",
    )
    for n in range(count):
        body = client.post(
            url(program, "conversions"),
            {
                "OrderId": f"HELD-{n}",
                "OrderPromoCode": code.code,
                "CustomerEmail": f"friend{n}@mailinator.com",
            },
            format="json",
        ).json()
        assert body["review"]["status"] == "held"
    return program, client


def queue(client, program):
    response = client.get(url(program, "referrals"), {"status": "pending_review"})
    assert response.status_code == 200
    return [item["id"] for item in response.json()["results"]]


@pytest.mark.django_db
def test_the_queue_lists_only_referrals_whose_reward_is_held():
    program, client = held_orders(2)
    held = list(
        Reward.objects.filter(status=RewardStatus.PENDING_REVIEW)
        .order_by("id")
        .values_list("referral_id", flat=True)
    )
    assert len(held) == 2
    assert queue(client, program) == held


@pytest.mark.django_db
def test_approve_starts_the_review_period_and_deny_cancels_both_audited():
    program, client = held_orders(2, reward_review_days=3)
    first, second = queue(client, program)
    approved = client.post(
        url(program, f"referrals/{first}/approve"), {"reason": "Known customer"}, format="json"
    )
    assert approved.status_code == 200, approved.content
    assert approved.json()["status"] == RewardStatus.PENDING
    assert approved.json()["available_at"] is not None
    denied = client.post(url(program, f"referrals/{second}/deny"), {"reason": "Farm"})
    assert denied.status_code == 200
    assert denied.json()["status"] == RewardStatus.CANCELLED
    assert queue(client, program) == []
    entries = AuditEntry.objects.filter(event__endswith="after review").order_by("id")
    assert [e.event for e in entries] == [
        "reward approved after review",
        "reward denied after review",
    ]
    assert entries[1].additional_data == {"reason": "Farm"}


@pytest.mark.django_db
def test_deciding_twice_or_a_referral_never_held_is_409_and_changes_nothing():
    program, client = held_orders(1)
    (held,) = queue(client, program)
    assert client.post(url(program, f"referrals/{held}/approve")).status_code == 200
    again = client.post(url(program, f"referrals/{held}/deny"))
    assert again.status_code == 409
    assert "not held for review" in again.json()["error"]["message"]
    reward = Reward.objects.get(referral_id=held)
    assert reward.status == RewardStatus.AVAILABLE
    assert client.post(url(program, "referrals/999999/approve")).status_code == 404


@pytest.mark.django_db
def test_another_programs_key_cannot_decide():
    program, _ = held_orders(1)
    other = stocked_program()
    (held,) = Reward.objects.filter(
        program=program, status=RewardStatus.PENDING_REVIEW
    ).values_list("referral_id", flat=True)
    response = client_for(other).post(url(program, f"referrals/{held}/approve"))
    assert response.status_code in (403, 404)
    assert Reward.objects.get(referral_id=held).status == RewardStatus.PENDING_REVIEW


@pytest.mark.django_db
def test_a_manager_approves_and_denies_held_rewards_of_their_program_with_a_reason(client):
    from django.contrib.auth.models import Permission
    from django.urls import reverse

    from tests.factories import UserFactory

    program, _ = held_orders(2)
    other, _ = held_orders(1)
    manager = UserFactory()
    manager.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_reward", "change_reward"])
    )
    program.managers.add(manager)
    client.force_login(manager)
    changelist = reverse("admin:participants_reward_changelist")
    listed = client.get(changelist, {"status__exact": RewardStatus.PENDING_REVIEW})
    assert listed.status_code == 200
    mine = list(
        Reward.objects.filter(program=program, status=RewardStatus.PENDING_REVIEW).order_by("pk")
    )
    theirs = Reward.objects.get(program=other, status=RewardStatus.PENDING_REVIEW)
    clean = Reward.objects.get(program=program, referral__friend__participant_id="clean")
    asked = client.post(
        changelist, {"action": "deny_held", "_selected_action": [mine[0].pk, clean.pk]}
    )
    page = asked.content.decode()
    assert "1 held reward will be denied" in page
    assert "1 other reward is not held for review" in page
    without_reason = client.post(
        changelist,
        {"action": "deny_held", "_selected_action": [mine[0].pk], "_confirmed": "yes"},
    )
    assert "This field is required" in without_reason.content.decode()
    assert Reward.objects.get(pk=mine[0].pk).status == RewardStatus.PENDING_REVIEW
    done = client.post(
        changelist,
        {
            "action": "deny_held",
            "_selected_action": [mine[0].pk, theirs.pk],
            "_confirmed": "yes",
            "reason": "Throwaway addresses",
        },
        follow=True,
    )
    assert "Denied 1 held reward." in done.content.decode()
    assert Reward.objects.get(pk=mine[0].pk).status == RewardStatus.CANCELLED
    assert Reward.objects.get(pk=theirs.pk).status == RewardStatus.PENDING_REVIEW  # not theirs
    client.post(
        changelist,
        {
            "action": "approve_held",
            "_selected_action": [mine[1].pk],
            "_confirmed": "yes",
            "reason": "Checked by phone",
        },
    )
    assert Reward.objects.get(pk=mine[1].pk).status == RewardStatus.AVAILABLE
    entry = AuditEntry.objects.get(event="reward approved after review")
    assert entry.additional_data == {"reason": "Checked by phone"}
    assert entry.actor == manager
