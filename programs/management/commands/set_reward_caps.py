from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from audit.commands import AuditedCommand
from programs.management.lookup import program_from_option
from programs.services import program_reward_caps_set


class Command(AuditedCommand):
    help = (
        "Cap the rewards: per advocate per calendar month, per advocate in total, per program "
        "per day (UTC). 0 removes a cap; a cap not named keeps its value. An order past a cap "
        "is attributed, its reward recorded as capped."
    )

    def add_arguments(self, parser):
        parser.add_argument("--program", required=True, metavar="SLUG")
        parser.add_argument("--per-advocate-month", type=int, metavar="N")
        parser.add_argument("--per-advocate-total", type=int, metavar="N")
        parser.add_argument("--per-program-day", type=int, metavar="N")

    def handle(
        self, *args, program, per_advocate_month, per_advocate_total, per_program_day, **options
    ):
        found = program_from_option(program, promo_codes=False)
        try:
            saved = program_reward_caps_set(
                program=found,
                per_advocate_month=per_advocate_month,
                per_advocate_total=per_advocate_total,
                per_program_day=per_program_day,
            )
        except ValidationError as error:
            messages = getattr(error, "message_dict", {"": error.messages})
            raise CommandError(
                " ".join(
                    f"{name}: {' '.join(m)}" if name else " ".join(m)
                    for name, m in messages.items()
                )
            ) from None
        caps = [
            (saved.reward_cap_advocate_month, "per advocate per month"),
            (saved.reward_cap_advocate_total, "per advocate in total"),
            (saved.reward_cap_program_day, "per program per day"),
        ]
        named = [f"{cap} {what}" for cap, what in caps if cap]
        self.stdout.write(
            f"{saved.slug}: rewards capped at " + ", ".join(named) + "."
            if named
            else f"{saved.slug}: no reward caps."
        )
