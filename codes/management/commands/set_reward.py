from decimal import Decimal, InvalidOperation

from django.core.exceptions import ValidationError
from django.core.management.base import CommandError

from audit.commands import AuditedCommand
from codes.models import Pool, PoolKind
from codes.services import program_reward_rule_set
from programs.management.lookup import program_from_option
from programs.models import RewardKind


class Command(AuditedCommand):
    help = (
        "Set what an advocate earns for a converted referral: a credit, a percent discount or a "
        "code from a fuel tank of the program; and the review period before it is available."
    )

    def add_arguments(self, parser):
        parser.add_argument("--program", required=True, metavar="SLUG")
        kind = parser.add_mutually_exclusive_group(required=True)
        kind.add_argument("--credit", nargs=2, metavar=("AMOUNT", "CURRENCY"))
        kind.add_argument("--percent", metavar="P")
        kind.add_argument("--fuel-tank", metavar="POOL", help="The name of a fuel tank.")
        parser.add_argument("--review-days", type=int, metavar="N")
        parser.add_argument(
            "--code-valid-days",
            type=int,
            metavar="N",
            help="With --fuel-tank: a reward code expires N days after it is revealed "
            "(0: no expiry of its own).",
        )

    def handle(
        self, *args, program, credit, percent, fuel_tank, review_days, code_valid_days, **options
    ):
        found = program_from_option(program, promo_codes=False)
        values = {"review_days": review_days, "code_valid_days": code_valid_days}
        if credit:
            values.update(
                kind=RewardKind.CREDIT, amount=_decimal(credit[0], "--credit"), currency=credit[1]
            )
        elif percent is not None:
            values.update(kind=RewardKind.PERCENT, percent=_decimal(percent, "--percent"))
        else:
            tank = Pool.objects.filter(program=found, name=fuel_tank).first()
            if tank is None or tank.kind != PoolKind.FUEL_TANK:
                tanks = found.pools.filter(kind=PoolKind.FUEL_TANK).values_list("name", flat=True)
                names = ", ".join(repr(n) for n in tanks) or "none yet: create one with create_pool"
                raise CommandError(
                    f"Program {found.slug!r} has no fuel tank {fuel_tank!r} (fuel tanks: {names})."
                )
            values.update(kind=RewardKind.FUEL_TANK, tank=tank)
        try:
            saved = program_reward_rule_set(program=found, **values)
        except ValidationError as error:
            messages = getattr(error, "message_dict", {"": error.messages})
            raise CommandError(" ".join(" ".join(m) for m in messages.values())) from None
        if saved.reward_kind == RewardKind.CREDIT:
            what = f"a credit of {saved.reward_amount} {saved.reward_currency}"
        elif saved.reward_kind == RewardKind.PERCENT:
            what = f"{saved.reward_percent}% off"
        else:
            what = f"a code from the fuel tank {fuel_tank!r}"
            if saved.reward_code_valid_days:
                what += f", valid {saved.reward_code_valid_days} days from when it is revealed"
        review = (
            f"after a {saved.reward_review_days}-day review period"
            if saved.reward_review_days
            else "available at once"
        )
        self.stdout.write(f"{saved.slug}: advocates earn {what} per converted referral, {review}.")


def _decimal(text, option):
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise CommandError(f"{option}: {text!r} is not a number.") from None
    if not value.is_finite():
        raise CommandError(f"{option}: {text!r} is not a number.")
    return value
