"""What the conversions app does when a lower app (participants) signals a change."""

from django.dispatch import receiver

from participants.signals import participant_erasing

from .services import conversions_forget_customer


@receiver(participant_erasing, dispatch_uid="conversions.forget_erased_customer")
def forget_erased_customer(sender, program, participants, erased, **kwargs):
    return conversions_forget_customer(program=program, participants=participants, erased=erased)
