"""Voiding: taking codes out of use for good (a leaked multi-use code, a wrong batch).

A voided code is never assigned, never attributes (an order carrying it is rejected, saying
so) and is kept for the record with who voided it, when and why. An advocate who held a voided
code is topped up in the same transaction.
"""

from collections.abc import Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count, Q, QuerySet
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_noop, ngettext, pgettext

from audit.services import audit_record
from foundation.redaction import needles, pattern, redact
from programs.models import Program

from ..models import Batch, CodeState, CodeStatus, PoolKind, PromoCode
from ..rules import canonical_or_none
from ..signals import reward_codes_voided, reward_codes_voiding
from .assignment import codes_top_up

VOID_REASON_MAX = 255
# Codes named in one call are looked up this many at a time.
_LOOKUP_CHUNK = 5000
# A void's audit entry names at most this many of the codes it voided (the counts are exact).
AUDIT_CODES_NAMED = 100


@dataclass
class VoidResult:
    voided: int = 0
    already_voided: int = 0
    # Single-use codes already used in an order: left as they are (voiding changes nothing).
    redeemed_left: int = 0
    not_found: list[str] = field(default_factory=list)
    advocates_topped_up: int = 0
    codes_assigned: int = 0

    def summary(self) -> str:
        """What was done, in the active language (the audit trail keeps the English)."""
        parts = [
            ngettext("Voided %(count)s code", "Voided %(count)s codes", self.voided)
            % {"count": f"{self.voided:,}"}
        ]
        if self.already_voided:
            parts.append(
                ngettext(
                    "%(count)s was already voided",
                    "%(count)s were already voided",
                    self.already_voided,
                )
                % {"count": f"{self.already_voided:,}"}
            )
        if self.redeemed_left:
            parts.append(
                ngettext(
                    "%(count)s already redeemed was left as it was",
                    "%(count)s already redeemed were left as they are",
                    self.redeemed_left,
                )
                % {"count": f"{self.redeemed_left:,}"}
            )
        if self.not_found:
            parts.append(
                ngettext(
                    "%(count)s is not a code of this program",
                    "%(count)s are not codes of this program",
                    len(self.not_found),
                )
                % {"count": f"{len(self.not_found):,}"}
            )
        text = _("%(parts)s.") % {"parts": pgettext("clause separator", "; ").join(parts)}
        if self.advocates_topped_up or self.codes_assigned:
            text += " " + ngettext(
                "%(count)s advocate who held them got %(codes)s.",
                "%(count)s advocates who held them got %(codes)s.",
                self.advocates_topped_up,
            ) % {
                "count": f"{self.advocates_topped_up:,}",
                "codes": ngettext("%(count)s new code", "%(count)s new codes", self.codes_assigned)
                % {"count": f"{self.codes_assigned:,}"},
            }
        return text


@dataclass(frozen=True)
class VoidPreview:
    """What voiding a set of codes would do: for the confirmation page."""

    to_void: int
    already_voided: int
    redeemed_left: int
    holders_to_top_up: int
    reward_codes: int


def codes_void_preview(*, codes: QuerySet[PromoCode]) -> VoidPreview:
    counts = {status: 0 for status in CodeStatus.values}
    for status, count in _status_counts(codes):
        counts[status] = count
    voidable = codes.filter(status__in=[CodeStatus.AVAILABLE, CodeStatus.ASSIGNED])
    holders = voidable.filter(CodeState.HELD).values("holder_id").distinct().count()
    return VoidPreview(
        to_void=counts[CodeStatus.AVAILABLE] + counts[CodeStatus.ASSIGNED],
        already_voided=counts[CodeStatus.VOIDED],
        redeemed_left=counts[CodeStatus.REDEEMED],
        holders_to_top_up=holders,
        reward_codes=voidable.filter(pool__kind=PoolKind.FUEL_TANK).count(),
    )


def _status_counts(codes):
    return codes.order_by().values("status").annotate(n=Count("id")).values_list("status", "n")


@transaction.atomic
def codes_void(
    *,
    program: Program,
    codes: Iterable[str] | None = None,
    batch: Batch | None = None,
    queryset: QuerySet[PromoCode] | None = None,
    by=None,
    reason: str = "",
    audit_object=None,
) -> VoidResult:
    """Void codes of `program`: named ones (any case), a whole batch, or a queryset of them.

    One transaction: the codes are locked (in id order, so two voids never deadlock),
    re-checked and voided; redeemed ones are left as they are; then every advocate who held a
    voided referral code is topped up. A fuel-tank code reserved for or revealed to a reward is
    voided too, and the rewards app is told (its reward gets another code, or is flagged).
    `by` is the user who voided (None for a command); `reason` is kept on each code.

    The audit trail gets one entry for the whole void, with its counts and reason, against
    `audit_object` (the blocked advocate, say), else the batch, else the program: never one
    per code.
    """
    result = VoidResult()
    selected = PromoCode.objects.filter(program=program)
    if batch is not None:
        if batch.pool.program_id != program.pk:
            raise ValueError(f"Batch {batch.pk} is not a batch of program {program.slug!r}.")
        selected = selected.filter(batch=batch)
    elif queryset is not None:
        selected = selected.filter(pk__in=queryset.values("pk"))
    elif codes is not None:
        wanted = _canonical_codes(codes, result)
        ids: list[int] = []
        for start in range(0, len(wanted), _LOOKUP_CHUNK):
            chunk = wanted[start : start + _LOOKUP_CHUNK]
            found = dict(selected.filter(code__in=chunk).values_list("code", "pk"))
            result.not_found += [c for c in chunk if c not in found]
            ids += found.values()
        selected = selected.filter(pk__in=ids)
    else:
        raise ValueError("Name the codes to void: codes, a batch or a queryset.")
    # Lock order: a reward before its code, as on every rewards path (cancel, release, fill):
    # the rewards app locks the rewards of the fuel-tank codes about to be voided first.
    rewarded = selected.filter(CodeState.ASSIGNED & CodeState.IN_FUEL_TANK)
    rewarded_ids = list(rewarded.values_list("pk", flat=True))
    if rewarded_ids:
        reward_codes_voiding.send(sender=PromoCode, program=program, code_ids=rewarded_ids)
    locked = list(
        selected.select_for_update(of=("self",))
        .select_related("pool")
        .order_by("pk")
        .only("pk", "status", "holder_id", "pool__kind")
    )
    to_void = []
    holders = set()
    reward_code_ids = []
    for code in locked:
        if code.status == CodeStatus.VOIDED:
            result.already_voided += 1
        elif code.status == CodeStatus.REDEEMED:
            result.redeemed_left += 1
        else:
            to_void.append(code.pk)
            if code.pool.kind == PoolKind.FUEL_TANK:
                if code.status == CodeStatus.ASSIGNED:
                    reward_code_ids.append(code.pk)
            elif code.status == CodeStatus.ASSIGNED:
                holders.add(code.holder_id)
    note = (reason or "").strip()[:VOID_REASON_MAX]
    now = timezone.now()
    for start in range(0, len(to_void), _LOOKUP_CHUNK):
        chunk = to_void[start : start + _LOOKUP_CHUNK]
        result.voided += PromoCode.objects.filter(pk__in=chunk).update(
            status=CodeStatus.VOIDED, voided_at=now, voided_by=by, void_reason=note
        )
    holder_model = PromoCode._meta.get_field("holder").related_model
    for holder in holder_model.objects.filter(pk__in=holders).order_by("pk"):
        assigned = codes_top_up(holder=holder)
        result.advocates_topped_up += bool(assigned)
        result.codes_assigned += assigned
    if reward_code_ids:
        reward_codes_voided.send(sender=PromoCode, program=program, code_ids=reward_code_ids)
    _audit_void(
        obj=audit_object or batch or program,
        result=result,
        reason=note,
        voided_ids=to_void,
        reward_codes=len(reward_code_ids),
    )
    return result


def _english(sentence) -> str:
    with translation.override("en"):  # the audit trail is kept in English
        return sentence()


def _audit_void(*, obj, result: VoidResult, reason: str, voided_ids: list[int], reward_codes):
    named = list(
        PromoCode.objects.filter(pk__in=voided_ids[:AUDIT_CODES_NAMED])
        .order_by("pk")
        .values_list("code", flat=True)
    )
    details = {
        gettext_noop("summary"): _english(result.summary),
        gettext_noop("voided"): result.voided,
        gettext_noop("already voided"): result.already_voided,
        gettext_noop("redeemed, left as they are"): result.redeemed_left,
        gettext_noop("not codes of the program"): len(result.not_found),
        gettext_noop("reward codes among them"): reward_codes,
        gettext_noop("advocates topped up"): result.advocates_topped_up,
        gettext_noop("reason"): reason,
    }
    if named:
        more = len(voided_ids) - len(named)
        details[gettext_noop("codes")] = named + ([f"… and {more:,} more"] if more > 0 else [])
    audit_record(obj=obj, event=gettext_noop("codes voided"), details=details)


def _canonical_codes(codes: Iterable[str], result: VoidResult) -> list[str]:
    wanted: dict[str, None] = {}
    for text in codes:
        canonical = canonical_or_none(text)
        if canonical is None:
            result.not_found.append(str(text)[:100])
        else:
            wanted[canonical] = None
    return list(wanted)


def codes_void_reasons_forget(*, holder_id: int, values: list[str]) -> int:
    """A participant's personal data was erased: a void reason on their codes that names them
    (typed by a manager, say) is replaced. Returns how many codes changed."""
    needles = [v.lower() for v in values if v and len(v) >= 3]
    changed = 0
    reasons = (
        PromoCode.objects.filter(holder_id=holder_id)
        .exclude(void_reason="")
        .values_list("pk", "void_reason")
    )
    for pk, reason in reasons:
        if any(needle in reason.lower() for needle in needles):
            changed += PromoCode.objects.filter(pk=pk).update(void_reason="[erased]")
    return changed


def codes_void_reasons_redact(*, program: Program, values: list[str]) -> int:
    """A participant's personal data was erased: every void reason of the program's codes that
    quotes them (a batch voided "Leaked by <their address>", whoever held the codes) keeps its
    words with the values cut out. Returns how many codes changed."""
    compiled = pattern(values)
    if compiled is None:
        return 0
    quoting = Q()
    for value in needles(values):
        quoting |= Q(void_reason__icontains=value)
    changed = 0
    reasons = (
        PromoCode.objects.filter(pool__program=program, status=CodeStatus.VOIDED)
        .filter(quoting)
        .values_list("pk", "void_reason")
    )
    for pk, reason in reasons:
        changed += PromoCode.objects.filter(pk=pk).update(void_reason=redact(reason, compiled))
    return changed
