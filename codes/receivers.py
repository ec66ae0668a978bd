from django.dispatch import receiver

from programs.signals import promo_settings_changed

from .services import pool_get_or_create_referral


@receiver(promo_settings_changed, dispatch_uid="codes.referral_pool_on_enable")
def create_referral_pool(sender, program, change, **kwargs):
    if program.promo_codes_enabled:
        pool_get_or_create_referral(program=program)
