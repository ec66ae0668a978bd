"""Who may hold codes: one definition (participants.models.MAY_HOLD_CODES), the queryset and
the instance agree on every combination."""

import itertools

import pytest
from django.utils import timezone

from participants.models import Participant
from tests.factories import ProgramFactory


@pytest.mark.django_db
def test_the_queryset_and_the_instance_agree_on_who_may_hold_codes():
    program = ProgramFactory()
    combinations = list(itertools.product([False, True], [False, True], [None, timezone.now()]))
    for n, (advocate, blocked, erased_at) in enumerate(combinations):
        Participant.objects.create(
            program=program,
            participant_id=f"p{n}",
            is_advocate=advocate,
            is_blocked=blocked,
            erased_at=erased_at,
        )
    may = set(Participant.objects.may_hold_codes().values_list("participant_id", flat=True))
    assert may == {p.participant_id for p in Participant.objects.all() if p.can_hold_codes}
    # Only an advocate neither blocked nor erased.
    assert may == {"p4"}
