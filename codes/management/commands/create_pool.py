from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from audit.commands import AuditedCommand
from codes.services import pool_create_fuel_tank
from programs.management.lookup import program_from_option


class Command(AuditedCommand):
    help = (
        "Create a fuel tank: a pool of reward codes of a program (upload codes into it with "
        "import_codes --pool NAME; make it pay rewards with set_reward --fuel-tank NAME)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--program", required=True, metavar="SLUG")
        parser.add_argument("--fuel-tank", required=True, metavar="NAME", help="The tank's name.")
        parser.add_argument("--low-stock-threshold", type=int, default=0, metavar="N")
        parser.add_argument("--notify", nargs="+", default=[], metavar="EMAIL")

    def handle(self, *args, program, fuel_tank, low_stock_threshold, notify, **options):
        found = program_from_option(program)
        try:
            pool = pool_create_fuel_tank(
                program=found,
                name=fuel_tank,
                low_stock_threshold=low_stock_threshold,
                recipients="\n".join(notify),
            )
        except ValidationError as error:
            raise CommandError(_describe(error)) from None
        notify_text = f", alerts to {', '.join(notify)}" if notify else ""
        self.stdout.write(
            f"Created fuel tank {pool.name!r} in {found.slug} (low-stock threshold "
            f"{pool.low_stock_threshold}{notify_text})."
        )


def _describe(error):
    if hasattr(error, "message_dict"):
        return "; ".join(" ".join(messages) for messages in error.message_dict.values())
    return " ".join(error.messages)
