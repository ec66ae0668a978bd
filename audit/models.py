"""The audit trail: who changed what, when, with the change.

django-auditlog writes the entries (automatically for the models registered in each app's
AppConfig.ready, explicitly through audit.services for events such as a void or an erasure).
AuditEntry is auditlog's entry (AUDITLOG_LOGENTRY_MODEL) with three more columns: who acted
when it was not a Django user (an API key, a command, a task), the event, and the program the
entry belongs to, so a program's page and the superuser's list can show and filter by it.

This app is the lowest layer: it imports none of the project's apps.
"""

from auditlog.models import AbstractLogEntry, LogEntryManager
from django.db import models
from django.utils.translation import gettext_lazy as _

from . import registry


class AuditEntryManager(LogEntryManager):
    def log_create(self, instance, force_log=False, **kwargs):
        kwargs.setdefault("program_id", registry.program_id_of(instance))
        return super().log_create(instance, force_log=force_log, **kwargs)


class AuditEntry(AbstractLogEntry):
    actor_label = models.CharField(
        _("actor (not a user)"),
        max_length=255,
        blank=True,
        db_index=True,
        help_text=_("Who acted when it was not an admin user: an API key, a command or a task."),
    )
    event = models.CharField(
        max_length=100,
        blank=True,
        db_index=True,
        help_text=_(
            "What happened, beyond create/update/delete: e.g. codes voided, a one-way "
            "switch, a participant erased."
        ),
        verbose_name=_("event"),
    )
    program_id = models.BigIntegerField(
        null=True,
        blank=True,
        db_index=True,
        help_text=_("The program the changed object belongs to."),
        verbose_name=_("program id"),
    )

    objects = AuditEntryManager()

    class Meta(AbstractLogEntry.Meta):
        verbose_name = _("audit entry")
        verbose_name_plural = _("audit entries")
        indexes = [
            # An object's history, newest first (the object's admin page).
            models.Index(fields=["content_type", "object_id", "-timestamp"], name="audit_object"),
            models.Index(fields=["program_id", "-timestamp"], name="audit_program"),
        ]

    @property
    def actor_display(self) -> str:
        if self.actor_id is not None:
            return str(self.actor)
        return self.actor_label or str(_("system"))

    @property
    def what(self) -> str:
        return self.event or self.get_action_display()
