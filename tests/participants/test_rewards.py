"""Rewards (docs/architecture.md, Rewards): fuel-tank rewards end to end, and every reward state
change
through the rewards service, by its allowed moves only."""

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from codes.models import CodeStatus, PromoCode
from codes.services import codes_void, pool_batch_landed
from participants.models import Participant, Referral, ReferralStatus, Reward, RewardStatus
from participants.selectors import reward_codes
from participants.services import (
    ALLOWED_MOVES,
    RewardMoveRefused,
    referral_reverse,
    reward_cancel,
    reward_grant,
    rewards_fill_waiting,
    rewards_mark_paid,
    rewards_release_due,
)
from participants.services.rewards import _move
from programs.models import RewardKind
from tests.factories import ParticipantFactory, ProgramFactory, fuel_tank, tank_add

S = RewardStatus


def converted(program, advocate, friend_id):
    friend = ParticipantFactory(program=program, participant_id=friend_id, is_advocate=False)
    return Referral.objects.create(
        program=program,
        advocate=advocate,
        friend=friend,
        status=ReferralStatus.CONVERTED,
        order_id=f"order-{friend_id}",
        converted_at=timezone.now(),
    )


def grant(program, advocate, friend_id):
    return reward_grant(referral=converted(program, advocate, friend_id))


@pytest.fixture
def program(db):
    return ProgramFactory(slug="tanked")


@pytest.fixture
def alice(program):
    return ParticipantFactory(program=program, participant_id="alice")


# --- Fuel-tank rewards --------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_tank_code_is_reserved_during_review_and_revealed_when_available(program, alice):
    fuel_tank(program, 3, review_days=14)
    reward = grant(program, alice, "f1")
    assert reward.kind == RewardKind.FUEL_TANK and reward.status == S.PENDING
    code = reward.code
    assert code.code == "TANK00000" and code.holder_id == alice.pk
    assert code.status == CodeStatus.ASSIGNED and code.revealed_at is None
    assert code.shown_status == "assigned (reserved)"
    assert reward_codes(participant=alice) == []  # reserved, not shown
    assert rewards_release_due() == 0  # review not over
    assert rewards_release_due(now=timezone.now() + timedelta(days=15)) == 1
    reward.refresh_from_db()
    code.refresh_from_db()
    assert reward.status == S.AVAILABLE and code.revealed_at is not None
    [shown] = reward_codes(participant=alice)
    assert shown["code"] == "TANK00000" and shown["reward_id"] == reward.pk
    assert shown["status"] == "available" and shown["copied_before"] is False


@pytest.mark.django_db
def test_without_a_review_period_the_code_is_revealed_at_once(program, alice):
    fuel_tank(program, 1)
    reward = grant(program, alice, "f1")
    assert reward.status == S.AVAILABLE
    assert [c["code"] for c in reward_codes(participant=alice)] == ["TANK00000"]


@pytest.mark.django_db
def test_an_empty_tank_leaves_rewards_waiting_and_a_batch_fills_them_oldest_first(
    program, alice, django_capture_on_commit_callbacks
):
    tank = fuel_tank(program, 1)
    first = grant(program, alice, "f1")
    waiting = [grant(program, alice, f"f{i}") for i in range(2, 5)]
    assert first.status == S.AVAILABLE
    assert [r.status for r in waiting] == [S.WAITING_FOR_STOCK] * 3
    assert all(r.code_id is None for r in waiting)
    with django_capture_on_commit_callbacks(execute=True):
        tank_add(tank, 2, start=100)
        pool_batch_landed(pool_id=tank.pk)
    for reward in waiting:
        reward.refresh_from_db()
    assert [r.status for r in waiting] == [S.AVAILABLE, S.AVAILABLE, S.WAITING_FOR_STOCK]
    assert [r.code.code for r in waiting[:2]] == ["TANK00100", "TANK00101"]
    # A reward earned while others wait queues behind them, even with a code in the tank.
    tank_add(tank, 1, start=200)
    late = grant(program, alice, "f9")
    assert late.status == S.WAITING_FOR_STOCK
    assert rewards_fill_waiting(program=program) == 1
    waiting[2].refresh_from_db()
    late.refresh_from_db()
    assert waiting[2].code.code == "TANK00200" and late.status == S.WAITING_FOR_STOCK


@pytest.mark.django_db
def test_a_cancelled_pending_reward_gives_its_code_back_to_the_tank(program, alice):
    fuel_tank(program, 1, review_days=7)
    reward = grant(program, alice, "f1")
    code = reward.code
    referral_reverse(referral=reward.referral)
    reward.refresh_from_db()
    code.refresh_from_db()
    assert reward.status == S.CANCELLED and reward.code is None and not reward.needs_review
    assert code.status == CodeStatus.AVAILABLE and code.holder is None
    # The code serves the next reward.
    assert grant(program, alice, "f2").code == code


@pytest.mark.django_db
def test_a_revealed_code_cannot_be_taken_back_so_its_reward_is_flagged(program, alice):
    fuel_tank(program, 1)
    reward = grant(program, alice, "f1")
    referral_reverse(referral=reward.referral)
    reward.refresh_from_db()
    assert reward.status == S.CANCELLED and reward.needs_review
    assert reward.code.status == CodeStatus.ASSIGNED and reward.code.holder_id == alice.pk


@pytest.mark.django_db
def test_a_tank_code_never_attributes_and_never_counts_toward_the_quota(program, alice):
    from tests.api_helpers import client_for, url
    from tests.factories import stock_pool

    stock_pool(program, 5)
    fuel_tank(program, 2)
    reward = grant(program, alice, "f1")
    from codes.services import codes_top_up

    codes_top_up(holder=alice)
    assert PromoCode.objects.held_by(alice).count() == program.codes_per_advocate
    response = client_for(program).post(
        url(program, "conversions"), {"OrderId": "O-1", "OrderPromoCode": reward.code.code}
    )
    assert response.json()["status"] == "unattributed"
    assert "not one of the program's referral codes" in response.json()["reason"]


@pytest.mark.django_db
def test_voiding_a_reserved_code_gives_its_reward_another_in_turn(
    program, alice, django_capture_on_commit_callbacks
):
    fuel_tank(program, 2, review_days=7)
    reward = grant(program, alice, "f1")
    due = reward.available_at
    with django_capture_on_commit_callbacks(execute=True):
        codes_void(program=program, codes=[reward.code.code])
    reward.refresh_from_db()
    assert reward.status == S.PENDING and reward.code.code == "TANK00001"
    assert reward.available_at == due  # the review period runs on, it does not restart
    with django_capture_on_commit_callbacks(execute=True):
        codes_void(program=program, codes=["TANK00001"])
    reward.refresh_from_db()
    assert reward.status == S.WAITING_FOR_STOCK and reward.code is None


# --- Every move through the service -------------------------------------------------------------


@pytest.mark.parametrize("start", list(S))
@pytest.mark.parametrize("target", list(S))
def test_only_the_allowed_moves_are_made(start, target):
    reward = Reward(pk=1, status=start)
    if target in ALLOWED_MOVES[start]:
        _move(reward, target, now=timezone.now())
        assert reward.status == target
    else:
        with pytest.raises(RewardMoveRefused, match="cannot become"):
            _move(reward, target, now=timezone.now())
        assert reward.status == start


def test_the_allowed_moves_are_designs():
    assert {
        S.WAITING_FOR_STOCK: {S.PENDING, S.AVAILABLE, S.CANCELLED},
        S.PENDING: {S.AVAILABLE, S.WAITING_FOR_STOCK, S.CANCELLED},
        S.AVAILABLE: {S.PAID, S.CANCELLED},
        S.PAID: set(),
        S.CANCELLED: set(),
        # A referral held for review: approved into the review period, the tank's queue or at
        # once; denied, cancelled. A capped reward is never granted later by itself.
        S.PENDING_REVIEW: {S.WAITING_FOR_STOCK, S.PENDING, S.AVAILABLE, S.CANCELLED},
        S.CAPPED: set(),
    } == ALLOWED_MOVES


@pytest.mark.django_db
def test_mark_paid_pays_available_rewards_only(program, alice):
    program.reward_review_days = 3
    program.save()
    pending = grant(program, alice, "f1")
    program.reward_review_days = 0
    program.save()
    available = grant(program, alice, "f2")
    cancelled = grant(program, alice, "f3")
    reward_cancel(reward=cancelled)
    result = rewards_mark_paid(rewards=Reward.objects.all())
    assert result.paid == 1 and len(result.refused) == 2
    statuses = dict(Reward.objects.values_list("pk", "status"))
    assert statuses == {pending.pk: S.PENDING, available.pk: S.PAID, cancelled.pk: S.CANCELLED}
    assert Reward.objects.get(pk=available.pk).paid_at is not None
    # Paid stays paid: a manager's cancel is refused, a reversal flags it for review.
    with pytest.raises(RewardMoveRefused, match="paid"):
        reward_cancel(reward=available)
    referral_reverse(referral=available.referral)
    available.refresh_from_db()
    assert available.status == S.PAID and available.needs_review
    # Nothing leaves cancelled.
    assert rewards_mark_paid(rewards=Reward.objects.filter(pk=cancelled.pk)).paid == 0
    assert reward_cancel(reward=cancelled).status == S.CANCELLED


# --- Through the admin --------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_admin_cannot_set_a_status_by_hand(program, alice, admin_client):
    reward = grant(program, alice, "f1")
    reward_cancel(reward=reward)
    change = reverse("admin:participants_reward_change", args=[reward.pk])
    page = admin_client.get(change).content.decode()
    assert 'name="status"' not in page  # shown, not editable
    admin_client.post(change, {"status": S.AVAILABLE, "needs_review": "on"})
    reward.refresh_from_db()
    assert reward.status == S.CANCELLED


@pytest.mark.django_db
def test_mark_paid_and_cancel_are_bulk_actions(program, alice, admin_client):
    rewards = [grant(program, alice, f"f{i}") for i in range(3)]
    reward_cancel(reward=rewards[2])
    changelist = reverse("admin:participants_reward_changelist")
    response = admin_client.post(
        changelist,
        {"action": "mark_paid", "_selected_action": [r.pk for r in rewards]},
        follow=True,
    )
    text = response.content.decode()
    assert "Marked 2 rewards paid." in text
    assert "1 reward not marked paid: only available rewards can be." in text
    assert "is cancelled: it cannot become paid" in text
    confirm = admin_client.post(
        changelist, {"action": "cancel_rewards", "_selected_action": [rewards[0].pk]}
    )
    assert "Paid rewards cannot be cancelled" in confirm.content.decode()
    done = admin_client.post(
        changelist,
        {"action": "cancel_rewards", "_selected_action": [rewards[0].pk], "_confirmed": "yes"},
        follow=True,
    )
    assert "is paid: it cannot be cancelled" in done.content.decode()
    assert Reward.objects.get(pk=rewards[0].pk).status == S.PAID


@pytest.mark.django_db
def test_a_program_manager_marks_their_rewards_paid(program, alice, client):
    from django.contrib.auth.models import Permission

    from tests.factories import UserFactory

    manager = UserFactory()
    manager.user_permissions.add(
        *Permission.objects.filter(codename__in=["view_reward", "change_reward"])
    )
    program.managers.add(manager)
    other = ProgramFactory(slug="not-theirs")
    theirs = grant(other, ParticipantFactory(program=other), "x1")
    mine = grant(program, alice, "f1")
    client.force_login(manager)
    response = client.post(
        reverse("admin:participants_reward_changelist"),
        {"action": "mark_paid", "_selected_action": [mine.pk, theirs.pk]},
        follow=True,
    )
    assert "Marked 1 reward paid." in response.content.decode()
    assert Reward.objects.get(pk=mine.pk).status == S.PAID
    assert Reward.objects.get(pk=theirs.pk).status == S.AVAILABLE


@pytest.mark.django_db
def test_a_fuel_tank_reward_needs_its_tank_chosen_on_the_program_page(program, admin_client):
    from tests.programs.test_admin import form_data

    change = reverse("admin:programs_program_change", args=[program.pk])
    refused = admin_client.post(change, {**form_data(program), "reward_kind": "fuel_tank"})
    assert "Add a fuel tank first" in refused.content.decode()
    tank = fuel_tank(program, 1, name="Gift cards")
    program.reward_kind = RewardKind.CREDIT
    program.save()
    chosen = admin_client.post(
        change, {**form_data(program), "reward_kind": "fuel_tank", "reward_tank": tank.pk}
    )
    assert chosen.status_code == 302
    tank.refresh_from_db()
    program.refresh_from_db()
    assert program.reward_kind == RewardKind.FUEL_TANK and tank.pays_rewards


# --- Concurrency on PostgreSQL -----------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_sixteen_grants_against_ten_codes_then_a_batch_of_five_fills_the_oldest():
    program = ProgramFactory(slug="race")
    tank = fuel_tank(program, 10)
    advocates = [ParticipantFactory(program=program, participant_id=f"a{i}") for i in range(16)]
    referrals = [converted(program, a, f"friend-{i}") for i, a in enumerate(advocates)]
    barrier = threading.Barrier(16)
    errors = []

    def work(i):
        try:
            barrier.wait(timeout=30)
            reward_grant(
                referral=Referral.objects.select_related("program").get(pk=referrals[i].pk)
            )
        except Exception as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(16)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    rewards = Reward.objects.filter(program=program)
    with_codes = rewards.exclude(code=None)
    assert with_codes.count() == 10
    assert len(set(with_codes.values_list("code_id", flat=True))) == 10
    assert set(PromoCode.objects.filter(pool=tank).values_list("status", flat=True)) == {
        CodeStatus.ASSIGNED
    }
    waiting = list(rewards.filter(status=S.WAITING_FOR_STOCK).order_by("created_at", "id"))
    assert len(waiting) == 6
    for code in PromoCode.objects.filter(pool=tank):
        reward = Reward.objects.get(code=code)
        assert code.holder_id == reward.advocate_id  # each code with its reward's advocate
    tank_add(tank, 5, start=500)
    assert rewards_fill_waiting(program=program) == 5
    filled = [Reward.objects.get(pk=r.pk) for r in waiting]
    assert [r.status for r in filled] == [S.AVAILABLE] * 5 + [S.WAITING_FOR_STOCK]
    assert sorted(r.code.code for r in filled[:5]) == [f"TANK{500 + i:05d}" for i in range(5)]


@pytest.mark.django_db
def test_amounts_of_other_kinds_are_unchanged(alice, program):
    program.reward_kind = RewardKind.CREDIT
    program.reward_amount = Decimal("12.50")
    program.reward_currency = "EUR"
    program.save()
    reward = grant(program, alice, "f1")
    assert (reward.kind, reward.amount, reward.currency, reward.status) == (
        RewardKind.CREDIT,
        Decimal("12.50"),
        "EUR",
        S.AVAILABLE,
    )
    assert Participant.objects.get(pk=alice.pk).rewards.count() == 1
