"""Participants created or updated: by the brand (API, import), by the widget, by an order."""

from django.db import IntegrityError, transaction

from codes.services import codes_top_up
from foundation.events import PARTICIPANT_CREATED
from programs.models import Program

from ..events import participant_emit
from ..models import ERASED_ID_PREFIX, Participant, is_reserved_participant_id
from .referrals import referral_code_for_link, referral_link

PROFILE_FIELDS = ("email", "first_name", "last_name", "account_id", "locale")


def participant_upsert(
    *, program: Program, participant_id: str, **profile: str | None
) -> tuple[Participant, bool]:
    """Create or update a participant by the brand's id and top their codes up.

    Returns (participant, created). An upsert makes the participant an advocate (a friend
    first seen in a conversion becomes one here) and brings them to their code quota.

    Insert-and-retry on the unique (program, participant_id) index: two concurrent upserts of a
    new participant both end on the same row.
    """
    unknown = set(profile) - set(PROFILE_FIELDS)
    if unknown:
        raise TypeError(f"Unknown participant fields: {', '.join(sorted(unknown))}")
    if is_reserved_participant_id(participant_id):
        # The entry points refuse it with a message first (API, widget token, import).
        raise ValueError(f"Participant ids starting with {ERASED_ID_PREFIX!r} are reserved.")
    values = {k: v for k, v in profile.items() if v is not None}
    for _ in range(2):
        try:
            with transaction.atomic():
                participant, created = Participant.objects.select_for_update(
                    no_key=True, of=("self",)
                ).get_or_create(
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
                if created:
                    participant_emit(participant=participant, type=PARTICIPANT_CREATED)
                codes_top_up(holder=participant)
                return participant, created
        except IntegrityError:
            continue  # a concurrent insert won the race; the retry finds its row
    raise RuntimeError("participant_upsert: could not insert or find the participant")


@transaction.atomic
def participant_upsert_referred(
    *,
    program: Program,
    participant_id: str,
    referred_by_code: str | None = None,
    **profile: str | None,
) -> tuple[Participant, bool]:
    """Upsert a participant (API, import, widget) and link them to the code that referred them.

    One transaction: a refused `referred_by_code` (unknown, not a referral code, voided, held by
    nobody, their own) raises ReferralRefused and writes nothing. Returns (participant, created).
    """
    code = None
    if referred_by_code not in (None, ""):
        code = referral_code_for_link(program=program, referred_by_code=referred_by_code)
    participant, created = participant_upsert(
        program=program, participant_id=participant_id, **profile
    )
    if code is not None:
        referral_link(friend=participant, code=code)
    return participant, created


def participant_friend_get_or_create(
    *, program: Program, participant_id: str, email: str = ""
) -> tuple[Participant, bool]:
    """The friend named by a conversion, created (not an advocate, no codes) when unknown.

    Returns (participant, created). Insert-and-retry on the unique (program, participant_id)
    index. Call inside a transaction.
    """
    for _ in range(2):
        friend = Participant.objects.filter(program=program, participant_id=participant_id).first()
        if friend is not None:
            return friend, False
        try:
            with transaction.atomic():
                friend = Participant.objects.create(
                    program=program,
                    participant_id=participant_id,
                    email=email or "",
                    is_advocate=False,
                )
                return friend, True
        except IntegrityError:
            continue
    raise RuntimeError("participant_friend_get_or_create: could not insert or find the friend")
