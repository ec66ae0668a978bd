"""Lock order on PostgreSQL: an order (code row, then the holder lock, then the participant's
key share at commit), a block, a void and a reward cancel all take their locks in one order, so
none of them ever meets another in a deadlock. Each test holds one side's first lock on purpose
while the other side starts (a pause orders the two, it measures nothing)."""

import threading
import time

import pytest
from django.db import connection, transaction

from codes.models import PromoCode
from codes.services import code_redeem, codes_top_up, codes_void
from participants.models import Participant, Reward, RewardStatus
from participants.services import participant_block, reward_cancel, reward_grant
from tests.factories import ParticipantFactory, ProgramFactory, fuel_tank, stock_pool
from tests.participants.test_rewards import converted

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]


def run_one_after_the_other(first, second):
    errors = []

    def wrap(work):
        def run():
            try:
                work()
            except Exception as error:  # surfaced below
                errors.append(error)
            finally:
                connection.close()

        return threading.Thread(target=run)

    threads = [wrap(first), wrap(second)]
    threads[0].start()
    time.sleep(0.5)  # the first has taken its first lock
    threads[1].start()
    for thread in threads:
        thread.join(60)
    return errors


@pytest.fixture
def alice():
    program = ProgramFactory(slug="locks", codes_per_advocate=2)
    stock_pool(program, 10)
    alice = ParticipantFactory(program=program, participant_id="alice")
    codes_top_up(holder=alice)
    return alice


@pytest.mark.parametrize("void_codes", [True, False])
def test_an_order_and_a_block_of_its_advocate(alice, void_codes):
    code = PromoCode.objects.held_by(alice).order_by("pk").first()
    friend = ParticipantFactory(program=alice.program, participant_id="f", is_advocate=False)

    def order():
        with transaction.atomic():
            locked = (
                PromoCode.objects.select_for_update(of=("self",))
                .select_related("holder")
                .get(pk=code.pk)
            )
            time.sleep(1)  # the block starts meanwhile
            code_redeem(code=locked, order_id="O-1", redeemed_by=friend)  # the holder lock
            reward_grant(referral=converted(alice.program, alice, "f2"))  # key share at commit

    def block():
        participant_block(participant=Participant.objects.get(pk=alice.pk), void_codes=void_codes)

    assert run_one_after_the_other(order, block) == []
    assert Participant.objects.get(pk=alice.pk).is_blocked


def test_voiding_a_reward_code_while_its_reward_is_cancelled():
    program = ProgramFactory(slug="tank-locks")
    fuel_tank(program, 3, review_days=5)
    alice = ParticipantFactory(program=program, participant_id="alice")
    reward = reward_grant(referral=converted(program, alice, "f1"))
    assert reward.status == RewardStatus.PENDING and reward.code_id

    def cancel():
        with transaction.atomic():
            Reward.objects.select_for_update().get(pk=reward.pk)
            time.sleep(1)  # the void starts meanwhile
            reward_cancel(reward=reward)

    def void():
        codes_void(program=program, codes=[reward.code.code])

    assert run_one_after_the_other(cancel, void) == []
    reward.refresh_from_db()
    assert reward.status == RewardStatus.CANCELLED
