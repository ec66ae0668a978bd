"""The console's time zone: each console page is read in the signed-in person's own zone
(programs.models.ConsoleSettings, UTC by default). The APIs and the widget keep UTC."""

from django.urls import reverse
from django.utils import timezone

from .selectors import console_time_zone_of


class ConsoleTimeZoneMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response
        self._console_prefix = None

    def __call__(self, request):
        if self._console_prefix is None:
            self._console_prefix = reverse("admin:index")
        if not request.path.startswith(self._console_prefix):
            return self.get_response(request)
        timezone.activate(console_time_zone_of(request.user))
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
