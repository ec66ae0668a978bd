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


# --- Attribution from a code at upsert (widget load) -----------------------------------------


@transaction.atomic
def referral_link_from_code(*, friend, code_text):
    """Link `friend` to the advocate holding `code_text` as a pending referral.

    Returns the new Referral, or None when nothing is linked: a blank or unknown code, a code
    held by nobody, the friend's own code, a blocked advocate, or a friend already referred
    (the first code that reached a friend wins).
    """
    # Imported here so this block stays self-contained until it is reconciled with the
    # server API's referral-link service.
    from codes.models import PoolKind, PromoCode

    from .models import Referral

    canonical = PromoCode.canonical(code_text or "")
    if not canonical:
        return None
    code = (
        PromoCode.objects.filter(
            program_id=friend.program_id,
            code=canonical,
            pool__kind=PoolKind.REFERRAL,
            holder__isnull=False,
        )
        .select_related("holder")
        .first()
    )
    if code is None or code.holder_id == friend.pk or code.holder.is_blocked:
        return None
    if Referral.objects.filter(friend=friend).exists():
        return None
    try:
        with transaction.atomic():
            return Referral.objects.create(
                program_id=friend.program_id, advocate=code.holder, friend=friend, code=code
            )
    except IntegrityError:
        return None  # a concurrent link for this friend won
