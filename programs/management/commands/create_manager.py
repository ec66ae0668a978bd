from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from audit.commands import AuditedCommand
from programs.models import Program
from programs.services import PROGRAM_MANAGERS_GROUP, program_manager_add


class Command(AuditedCommand):
    help = (
        f"Make USERNAME (a staff user, created when new) a manager of a program, in the "
        f"{PROGRAM_MANAGERS_GROUP!r} group. Run again with another program to add it."
    )

    def add_arguments(self, parser):
        parser.add_argument("username")
        parser.add_argument("--program", required=True, metavar="SLUG")
        parser.add_argument("--email", default="", metavar="EMAIL")
        parser.add_argument(
            "--password",
            metavar="PASSWORD",
            help="Without it a new user has no password yet: set one with `changepassword`.",
        )

    def handle(self, *args, username, program, email, password, **options):
        found = Program.objects.filter(slug=program).first()
        if found is None:
            raise CommandError(f"No program with slug {program!r}.")
        try:
            added = program_manager_add(
                program=found, username=username, email=email, password=password
            )
        except ValidationError as error:
            raise CommandError(_describe(error)) from None
        user = added.user
        programs = ", ".join(user.managed_programs.order_by("slug").values_list("slug", flat=True))
        if added.user_created:
            line = f"Created staff user {user.username!r}; it now manages {found.slug!r}"
        elif added.program_added:
            line = f"Staff user {user.username!r} now manages {found.slug!r}"
        else:
            line = f"Staff user {user.username!r} already managed {found.slug!r}"
        note = ""
        if added.user_created and password is None:
            note = f" Set a password with `manage.py changepassword {user.username}`."
        self.stdout.write(f"{line} (manages: {programs}).{note}")


def _describe(error):
    if hasattr(error, "message_dict"):
        return "; ".join(
            f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items()
        )
    return " ".join(error.messages)
