from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class WebhooksConfig(AppConfig):
    name = "webhooks"
    verbose_name = _("Webhooks")

    def ready(self):
        from audit.registry import track
        from foundation.events import listening_probe_register

        from . import receivers  # noqa: F401  (writes the outbox when a service emits events)
        from .models import Endpoint
        from .services import listening_sql

        listening_probe_register(listening_sql)

        # The secrets are never written to the trail.
        track(
            Endpoint,
            program=lambda endpoint: endpoint.program_id,
            exclude_fields=["secret", "previous_secret", "created_at", "updated_at"],
        )
