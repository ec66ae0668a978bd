"""Advocates and their codes: who may hold codes, blocking, a code added by hand, and topping
up every advocate of a program. The codes app does the code work; this module says who."""

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from audit.services import audit_record
from codes.models import PromoCode
from codes.services import (
    CannotAddCode,
    PromoCodesOff,
    TopUpRun,
    VoidResult,
    code_add_manual,
    codes_holder_withdraw,
    codes_top_up,
    codes_top_up_holders,
    codes_void,
)
from codes.topups import program_topup_note
from foundation.tasks import enqueue_on_commit
from programs.models import Program

from ..models import Participant
from ..selectors import advocates_to_top_up

TOP_UP_CHUNK = 200


@transaction.atomic
def participant_code_add(*, participant: Participant, prefix: str | None = None) -> PromoCode:
    """ "Add referral code": a new code for this advocate, outside the pool's stock.

    Raises CannotAddCode or PromoCodesOff with a message for the program manager."""
    participant = Participant.objects.select_related("program").get(pk=participant.pk)
    program = participant.program
    if not program.promo_codes_enabled:
        raise PromoCodesOff(
            f"Referral promo codes are off for {program.name}: turn them on in the program's "
            "settings first."
        )
    if not participant.is_advocate:
        raise CannotAddCode(
            f"{participant} is a referred friend, not an advocate yet: they get codes once your "
            "site or the API registers them as a participant themselves."
        )
    if participant.is_blocked:
        raise CannotAddCode(f"{participant} is blocked: unblock them first to give them codes.")
    if participant.is_erased:
        raise CannotAddCode("This participant was erased: they get no codes.")
    code = code_add_manual(holder=participant, prefix=prefix)
    audit_record(
        obj=participant,
        event=gettext_noop("referral code added by hand"),
        changes={gettext_noop("referral code"): ("", code.code)},
    )
    return code


@dataclass(frozen=True)
class BlockResult:
    participant: Participant
    newly_blocked: bool
    voided: VoidResult | None


@transaction.atomic
def participant_block(
    *, participant: Participant, void_codes: bool = False, by=None, reason: str = ""
) -> BlockResult:
    """Block an advocate: their codes stop attributing orders and they get no new codes. With
    `void_codes`, the referral codes they hold are voided too (kept for the record)."""
    # Lock order, the same as an order's: the participant row (NO KEY, so the rows that merely
    # reference it can still be written), then codes, then the holder lock last.
    participant = Participant.objects.select_for_update(no_key=True, of=("self",)).get(
        pk=participant.pk
    )
    newly = not participant.is_blocked
    if newly:
        participant.is_blocked = True
        participant.blocked_at = timezone.now()
        participant.save(update_fields=["is_blocked", "blocked_at", "updated_at"])
        audit_record(
            obj=participant,
            event=gettext_noop("advocate blocked"),
            changes={"is_blocked": (False, True)},
            details={gettext_noop("reason"): reason.strip()} if reason.strip() else None,
        )
    voided = None
    if void_codes:
        # The code's holder says whose it was: the reason need not name them.
        note = reason.strip() or "advocate blocked"
        voided = codes_void(
            program=participant.program,
            queryset=PromoCode.objects.held_by(participant),
            by=by,
            reason=note,
            audit_object=participant,
        )
    codes_holder_withdraw(holder_id=participant.pk)
    return BlockResult(participant=participant, newly_blocked=newly, voided=voided)


@transaction.atomic
def participant_unblock(*, participant: Participant) -> int:
    """Unblock an advocate; they are topped up to their quota again. Returns codes assigned."""
    participant = Participant.objects.select_for_update(no_key=True, of=("self",)).get(
        pk=participant.pk
    )
    if participant.is_blocked:
        participant.is_blocked = False
        participant.blocked_at = None
        participant.save(update_fields=["is_blocked", "blocked_at", "updated_at"])
        audit_record(
            obj=participant,
            event=gettext_noop("advocate unblocked"),
            changes={"is_blocked": (True, False)},
        )
    return codes_top_up(holder=participant)


def advocates_top_up_program(*, program: Program, progress=None) -> TopUpRun:
    """Top up every advocate of the program to quota (after the switch to single-use, or when
    promo codes are turned on for a program that already has advocates).

    Goes through the advocates in id order, each in their own short transaction. When the pool
    runs dry the rest are still visited, so each joins the queue of the short and is served
    when a batch lands. Safe to re-run and to run twice at once."""
    run = TopUpRun()
    if not program.promo_codes_enabled:
        return run
    advocates = advocates_to_top_up(program=program)
    after = 0
    while True:
        chunk = list(
            advocates.filter(pk__gt=after)
            .order_by("pk")
            .only("pk", "program_id", "is_advocate", "is_blocked", "erased_at")[:TOP_UP_CHUNK]
        )
        codes_top_up_holders(holders=chunk, run=run)
        if progress is not None and chunk:
            progress(run)
        if len(chunk) < TOP_UP_CHUNK:
            return run
        after = chunk[-1].pk


def advocates_top_up_program_later(*, program_id: int) -> None:
    """Enqueue, on commit, a top-up of every advocate of the program (a Celery task); the stock
    page shows it queued from then on."""
    from ..tasks import top_up_program_advocates

    def queued():
        quota = Program.objects.filter(pk=program_id).values_list("codes_per_advocate", flat=True)
        program_topup_note(
            program_id=program_id,
            state="queued",
            quota=quota.first(),
            queued_at=timezone.now(),
            advocates_total=None,
            advocates_seen=0,
            codes_assigned=0,
            finished_at=None,
        )

    transaction.on_commit(queued)
    enqueue_on_commit(top_up_program_advocates, program_id)
