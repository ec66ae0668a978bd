from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from audit.commands import AuditedCommand
from programs.management.lookup import program_from_option
from programs.models import ReviewPolicy
from programs.services import program_review_policy_set


class Command(AuditedCommand):
    help = (
        "Choose how referrals are checked at attribution: off (approve every one), relaxed, "
        "moderate, strict, or custom with --hold-at and --deny-at (scores 1-100); and with "
        "--leaked-code-customers N, flag a multi-use code used by more than N customers within "
        "24 hours as leaked (0: off)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--program", required=True, metavar="SLUG")
        parser.add_argument(
            "--policy", choices=ReviewPolicy.values, help="Not given: the policy stays."
        )
        parser.add_argument("--hold-at", type=int, metavar="SCORE")
        parser.add_argument("--deny-at", type=int, metavar="SCORE")
        parser.add_argument(
            "--velocity",
            type=int,
            metavar="N",
            help="Flag more than N referred orders for one advocate within an hour.",
        )
        parser.add_argument(
            "--leaked-code-customers",
            type=int,
            metavar="N",
            help="Flag a multi-use code used by more than N customers within 24 hours (0: off).",
        )

    def handle(
        self, *args, program, policy, hold_at, deny_at, velocity, leaked_code_customers, **options
    ):
        found = program_from_option(program, promo_codes=False)
        try:
            saved = program_review_policy_set(
                program=found,
                policy=policy,
                hold_at=hold_at,
                deny_at=deny_at,
                velocity_per_hour=velocity,
                leak_customers_per_day=leaked_code_customers,
            )
        except ValidationError as error:
            messages = getattr(error, "message_dict", {"": error.messages})
            raise CommandError(
                " ".join(
                    f"{name}: {' '.join(m)}" if name else " ".join(m)
                    for name, m in messages.items()
                )
            ) from None
        thresholds = saved.review_thresholds
        if thresholds is None:
            self.stdout.write(f"{saved.slug}: review off, every referral is approved.")
        else:
            hold, deny = thresholds
            self.stdout.write(
                f"{saved.slug}: review {saved.review_policy}: a referral scoring {hold} or more "
                f"is held for review, {deny} or more denied; velocity limit "
                f"{saved.review_velocity_per_hour} orders per advocate per hour."
            )
        leak = saved.review_leak_customers_per_day
        self.stdout.write(
            f"{saved.slug}: a multi-use code used by more than {leak} customers within 24 hours "
            "is flagged as leaked."
            if leak
            else f"{saved.slug}: leaked-code detection off."
        )
