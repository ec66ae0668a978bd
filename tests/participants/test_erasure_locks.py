"""Erasing an advocate while an order redeems one of their codes, on PostgreSQL: whichever
starts first, neither deadlocks, the order is answered, and the erased advocate ends up
holding no code (a replacement the order handed them is voided too)."""

import time
from unittest import mock

import pytest
from django.db import transaction

from codes.models import PromoCode
from codes.services import code_redeem, codes_top_up
from participants.models import Participant
from participants.services import erasure as erasure_module
from participants.services import participant_erase, reward_grant
from tests.factories import ParticipantFactory, ProgramFactory, stock_pool
from tests.participants.test_lock_order import run_one_after_the_other
from tests.participants.test_rewards import converted

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def alice():
    program = ProgramFactory(slug="erase-locks", codes_per_advocate=2)
    stock_pool(program, 10)
    alice = ParticipantFactory(program=program, participant_id="alice")
    codes_top_up(holder=alice)
    return alice


def order_for(alice, code, *, pause):
    friend = ParticipantFactory(program=alice.program, participant_id="f", is_advocate=False)

    def order():
        with transaction.atomic():
            locked = (
                PromoCode.objects.select_for_update(of=("self",))
                .select_related("holder")
                .get(pk=code.pk)
            )
            time.sleep(pause)  # the erasure starts meanwhile
            code_redeem(code=locked, order_id="O-1", redeemed_by=friend)  # tops alice up
            reward_grant(referral=converted(alice.program, alice, "f2"))

    return order


def erase(alice):
    def run():
        participant_erase(program=alice.program, participant_id="alice")

    return run


def test_an_order_first_then_the_erasure(alice):
    code = PromoCode.objects.held_by(alice).order_by("pk").first()
    assert run_one_after_the_other(order_for(alice, code, pause=1), erase(alice)) == []
    erased = Participant.objects.get(pk=alice.pk)
    assert erased.is_erased
    assert PromoCode.objects.get(pk=code.pk).status == "redeemed"
    assert PromoCode.objects.held_by(erased).count() == 0


def test_the_erasure_first_then_an_order(alice):
    code = PromoCode.objects.held_by(alice).order_by("pk").first()
    original = erasure_module._order_friends

    def slow_order_friends(program, participant):
        time.sleep(1)  # the erasure holds the participant's lock; the order starts meanwhile
        return original(program, participant)

    with mock.patch.object(erasure_module, "_order_friends", slow_order_friends):
        errors = run_one_after_the_other(erase(alice), order_for(alice, code, pause=0))
    erased = Participant.objects.get(pk=alice.pk)
    assert erased.is_erased
    assert PromoCode.objects.held_by(erased).count() == 0
    # The order came after the code was voided: it could not redeem it.
    assert [type(e).__name__ for e in errors] in ([], ["CodeNotRedeemable"])
