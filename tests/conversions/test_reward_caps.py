"""Reward caps: per advocate per calendar month, per advocate in total, per program per day. An
order past a cap is attributed; its reward is recorded as capped, never granted later."""

from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from codes.models import PromoCode
from conversions.models import Conversion, ConversionStatus
from participants.models import Reward, RewardStatus
from participants.services import rewards_release_due
from programs.models import CodeUsage
from tests.api_helpers import advocate_with_code, client_for, stocked_program, url
from tests.conversions.test_concurrency import keyed_client, run_in_threads


def post(client, program, **body):
    return client.post(url(program, "conversions"), body, format="json")


def capped_program(**caps):
    program = stocked_program(code_usage=CodeUsage.MULTI, **caps)
    advocate, code = advocate_with_code(program)
    return program, advocate, code


@pytest.mark.django_db
def test_past_the_monthly_cap_the_order_is_attributed_and_its_reward_capped():
    program, advocate, code = capped_program(reward_cap_advocate_month=2)
    client = client_for(program)
    bodies = [
        post(client, program, OrderId=f"O{n}", OrderPromoCode=code.code, CustomerId=f"c{n}").json()
        for n in range(3)
    ]
    assert [b["status"] for b in bodies] == [ConversionStatus.ATTRIBUTED] * 3
    assert [b["reward"]["status"] for b in bodies] == [
        RewardStatus.AVAILABLE,
        RewardStatus.AVAILABLE,
        RewardStatus.CAPPED,
    ]
    assert bodies[2]["reward"]["reason_code"] == "reward_cap_month"
    assert bodies[0]["reward"]["reason_code"] is None
    # The friend is linked and the code counted, as for any attributed order.
    assert Conversion.objects.get(order_id="O2").referral.advocate == advocate
    assert PromoCode.objects.get(pk=code.pk).redemption_count == 3


@pytest.mark.django_db
def test_last_months_rewards_do_not_count_toward_this_months_cap():
    program, _, code = capped_program(reward_cap_advocate_month=1)
    client = client_for(program)
    post(client, program, OrderId="O1", OrderPromoCode=code.code, CustomerId="c1")
    month_ago = timezone.now().replace(day=1) - timedelta(days=1)
    Reward.objects.update(created_at=month_ago)
    body = post(client, program, OrderId="O2", OrderPromoCode=code.code, CustomerId="c2").json()
    assert body["reward"]["status"] == RewardStatus.AVAILABLE


@pytest.mark.django_db
def test_the_total_cap_counts_every_month_and_a_cancelled_reward_frees_its_place():
    program, _, code = capped_program(reward_cap_advocate_total=1)
    client = client_for(program)
    post(client, program, OrderId="O1", OrderPromoCode=code.code, CustomerId="c1")
    Reward.objects.update(created_at=timezone.now() - timedelta(days=400))
    second = post(client, program, OrderId="O2", OrderPromoCode=code.code, CustomerId="c2").json()
    assert second["reward"]["reason_code"] == "reward_cap_total"
    client.post(url(program, "conversions/O1/reversal"), {}, format="json")
    third = post(client, program, OrderId="O3", OrderPromoCode=code.code, CustomerId="c3").json()
    assert third["reward"]["status"] == RewardStatus.AVAILABLE


@pytest.mark.django_db
def test_the_program_day_cap_counts_every_advocate():
    program, _, code = capped_program(reward_cap_program_day=1)
    _, other_code = advocate_with_code(program, "adv-2", "two@example.com")
    client = client_for(program)
    post(client, program, OrderId="O1", OrderPromoCode=code.code, CustomerId="c1")
    body = post(client, program, OrderId="O2", OrderPromoCode=other_code.code, CustomerId="c2")
    assert body.json()["reward"]["status"] == RewardStatus.CAPPED
    assert body.json()["reward"]["reason_code"] == "reward_cap_program_day"


@pytest.mark.django_db
def test_a_capped_reward_is_never_granted_later_by_itself():
    program, _, code = capped_program(reward_cap_advocate_month=1, reward_review_days=1)
    client = client_for(program)
    post(client, program, OrderId="O1", OrderPromoCode=code.code, CustomerId="c1")
    post(client, program, OrderId="O2", OrderPromoCode=code.code, CustomerId="c2")
    rewards_release_due(now=timezone.now() + timedelta(days=30))
    statuses = sorted(Reward.objects.values_list("status", flat=True))
    assert statuses == [RewardStatus.AVAILABLE, RewardStatus.CAPPED]


@pytest.mark.django_db
def test_set_reward_caps_command():
    program = stocked_program()
    out = StringIO()
    call_command(
        "set_reward_caps",
        "--program",
        program.slug,
        "--per-advocate-month",
        "5",
        "--per-program-day",
        "100",
        stdout=out,
    )
    program.refresh_from_db()
    assert (program.reward_cap_advocate_month, program.reward_cap_program_day) == (5, 100)
    assert "5 per advocate per month" in out.getvalue()
    call_command("set_reward_caps", "--program", program.slug, "--per-advocate-month", "0")
    program.refresh_from_db()
    assert program.reward_cap_advocate_month is None
    assert program.reward_cap_program_day == 100  # not named: kept
    with pytest.raises(CommandError, match="0 or more"):
        call_command("set_reward_caps", "--program", program.slug, "--per-program-day", "-1")


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("usage", [CodeUsage.SINGLE, CodeUsage.MULTI])
def test_20_orders_for_one_advocate_at_once_with_a_cap_of_5_grant_exactly_5(usage):
    # Single-use: 20 different codes of one advocate (no code lock in common); multi-use: one
    # code.
    program = stocked_program(
        codes=80,
        code_usage=usage,
        codes_per_advocate=20 if usage == CodeUsage.SINGLE else 1,
        reward_cap_advocate_month=5,
    )
    advocate, _ = advocate_with_code(program)
    codes = list(
        PromoCode.objects.filter(holder=advocate).order_by("id").values_list("code", flat=True)
    )
    client = keyed_client(program)

    def order(i):
        code = codes[i % len(codes)]
        body = {"OrderId": f"RACE-{i}", "OrderPromoCode": code, "CustomerId": f"friend-{i}"}
        return client().post(url(program, "conversions"), body)

    results = run_in_threads(20, order)

    assert [status for status, _ in results] == [201] * 20
    assert all(body["status"] == ConversionStatus.ATTRIBUTED for _, body in results)
    rewards = Reward.objects.filter(advocate=advocate)
    assert rewards.count() == 20
    assert rewards.exclude(status=RewardStatus.CAPPED).count() == 5
    assert set(
        rewards.filter(status=RewardStatus.CAPPED).values_list("reason_code", flat=True)
    ) == {"reward_cap_month"}


@pytest.mark.postgres
@pytest.mark.django_db
def test_with_every_check_on_the_review_and_the_caps_cost_two_statements(conversion_path):
    """Review strict and caps set: the caps' locks, then one statement reading the review's
    facts and every cap's count, both in one round trip; with the policy off and no cap,
    neither."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def statements(program, code, order_id):
        with CaptureQueriesContext(connection) as queries:
            body = post(
                client_for(program),
                program,
                OrderId=order_id,
                OrderPromoCode=code.code,
                CustomerId=f"c-{order_id}",
                IpAddress="198.51.100.7",
            ).json()
        assert body["reward"]["status"] == RewardStatus.AVAILABLE, body
        return [q["sql"] for q in queries]

    plain, _, plain_code = capped_program()
    checked, _, checked_code = capped_program(
        review_policy="strict",
        reward_cap_advocate_month=100,
        reward_cap_advocate_total=100,
        reward_cap_program_day=100,
    )
    statements(plain, plain_code, "warm")
    without = statements(plain, plain_code, "O1")
    with_checks = statements(checked, checked_code, "O1")

    def review_or_caps(sql):
        return "pg_advisory_xact_lock" in sql or "FROM participants_reward" in sql

    assert not any(review_or_caps(s) for s in without), without
    # The locks and the read are two statements sent in one round trip, the locks first
    # (foundation.statements.execute_after).
    added = [s for s in with_checks if review_or_caps(s)]
    assert len(added) == 1, added
    assert len(with_checks) == len(without) + 1
    locks, read = added[0].split(";", 1)
    assert "pg_advisory_xact_lock" in locks and "participants_reward" not in locks
    assert "conversions_conversion" in read and read.count("participants_reward") == 3
