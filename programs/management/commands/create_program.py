from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from audit.commands import AuditedCommand
from programs.models import MAX_CODES_PER_ADVOCATE, CodeUsage, Program
from programs.services import program_create


class Command(AuditedCommand):
    help = "Create a program. Either usage flag turns referral promo codes on (cannot be undone)."

    def add_arguments(self, parser):
        parser.add_argument("slug", help="URL-safe identifier, e.g. acme-shoes")
        parser.add_argument("--name", help="Display name (defaults to the slug)")
        usage = parser.add_mutually_exclusive_group()
        usage.add_argument("--single-use", action="store_true", help="Single-use codes")
        usage.add_argument("--multi-use", action="store_true", help="Multi-use codes")
        parser.add_argument(
            "--codes-per-advocate", type=int, default=1, metavar="N", help="1–25, single-use only"
        )
        parser.add_argument("--low-stock-threshold", type=int, default=100, metavar="N")
        parser.add_argument("--notify", nargs="+", default=[], metavar="EMAIL")

    def handle(self, *args, slug, name, single_use, multi_use, **options):
        if Program.objects.filter(slug=slug).exists():
            raise CommandError(f"A program with slug {slug!r} already exists.")
        per_advocate = options["codes_per_advocate"]
        if not 1 <= per_advocate <= MAX_CODES_PER_ADVOCATE:
            raise CommandError(f"--codes-per-advocate must be 1 to {MAX_CODES_PER_ADVOCATE}.")
        if per_advocate != 1 and not single_use:
            raise CommandError("--codes-per-advocate applies to --single-use programs only.")
        if options["low_stock_threshold"] < 0:
            raise CommandError("--low-stock-threshold cannot be negative.")
        try:
            program = program_create(
                slug=slug,
                name=name or slug,
                promo_codes_enabled=single_use or multi_use,
                code_usage=CodeUsage.SINGLE if single_use else CodeUsage.MULTI,
                codes_per_advocate=per_advocate,
                low_stock_threshold=options["low_stock_threshold"],
                low_stock_recipients="\n".join(options["notify"]),
            )
        except ValidationError as error:
            raise CommandError(_describe(error)) from None
        promo = (
            f"promo codes on, {program.get_code_usage_display().lower()}"
            + (f", {program.codes_per_advocate} per advocate" if program.is_single_use else "")
            if program.promo_codes_enabled
            else "promo codes off"
        )
        self.stdout.write(f"Created program {program.slug!r} ({program.name}): {promo}.")


def _describe(error):
    if hasattr(error, "message_dict"):
        return "; ".join(
            f"{field}: {' '.join(messages)}" for field, messages in error.message_dict.items()
        )
    return " ".join(error.messages)
