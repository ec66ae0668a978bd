"""The outbox listens to the business events every app emits (foundation.events)."""

from django.dispatch import receiver

from foundation.events import business_events

from . import services


@receiver(business_events, dispatch_uid="webhooks.outbox")
def write_outbox(sender, *, program_id, events, **kwargs):
    services.deliveries_write(program_id=program_id, events=events)
