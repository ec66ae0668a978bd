from django.apps import AppConfig


class OpsConfig(AppConfig):
    """Operations: health and readiness probes, Prometheus metrics (the business gauges read
    every app, so this package sits above them all) and the deploy checks (`check --deploy`)."""

    name = "ops"
    label = "ops"
    verbose_name = "Operations"

    def ready(self):
        from . import checks  # noqa: F401  (registers them)
