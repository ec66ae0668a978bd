"""The outbox listens to the business events every app emits (foundation.events)."""

from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from foundation.events import business_events, business_events_flush

from . import services
from .models import Endpoint


@receiver(business_events, dispatch_uid="webhooks.outbox")
def write_outbox(sender, *, program_id, types, build, **kwargs):
    services.deliveries_write_lazy(program_id=program_id, types=types, build=build)


@receiver(business_events_flush, dispatch_uid="webhooks.outbox_flush")
def write_held(sender, *, discard, **kwargs):
    services.deliveries_write_held(discard=discard)


@receiver(post_save, sender=Endpoint, dispatch_uid="webhooks.endpoint_saved")
@receiver(post_delete, sender=Endpoint, dispatch_uid="webhooks.endpoint_deleted")
def forget_endpoints(sender, **kwargs):
    services.endpoints_changed()
