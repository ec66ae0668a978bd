from django.apps import AppConfig


class AuditConfig(AppConfig):
    name = "audit"
    verbose_name = "Audit trail"

    def ready(self):
        from . import receivers  # noqa: F401  (fills who and why on every entry; task actors)
