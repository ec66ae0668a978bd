import pytest
from django.db import IntegrityError, transaction

from participants.models import Referral, Reward
from tests.factories import ParticipantFactory, ProgramFactory

pytestmark = pytest.mark.django_db


def refused(make):
    with pytest.raises(IntegrityError), transaction.atomic():
        make()


def test_one_participant_per_program_and_id():
    program = ProgramFactory()
    ParticipantFactory(program=program, participant_id="u-1")
    refused(lambda: ParticipantFactory(program=program, participant_id="u-1"))
    assert ParticipantFactory(participant_id="u-1").program != program


def test_a_friend_is_referred_once_and_never_by_themselves():
    program = ProgramFactory()
    advocate, other, friend = (ParticipantFactory(program=program) for _ in range(3))
    Referral.objects.create(program=program, advocate=advocate, friend=friend)
    refused(lambda: Referral.objects.create(program=program, advocate=other, friend=friend))
    refused(lambda: Referral.objects.create(program=program, advocate=other, friend=other))


def test_one_reward_per_referral_and_a_credit_needs_an_amount():
    program = ProgramFactory()
    advocate, friend = ParticipantFactory(program=program), ParticipantFactory(program=program)
    referral = Referral.objects.create(program=program, advocate=advocate, friend=friend)
    Reward.objects.create(
        program=program,
        advocate=advocate,
        referral=referral,
        kind="credit",
        amount=5,
        currency="EUR",
    )
    refused(
        lambda: Reward.objects.create(
            program=program,
            advocate=advocate,
            referral=referral,
            kind="credit",
            amount=5,
            currency="EUR",
        )
    )
    other = Referral.objects.create(
        program=program, advocate=advocate, friend=ParticipantFactory(program=program)
    )
    refused(
        lambda: Reward.objects.create(
            program=program,
            advocate=advocate,
            referral=other,
            kind="credit",
            amount=None,
            currency="EUR",
        )
    )
    refused(
        lambda: Reward.objects.create(
            program=program, advocate=advocate, referral=other, kind="percent", percent=150
        )
    )
