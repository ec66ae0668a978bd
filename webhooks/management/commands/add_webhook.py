from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from audit.commands import AuditedCommand
from foundation.events import EVENT_TYPES
from programs.management.lookup import program_from_option
from webhooks.services import endpoint_create


class Command(AuditedCommand):
    help = (
        "Add a webhook endpoint to a program: every event, or those named with --event. Prints "
        "the endpoint's id and its signing secret (whsec_…) on the last line: the secret is "
        "shown this once."
    )

    def add_arguments(self, parser):
        parser.add_argument("--program", required=True, metavar="SLUG")
        parser.add_argument("--url", required=True, metavar="URL")
        parser.add_argument(
            "--event",
            action="append",
            dest="events",
            default=[],
            metavar="NAME",
            help=f"An event to send (repeat for more; all when none): {', '.join(EVENT_TYPES)}.",
        )
        parser.add_argument(
            "--include-email",
            action="store_true",
            help="Add the advocate's e-mail address to the events about them.",
        )
        parser.add_argument(
            "--allow-private",
            action="store_true",
            help="Accept a private or loopback address (a receiver on this network; refused "
            "in production).",
        )

    def handle(self, *args, program, url, events, include_email, allow_private, **options):
        if allow_private and settings.PRODUCTION:
            raise CommandError(
                "--allow-private is refused in production: webhooks go to public addresses only."
            )
        found = program_from_option(program, promo_codes=False)
        try:
            endpoint = endpoint_create(
                program=found,
                url=url,
                events=events,
                include_email=include_email,
                allow_private=allow_private,
            )
        except ValidationError as error:
            raise CommandError(
                "; ".join(" ".join(messages) for messages in error.message_dict.values())
                + " Nothing was added."
            ) from None
        which = ", ".join(endpoint.events) if endpoint.events else "every event"
        self.stdout.write(f"{found.slug}: webhook endpoint for {which} at {endpoint.url}.")
        self.stdout.write(
            "Keep the secret now: it is not shown again (rotate it in the console if lost)."
        )
        self.stdout.write(f"{endpoint.pk} {endpoint.secret}")
