"""Celery tasks of the participants app: thin, each loads what it needs and calls a service."""

import logging

from celery import shared_task
from django.utils import timezone

from codes.topups import program_topup_note
from programs.models import Program

from .models import Reward, RewardStatus
from .selectors import advocates_to_top_up
from .services import advocates_top_up_program, rewards_fill_waiting, rewards_release_due

log = logging.getLogger(__name__)


@shared_task(name="participants.rewards_release_due")
def rewards_release_due_task():
    """Periodic (beat): pending rewards whose review period is over become available."""
    return rewards_release_due()


@shared_task(name="participants.rewards_fill_waiting")
def rewards_fill_waiting_task(program_id=None):
    """Rewards waiting for a fuel-tank code get one, oldest first (of one program, or, from
    beat, of every program with rewards waiting)."""
    # Any program with rewards waiting, whatever its reward kind now: rewards earned as
    # fuel-tank codes before a switch to another kind are still owed a code.
    programs = Program.objects.all()
    if program_id:
        programs = programs.filter(pk=program_id)
    else:
        waiting = Reward.objects.filter(status=RewardStatus.WAITING_FOR_STOCK)
        programs = programs.filter(pk__in=waiting.values("program_id"))
    filled = 0
    for program in programs:
        filled += rewards_fill_waiting(program=program)
    return filled


@shared_task(name="participants.top_up_program_advocates")
def top_up_program_advocates(program_id):
    """Every advocate of the program to quota; how far it got is kept for the stock page."""
    program = Program.objects.get(pk=program_id)
    program_topup_note(
        program_id=program.pk,
        state="running",
        quota=program.codes_per_advocate,
        advocates_total=advocates_to_top_up(program=program).count(),
    )

    def progress(run):
        program_topup_note(
            program_id=program.pk,
            advocates_seen=run.advocates_seen,
            codes_assigned=run.codes_assigned,
        )

    run = advocates_top_up_program(program=program, progress=progress)
    program_topup_note(
        program_id=program.pk,
        state="done",
        advocates_seen=run.advocates_seen,
        codes_assigned=run.codes_assigned,
        finished_at=timezone.now(),
    )
    log.info("Top-up of all advocates of %s: %s", program.slug, run)
    return run.codes_assigned
