from django.db import DEFAULT_DB_ALIAS
from django.db.models.signals import post_migrate
from django.dispatch import receiver

from programs.signals import promo_settings_changed

from .services import pool_get_or_create_referral
from .sql import top_up_function_install


@receiver(promo_settings_changed, dispatch_uid="codes.referral_pool_on_enable")
def create_referral_pool(sender, program, change, **kwargs):
    if program.promo_codes_enabled:
        pool_get_or_create_referral(program=program)


@receiver(post_migrate, dispatch_uid="codes.top_up_function")
def install_top_up_function(sender, using, **kwargs):
    # Every migrate re-installs the top-up function from the current state rules (CodeState),
    # so the database never keeps running an older copy of them.
    if sender.name == "codes" and using == DEFAULT_DB_ALIAS:
        top_up_function_install(only_if_present=True)
