"""What the participants app does when lower apps (programs, codes) signal a change."""

from django.dispatch import receiver

from codes.models import Pool
from codes.signals import pool_restocked, reward_codes_voided, reward_codes_voiding
from programs.signals import promo_settings_changed

from . import services


@receiver(promo_settings_changed, dispatch_uid="participants.top_up_after_switch")
def top_up_after_switch(sender, program, change, **kwargs):
    # After the one-way switch to single-use (advocates keep their multi-use code and are
    # topped up with single-use codes to the quota), when promo codes are turned on for a
    # program that already has advocates, or when codes per advocate is raised: a Celery task
    # over all advocates, on commit (its progress shows on the stock page).
    if program.promo_codes_enabled and (
        change.switches_to_single_use or change.turns_on or change.raises_quota
    ):
        services.advocates_top_up_program_later(program_id=program.pk)


@receiver(pool_restocked, dispatch_uid="participants.fill_waiting_rewards")
def fill_waiting_rewards(sender, pool: Pool, **kwargs):
    if pool.pays_rewards:
        services.rewards_fill_waiting(program=pool.program)


@receiver(reward_codes_voided, dispatch_uid="participants.reward_codes_voided")
def rewards_after_void(sender, program, code_ids, **kwargs):
    services.reward_codes_voided(program=program, code_ids=code_ids)


@receiver(reward_codes_voiding, dispatch_uid="participants.reward_codes_voiding")
def lock_rewards_before_void(sender, program, code_ids, **kwargs):
    services.rewards_lock_for_codes(code_ids=code_ids)
