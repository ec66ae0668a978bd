"""Writes with business meaning for participants. Keyword-only arguments, one transaction each."""

from django.db import IntegrityError, transaction

from codes.services import codes_top_up

from .models import Participant

PROFILE_FIELDS = ("email", "first_name", "last_name", "account_id")


def participant_upsert(*, program, participant_id, **profile):
    """Create or update a participant by the brand's id and top their codes up.

    Returns (participant, created). An upsert makes the participant an advocate (a friend
    first seen in a conversion becomes one here) and brings them to their code quota.

    Insert-and-retry on the unique (program, participant_id) index: two concurrent upserts of a
    new participant both end on the same row.
    """
    unknown = set(profile) - set(PROFILE_FIELDS)
    if unknown:
        raise TypeError(f"Unknown participant fields: {', '.join(sorted(unknown))}")
    values = {k: v for k, v in profile.items() if v is not None}
    for _ in range(2):
        try:
            with transaction.atomic():
                participant, created = Participant.objects.select_for_update().get_or_create(
                    program=program,
                    participant_id=participant_id,
                    defaults={**values, "is_advocate": True},
                )
                if not created:
                    changed = []
                    for name, value in values.items():
                        if getattr(participant, name) != value:
                            setattr(participant, name, value)
                            changed.append(name)
                    if not participant.is_advocate:  # a friend seen first in a conversion
                        participant.is_advocate = True
                        changed.append("is_advocate")
                    if changed:
                        participant.save(update_fields=[*changed, "updated_at"])
                codes_top_up(participant=participant)
                return participant, created
        except IntegrityError:
            continue  # a concurrent insert won the race; the retry finds its row
    raise RuntimeError("participant_upsert: could not insert or find the participant")
