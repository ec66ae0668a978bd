"""Writes with business meaning for participants. Keyword-only arguments, one transaction each."""

from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from codes.models import PoolKind, PromoCode
from codes.rules import InvalidCode, canonical_code
from codes.services import codes_top_up
from programs.models import RewardKind

from .models import Participant, Referral, ReferralStatus, Reward, RewardStatus

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
                participant, created = Participant.objects.select_for_update(
                    no_key=True
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
                codes_top_up(participant=participant)
                return participant, created
        except IntegrityError:
            continue  # a concurrent insert won the race; the retry finds its row
    raise RuntimeError("participant_upsert: could not insert or find the participant")


# --- Referrals and rewards --------------------------------------------------------------------


class ReferralRefused(ValueError):
    """A `referred_by_code` that cannot link the friend; `field` names the input at fault."""

    def __init__(self, message, field="referred_by_code"):
        super().__init__(message)
        self.field = field


def _referral_code_for_link(*, program, referred_by_code):
    """The held referral code named by `referred_by_code`, or ReferralRefused saying why."""
    try:
        canonical = canonical_code(referred_by_code)
    except InvalidCode as error:
        raise ReferralRefused(f"Not a valid code: {error}.") from None
    code = (
        PromoCode.objects.select_related("pool", "holder")
        .filter(program=program, code=canonical)
        .first()
    )
    if code is None or code.pool.kind != PoolKind.REFERRAL:
        raise ReferralRefused(f"{canonical} is not one of this program's referral codes.")
    if code.holder_id is None:
        raise ReferralRefused(f"{canonical} is not held by any advocate.")
    if code.holder.is_blocked:
        raise ReferralRefused(f"The advocate holding {canonical} is blocked.")
    return code


@transaction.atomic
def referral_link(*, friend, code):
    """Link `friend` to the advocate holding `code` as a pending referral.

    A friend is referred once per program: when they already have a referral the first one is
    kept and returned unchanged. Returns (referral, created). Refuses the friend's own code.
    """
    if code.holder_id is None:
        raise ReferralRefused(f"{code.code} is not held by any advocate.")
    if code.holder_id == friend.pk:
        raise ReferralRefused("A participant cannot be referred by their own code.")
    existing = Referral.objects.filter(friend=friend).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic():
            referral = Referral.objects.create(
                program_id=friend.program_id,
                advocate_id=code.holder_id,
                friend=friend,
                code=code,
                status=ReferralStatus.PENDING,
            )
    except IntegrityError:  # a concurrent link won: the first one is kept
        return Referral.objects.get(friend=friend), False
    return referral, True


@transaction.atomic
def participant_upsert_referred(*, program, participant_id, referred_by_code=None, **profile):
    """Upsert a participant (API, import, widget) and link them to the code that referred them.

    One transaction: a refused `referred_by_code` (unknown, not a referral code, held by nobody,
    their own) raises ReferralRefused and writes nothing. Returns (participant, created).
    """
    code = None
    if referred_by_code not in (None, ""):
        code = _referral_code_for_link(program=program, referred_by_code=referred_by_code)
    participant, created = participant_upsert(
        program=program, participant_id=participant_id, **profile
    )
    if code is not None:
        referral_link(friend=participant, code=code)
    return participant, created


def participant_friend_get_or_create(*, program, participant_id, email=""):
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


# savepoint=False: its own transaction when called alone; inside conversion_record it adds no
# savepoint round trips (an error aborts the whole order anyway).
@transaction.atomic(savepoint=False)
def referral_convert(*, referral=None, program=None, advocate=None, friend=None, code, order_id):
    """Mark a referral converted by an order (creating it for a friend not yet referred)."""
    now = timezone.now()
    if referral is None:
        referral = Referral.objects.create(
            program=program,
            advocate=advocate,
            friend=friend,
            code=code,
            status=ReferralStatus.CONVERTED,
            order_id=order_id,
            converted_at=now,
        )
        return referral
    referral.status = ReferralStatus.CONVERTED
    if advocate is not None:
        referral.advocate = advocate  # the code used at checkout wins over a pending link
    referral.code = code
    referral.order_id = order_id
    referral.converted_at = now
    referral.save(update_fields=["status", "advocate", "code", "order_id", "converted_at"])
    return referral


@transaction.atomic(savepoint=False)
def reward_grant(*, referral):
    """The advocate's reward for a converted referral, per the program's reward rule.

    Credit: amount and currency; percent: the percent. With a review period the reward is
    `pending` until `available_at` (the periodic task rewards_release_due makes it available);
    with none it is available at once. A fuel-tank reward waits for stock, without a code, until
    fuel tanks are filled (a later issue). One reward per referral (unique referral).
    """
    program = referral.program
    now = timezone.now()
    reward = Reward(program=program, advocate_id=referral.advocate_id, referral=referral)
    reward.kind = program.reward_kind
    if program.reward_kind == RewardKind.CREDIT:
        reward.amount = program.reward_amount
        reward.currency = program.reward_currency
    elif program.reward_kind == RewardKind.PERCENT:
        reward.percent = program.reward_percent
    if program.reward_kind == RewardKind.FUEL_TANK:
        reward.status = RewardStatus.WAITING_FOR_STOCK
    elif program.reward_review_days:
        reward.status = RewardStatus.PENDING
        reward.available_at = now + timedelta(days=program.reward_review_days)
    else:
        reward.status = RewardStatus.AVAILABLE
        reward.available_at = now
    reward.save()
    return reward


def rewards_release_due(*, now=None):
    """Make pending rewards whose review period is over available; return how many."""
    now = now or timezone.now()
    return Reward.objects.filter(status=RewardStatus.PENDING, available_at__lte=now).update(
        status=RewardStatus.AVAILABLE
    )


@transaction.atomic
def referral_reverse(*, referral):
    """Cancel a referral whose order was refunded, and its reward.

    A pending, available or waiting reward is cancelled; a paid one stays paid and is flagged
    needs_review. Codes are left alone (the code was used at the shop). Idempotent.
    """
    now = timezone.now()
    referral = Referral.objects.select_for_update().get(pk=referral.pk)
    if referral.status != ReferralStatus.CANCELLED:
        referral.status = ReferralStatus.CANCELLED
        referral.cancelled_at = now
        referral.save(update_fields=["status", "cancelled_at"])
    reward = Reward.objects.select_for_update().filter(referral=referral).first()
    if reward is not None:
        if reward.status == RewardStatus.PAID:
            if not reward.needs_review:
                reward.needs_review = True
                reward.save(update_fields=["needs_review"])
        elif reward.status != RewardStatus.CANCELLED:
            reward.status = RewardStatus.CANCELLED
            reward.cancelled_at = now
            reward.save(update_fields=["status", "cancelled_at"])
    return referral, reward


@transaction.atomic
def referral_link_from_code(*, friend, code_text):
    """The widget's attribution point: link `friend` to the holder of `code_text`, leniently.

    Returns the new Referral, or None when nothing is linked (a blank, unknown or fuel-tank
    code, one held by nobody or by a blocked advocate, the friend's own code, a friend already
    referred). Unlike the server API it never refuses: a stale code in a token must not stop
    an advocate's widget from loading.
    """
    if not (code_text or "").strip():
        return None
    try:
        code = _referral_code_for_link(program=friend.program, referred_by_code=code_text)
        referral, created = referral_link(friend=friend, code=code)
    except ReferralRefused:
        return None
    return referral if created else None
