from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ConversionsConfig(AppConfig):
    name = "conversions"
    verbose_name = _("Conversions")

    def ready(self):
        from . import receivers  # noqa: F401  (connects signal receivers)
