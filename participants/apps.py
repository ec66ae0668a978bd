from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ParticipantsConfig(AppConfig):
    name = "participants"
    verbose_name = _("Participants")

    def ready(self):
        # Per-program CORS for the widget API.
        from corsheaders.signals import check_request_enabled

        from . import receivers  # noqa: F401  (connects signal receivers)
        from .widget.cors import widget_cors_allowed

        check_request_enabled.connect(widget_cors_allowed, dispatch_uid="widget_cors_allowed")
