"""Referrals: a friend linked to the advocate whose code reached them; converted by an order;
cancelled by a reversal."""

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from codes.models import PromoCode
from codes.rules import CodeUse, InvalidCode, canonical_code, code_verdict
from programs.models import Program

from ..models import Participant, Referral, ReferralStatus, Reward
from .rewards import reward_cancel


class ReferralRefused(ValueError):
    """A `referred_by_code` that cannot link the friend; `field` names the input at fault."""

    def __init__(self, message: str, field: str = "referred_by_code"):
        super().__init__(message)
        self.field = field


def referral_code_for_link(*, program: Program, referred_by_code: str) -> PromoCode:
    """The held referral code named by `referred_by_code`, or ReferralRefused saying why."""
    try:
        canonical = canonical_code(referred_by_code)
    except InvalidCode as error:
        raise ReferralRefused(_("Not a valid code: %(problem)s.") % {"problem": error}) from None
    code = (
        PromoCode.objects.select_related("pool", "holder")
        .filter(program=program, code=canonical)
        .first()
    )
    verdict = code_verdict(code, use=CodeUse.REFER, text=canonical)
    if not verdict.allowed:
        raise ReferralRefused(verdict.reason)
    return code


@transaction.atomic
def referral_link(*, friend: Participant, code: PromoCode) -> tuple[Referral, bool]:
    """Link `friend` to the advocate holding `code` as a pending referral.

    A friend is referred once per program: when they already have a referral the first one is
    kept and returned unchanged. Returns (referral, created). Refuses the friend's own code.
    """
    verdict = code_verdict(code, use=CodeUse.REFER, participant_id=friend.pk)
    if not verdict.allowed:
        raise ReferralRefused(verdict.reason)
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
def referral_link_from_code(*, friend: Participant, code_text: str | None) -> Referral | None:
    """The widget's attribution point: link `friend` to the holder of `code_text`, leniently.

    Returns the new Referral, or None when nothing is linked (a blank, unknown, voided or
    fuel-tank code, one held by nobody or by a blocked advocate, the friend's own code, a friend
    already referred). Unlike the server API it never refuses: a stale code in a token must not
    stop an advocate's widget from loading.
    """
    if not (code_text or "").strip():
        return None
    try:
        code = referral_code_for_link(program=friend.program, referred_by_code=code_text)
        referral, created = referral_link(friend=friend, code=code)
    except ReferralRefused:
        return None
    return referral if created else None


# savepoint=False: its own transaction when called alone; inside conversion_record it adds no
# savepoint round trips (an error aborts the whole order anyway).
@transaction.atomic(savepoint=False)
def referral_convert(
    *,
    referral: Referral | None = None,
    program: Program | None = None,
    advocate: Participant | None = None,
    friend: Participant | None = None,
    code: PromoCode,
    order_id: str,
) -> Referral:
    """Mark a referral converted by an order (creating it for a friend not yet referred)."""
    now = timezone.now()
    if referral is None:
        return Referral.objects.create(
            program=program,
            advocate=advocate,
            friend=friend,
            code=code,
            status=ReferralStatus.CONVERTED,
            order_id=order_id,
            converted_at=now,
        )
    referral.status = ReferralStatus.CONVERTED
    if advocate is not None:
        referral.advocate = advocate  # the code used at checkout wins over a pending link
    referral.code = code
    referral.order_id = order_id
    referral.converted_at = now
    referral.save(update_fields=["status", "advocate", "code", "order_id", "converted_at"])
    return referral


@transaction.atomic
def referral_reverse(*, referral: Referral) -> tuple[Referral, Reward | None]:
    """Cancel a referral whose order was refunded, and its reward (rewards.reward_cancel: a paid
    reward stays paid and is flagged needs_review). Codes are left alone (the code was used at
    the shop). Idempotent."""
    now = timezone.now()
    referral = Referral.objects.select_for_update().get(pk=referral.pk)
    if referral.status != ReferralStatus.CANCELLED:
        referral.status = ReferralStatus.CANCELLED
        referral.cancelled_at = now
        referral.save(update_fields=["status", "cancelled_at"])
    reward = Reward.objects.select_for_update().filter(referral=referral).first()
    if reward is not None:
        reward = reward_cancel(reward=reward, flag_paid=True)
    return referral, reward
