"""Management commands run as an actor of the audit trail: "command: <name>"."""

from django.core.management.base import BaseCommand

from .context import audit_actor, command_label


class AuditedCommand(BaseCommand):
    """A command whose writes are attributed to it in the audit trail ("command: void_codes"),
    whether run by manage.py or call_command. The name is the command's module name."""

    def execute(self, *args, **options):
        name = type(self).__module__.rsplit(".", 1)[-1]
        with audit_actor(label=command_label(name)):
            return super().execute(*args, **options)
