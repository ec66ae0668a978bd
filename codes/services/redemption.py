"""Redemption and copies: a held code used in an order, or copied by its advocate."""

from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext

from programs.models import CodeUsage

from ..errors import CodeNotHeld, CodeNotRedeemable
from ..models import CodeState, CodeStatus, PromoCode
from ..rules import CodeUse, canonical_or_none, code_verdict
from .assignment import codes_top_up


@transaction.atomic
def code_redeem(*, code: PromoCode, order_id: str, redeemed_by=None) -> PromoCode:
    """Record one use of a held referral code in an order and top its advocate up.

    One conditional UPDATE … WHERE the code is still assigned: a single-use code is redeemed
    exactly once however many orders race for it (the first UPDATE wins, the others find it
    redeemed); a multi-use code counts one more use. The caller decides first whether the code
    may attribute at all (codes.rules.code_verdict); a code that stopped being assigned
    meanwhile raises CodeNotRedeemable with the reason. Returns `code`, updated.
    """
    now = timezone.now()
    single = code.usage == CodeUsage.SINGLE
    changes = {
        "redemption_count": F("redemption_count") + 1,
        "redeemed_order_id": order_id,
        "redeemed_by": redeemed_by,
        "redeemed_at": now,
    }
    if single:
        changes["status"] = CodeStatus.REDEEMED
    if not PromoCode.objects.filter(CodeState.ASSIGNED, pk=code.pk).update(**changes):
        current = PromoCode.objects.select_related("pool", "holder").get(pk=code.pk)
        verdict = code_verdict(current, use=CodeUse.ATTRIBUTE)
        raise CodeNotRedeemable(
            _lower_first(verdict.reason.rstrip("."))
            if not verdict.allowed
            else gettext("code changed")
        )
    code.redemption_count += 1
    code.redeemed_order_id = order_id
    code.redeemed_by = redeemed_by
    code.redeemed_at = now
    if single:
        code.status = CodeStatus.REDEEMED
        codes_top_up(holder=code.holder)  # a replacement at once
    return code


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


@dataclass(frozen=True)
class CodeCopy:
    code: str
    copied_before: bool
    first_copied_at: datetime


@transaction.atomic
def code_record_copy(*, participant, code_text: str) -> CodeCopy:
    """Record that a participant copied one of their codes: a referral code they hold, or a
    reward code revealed to them. Raise CodeNotHeld otherwise.

    The first copy is stamped by a conditional UPDATE … WHERE first_copied_at IS NULL, so of
    many concurrent copies exactly one is the first; `copied_before` tells the others.
    """
    canonical = canonical_or_none(code_text)
    code = (
        PromoCode.objects.select_related("pool")
        .filter(program_id=participant.program_id, code=canonical)
        .first()
        if canonical
        else None
    )
    verdict = code_verdict(code, use=CodeUse.COPY, text=code_text, participant_id=participant.pk)
    if not verdict.allowed:
        raise CodeNotHeld(verdict.reason)
    now = timezone.now()
    first = PromoCode.objects.filter(pk=code.pk, first_copied_at__isnull=True).update(
        first_copied_at=now
    )
    if first:
        return CodeCopy(code=code.code, copied_before=False, first_copied_at=now)
    stamped = PromoCode.objects.values_list("first_copied_at", flat=True).get(pk=code.pk)
    return CodeCopy(code=code.code, copied_before=True, first_copied_at=stamped)
