from django.apps import AppConfig


class CodesConfig(AppConfig):
    name = "codes"
    verbose_name = "Promo codes"

    def ready(self):
        from . import receivers  # noqa: F401  (connects signal receivers)
