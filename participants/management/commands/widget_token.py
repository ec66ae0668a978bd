from django.core.management.base import CommandError

from audit.commands import AuditedCommand
from participants.models import is_locale_tag
from participants.widget.tokens import PARTICIPANT_ID_MAX_LENGTH, widget_token_encode
from programs.management.lookup import program_from_option

DEMO_BASE_URL = "http://127.0.0.1:8000"


class Command(AuditedCommand):
    help = (
        "Print a participant token for the widget (alone on the first line) and the demo widget "
        "URL (second line). The participant need not exist yet: loading the widget creates it."
    )

    def add_arguments(self, parser):
        parser.add_argument("--program", required=True, help="The program's slug")
        parser.add_argument("--participant", required=True, help="The participant id (sub)")
        parser.add_argument(
            "--ttl", type=int, default=3600, help="Seconds until the token expires (default 3600)"
        )
        parser.add_argument("--email", help="Optional email claim")
        parser.add_argument("--first-name", help="Optional first_name claim")
        parser.add_argument("--last-name", help="Optional last_name claim")
        parser.add_argument("--referred-by-code", help="Optional referred_by_code claim")
        parser.add_argument("--locale", help="Optional locale claim: a language tag (zh-Hans)")

    def handle(self, *args, program, participant, ttl, **options):
        found = program_from_option(program, promo_codes=False)
        participant = participant.strip()
        if not participant or len(participant) > PARTICIPANT_ID_MAX_LENGTH:
            raise CommandError(
                f"--participant must be 1 to {PARTICIPANT_ID_MAX_LENGTH} characters."
            )
        if ttl < 1:
            raise CommandError("--ttl must be at least 1 second.")
        locale = options.get("locale")
        if locale is not None and not is_locale_tag(locale):
            raise CommandError(f"--locale {locale!r} is not a language tag (e.g. zh-Hans, en).")
        token = widget_token_encode(
            program=found,
            participant_id=participant,
            ttl_seconds=ttl,
            email=options.get("email"),
            first_name=options.get("first_name"),
            last_name=options.get("last_name"),
            referred_by_code=options.get("referred_by_code"),
            locale=locale,
        )
        self.stdout.write(token)
        self.stdout.write(f"{DEMO_BASE_URL}/widget/{found.slug}/#token={token}")
