"""The outbox listens to the business events every app emits (foundation.events)."""

from django.dispatch import receiver

from foundation.events import business_events

from . import services


@receiver(business_events, dispatch_uid="webhooks.outbox")
def write_outbox(sender, *, program_id, types, build, **kwargs):
    services.deliveries_write_lazy(program_id=program_id, types=types, build=build)
