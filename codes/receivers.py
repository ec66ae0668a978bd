from django.dispatch import receiver

from programs.signals import promo_settings_changed

from .services import pool_get_or_create_referral, program_advocates_top_up_later


@receiver(promo_settings_changed, dispatch_uid="codes.referral_pool_on_enable")
def create_referral_pool(sender, program, change, **kwargs):
    if program.promo_codes_enabled:
        pool_get_or_create_referral(program=program)


@receiver(promo_settings_changed, dispatch_uid="codes.top_up_after_switch")
def top_up_after_switch(sender, program, change, **kwargs):
    # After the one-way switch to single-use (advocates keep their multi-use code and are
    # topped up with single-use codes to the quota), or when promo codes are turned on for a
    # program that already has advocates: a Celery task over all advocates, on commit.
    if program.promo_codes_enabled and (change.switches_to_single_use or change.turns_on):
        program_advocates_top_up_later(program_id=program.pk)
