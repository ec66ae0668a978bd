from django.apps import AppConfig


class OpsConfig(AppConfig):
    """The project package as an app: it registers the deploy checks (`check --deploy`)."""

    name = "config"
    label = "ops"
    verbose_name = "Operations"

    def ready(self):
        from . import checks  # noqa: F401  (registers them)
