"""What the conversions app does when a lower app (participants) signals a change, and after
every migrate."""

from django.db import DEFAULT_DB_ALIAS
from django.db.models.signals import post_migrate
from django.dispatch import receiver

from participants.signals import participant_erasing

from .services import conversions_forget_customer
from .sql import attribute_function_install


@receiver(participant_erasing, dispatch_uid="conversions.forget_erased_customer")
def forget_erased_customer(sender, program, participants, erased, **kwargs):
    return conversions_forget_customer(program=program, participants=participants, erased=erased)


@receiver(post_migrate, dispatch_uid="conversions.attribute_function")
def install_attribute_function(sender, using, **kwargs):
    # Every migrate re-installs the attribution function from the current rules
    # (conversions.sql), so the database never keeps running an older copy of them.
    if sender.name == "conversions" and using == DEFAULT_DB_ALIAS:
        attribute_function_install(only_if_present=True)
