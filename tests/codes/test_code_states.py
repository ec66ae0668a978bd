"""A code's states in one place: the queryset methods, the eligibility verdicts and the claim
engine's SQL agree (codes.models.CodeState, codes.rules.code_verdict, codes.sql)."""

import pytest
from django.utils import timezone

from codes import sql
from codes.models import CodeStatus, PromoCode
from codes.rules import CodeUse, canonical_code, canonical_or_none, code_verdict
from codes.services import code_redeem, codes_top_up, codes_void
from programs.models import CodeUsage
from tests.factories import ParticipantFactory, ProgramFactory, fuel_tank, stock_pool

pytestmark = pytest.mark.django_db


@pytest.fixture
def program():
    program = ProgramFactory(code_usage=CodeUsage.SINGLE, codes_per_advocate=2)
    stock_pool(program, 6)
    return program


def load(code_text):
    return PromoCode.objects.select_related("pool", "holder").get(code=code_text)


def test_the_queryset_names_each_state(program):
    alice = ParticipantFactory(program=program, participant_id="alice")
    codes_top_up(holder=alice)  # C00000, C00001
    code_redeem(code=load("C00000"), order_id="O-1")  # replaced by C00002
    codes_void(program=program, codes=["c00001"])  # replaced by C00003
    tank = fuel_tank(program, 2)
    sql.claim_one(pool_id=tank.pk, holder_id=alice.pk, now=timezone.now())  # a reward code

    def codes(queryset):
        return sorted(queryset.filter(program=program).values_list("code", flat=True))

    objects = PromoCode.objects
    assert codes(objects.held_by(alice)) == ["C00002", "C00003"]
    assert codes(objects.redeemed()) == ["C00000"]
    assert codes(objects.voided()) == ["C00001"]
    assert codes(objects.referral().available()) == ["C00004", "C00005"]
    assert codes(objects.reward()) == ["TANK00000", "TANK00001"]
    assert codes(objects.reward().assigned()) == ["TANK00000"]  # reserved, not held
    assert codes(objects.revealed_to(alice)) == []
    assert codes(objects.toward_quota(usage=CodeUsage.SINGLE).filter(holder=alice)) == [
        "C00002",
        "C00003",
    ]


def test_the_claim_engine_takes_only_what_the_available_state_names(program):
    codes_void(program=program, codes=["C00000", "C00002"])
    alice = ParticipantFactory(program=program)
    codes_top_up(holder=alice)
    assert sorted(PromoCode.objects.held_by(alice).values_list("code", flat=True)) == [
        "C00001",
        "C00003",
    ]
    where, params = sql.state_sql("AVAILABLE")
    assert "status" in where and params == [CodeStatus.AVAILABLE]


def test_canonical_form_is_one_rule():
    assert canonical_code("  ab-c_9 ") == "AB-C_9"
    assert canonical_or_none("a b") is None
    assert canonical_or_none("x" * 65) is None
    assert canonical_or_none(None) is None


@pytest.mark.parametrize(
    ("state", "use", "allowed", "reason"),
    [
        ("held", CodeUse.REFER, True, ""),
        ("held", CodeUse.ATTRIBUTE, True, ""),
        ("available", CodeUse.REFER, False, "is not held by any advocate"),
        ("available", CodeUse.ATTRIBUTE, False, "held by no advocate"),
        ("redeemed", CodeUse.REFER, True, ""),
        ("redeemed", CodeUse.ATTRIBUTE, False, "already redeemed"),
        ("voided", CodeUse.REFER, False, "was voided on"),
        ("voided", CodeUse.ATTRIBUTE, False, "was voided on"),
        ("blocked", CodeUse.REFER, False, "is blocked"),
        ("blocked", CodeUse.ATTRIBUTE, False, "advocate is blocked"),
        ("reward", CodeUse.REFER, False, "not one of this program's referral codes"),
        ("reward", CodeUse.ATTRIBUTE, False, "not one of the program's referral codes"),
        ("unknown", CodeUse.ATTRIBUTE, False, "not one of the program's referral codes"),
    ],
)
def test_one_verdict_says_what_a_code_may_do(program, state, use, allowed, reason):
    alice = ParticipantFactory(program=program, participant_id="alice")
    codes_top_up(holder=alice)  # C00000, C00001
    text = "C00000"
    if state == "available":
        text = "C00005"
    elif state == "redeemed":
        code_redeem(code=load("C00000"), order_id="O-1")
    elif state == "voided":
        codes_void(program=program, codes=["C00000"])
    elif state == "blocked":
        type(alice).objects.filter(pk=alice.pk).update(is_blocked=True)
    elif state == "reward":
        fuel_tank(program, 1)
        text = "TANK00000"
    code = None if state == "unknown" else load(text)
    verdict = code_verdict(code, use=use, text="NOPE")
    assert verdict.allowed is allowed
    assert reason in verdict.reason
    # Refusing a referral code rejects an order; anything else leaves it unattributed.
    if use == CodeUse.ATTRIBUTE and not allowed:
        assert verdict.is_referral_code is (state not in ("reward", "unknown"))


def test_a_friend_is_not_referred_by_their_own_code_and_copies_only_their_codes(program):
    alice = ParticipantFactory(program=program, participant_id="alice")
    bob = ParticipantFactory(program=program, participant_id="bob")
    codes_top_up(holder=alice)
    code = load("C00000")
    assert not code_verdict(code, use=CodeUse.REFER, participant_id=alice.pk).allowed
    assert code_verdict(code, use=CodeUse.REFER, participant_id=bob.pk).allowed
    assert code_verdict(code, use=CodeUse.COPY, participant_id=alice.pk).allowed
    refused = code_verdict(code, use=CodeUse.COPY, participant_id=bob.pk)
    assert not refused.allowed and "not one of your codes" in refused.reason
