from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class ProgramsConfig(AppConfig):
    name = "programs"
    verbose_name = _("Programs")

    def ready(self):
        from django.db.models.signals import post_migrate

        from audit.registry import track

        from . import (
            checks,  # noqa: F401  (registers the admin scoping check)
            receivers,  # noqa: F401
        )
        from .models import ApiKey, Program, ProgramManager
        from .roles import program_managers_group_sync

        # The widget secret is never written to the trail (a rotation is recorded without it);
        # nor is a key's digest, or its last use (stamped on the hot path, by UPDATE).
        track(
            Program,
            program=lambda program: program.pk,
            exclude_fields=["created_at", "updated_at", "widget_secret"],
        )
        track(ProgramManager, exclude_fields=["created_at"])
        track(ApiKey, exclude_fields=["digest", "created_at", "last_used_at"])

        # The group is set to its permissions again after every migrate (and test flush).
        post_migrate.connect(
            program_managers_group_sync, sender=self, dispatch_uid="program_managers_group"
        )
