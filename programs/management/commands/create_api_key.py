from django.core.management.base import CommandError

from audit.commands import AuditedCommand
from programs.management.lookup import program_from_option
from programs.services import api_key_create


class Command(AuditedCommand):
    help = "Create a server-API key for a program. The key is printed once, on the last line."

    def add_arguments(self, parser):
        parser.add_argument("--program", required=True, metavar="SLUG")
        parser.add_argument("--name", default="", help="A label to recognise the key by")
        parser.add_argument(
            "--requests-per-minute", type=int, default=10_000, metavar="N", help="Rate limit"
        )

    def handle(self, *args, program, name, requests_per_minute, **options):
        found = program_from_option(program, promo_codes=False)
        if requests_per_minute < 1:
            raise CommandError("--requests-per-minute must be at least 1.")
        api_key, raw_key = api_key_create(
            program=found,
            name=name.strip() or "API key",
            requests_per_minute=requests_per_minute,
        )
        self.stdout.write(
            f"Created API key {api_key.name!r} ({api_key.prefix}…) for program {found.slug!r}. "
            "It is shown once, below; store it now."
        )
        self.stdout.write(raw_key)
