from django.apps import AppConfig


class ConversionsConfig(AppConfig):
    name = "conversions"
    verbose_name = "Conversions"

    def ready(self):
        from . import receivers  # noqa: F401  (connects signal receivers)
