"""Fuel tanks: pools of reward codes. A program's reward tank pays its fuel-tank rewards.

A tank code is claimed for a reward when the reward is granted (the same claim engine as
referral codes: never one code for two rewards), stays reserved while the reward is in its
review period, and is revealed when the reward becomes available. A cancelled pending reward's
code goes back to the tank. Tank codes never attribute orders and never count toward an
advocate's referral quota.
"""

from datetime import timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from programs.models import Program, RewardKind, split_addresses
from programs.services import program_update
from programs.validators import validate_single_line

from .. import sql
from ..models import CodeState, CodeStatus, Pool, PoolKind, PromoCode
from .assignment import _check_stock_on_commit
from .stock import pool_batch_landed

POOL_NAME_MAX = Pool._meta.get_field("name").max_length


def validate_pool_name(name: str) -> str:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("Give the pool a name.")})
    if len(name) > POOL_NAME_MAX:
        raise ValidationError({"name": _("At most %(max)s characters.") % {"max": POOL_NAME_MAX}})
    try:
        validate_single_line(name)
    except ValidationError as error:
        raise ValidationError({"name": error.messages}) from error
    return name


def validate_recipients(recipients: str) -> str:
    bad = []
    for address in split_addresses(recipients or ""):
        try:
            validate_email(address)
        except ValidationError:
            bad.append(address)
    if bad:
        raise ValidationError(
            {
                "low_stock_recipients": _("Not an e-mail address: %(addresses)s.")
                % {"addresses": ", ".join(bad)[:200]}
            }
        )
    return "\n".join(split_addresses(recipients or ""))


@transaction.atomic
def pool_create_fuel_tank(
    *, program: Program, name: str, low_stock_threshold: int = 0, recipients: str = ""
) -> Pool:
    """A new fuel tank of the program. Raises ValidationError naming the field at fault."""
    name = validate_pool_name(name)
    if low_stock_threshold < 0:
        raise ValidationError({"low_stock_threshold": _("Cannot be negative.")})
    recipients = validate_recipients(recipients)
    try:
        with transaction.atomic():
            return Pool.objects.create(
                program=program,
                kind=PoolKind.FUEL_TANK,
                name=name,
                low_stock_threshold=low_stock_threshold,
                low_stock_recipients=recipients,
            )
    except IntegrityError:
        raise ValidationError(
            {
                "name": _("Program %(program)s already has a pool named %(name)s.")
                % {"program": repr(program.slug), "name": repr(name)}
            }
        ) from None


@transaction.atomic
def pool_update_settings(
    *,
    pool: Pool,
    name: str,
    low_stock_threshold: int | None,
    recipients: str,
    pays_rewards: bool,
) -> Pool:
    """Save a pool's settings. The referral pool's name, threshold and recipients are the
    program's (only fuel tanks have their own); `pays_rewards` makes a tank the reward tank."""
    pool = Pool.objects.select_for_update(of=("self",)).get(pk=pool.pk)
    if pool.kind == PoolKind.REFERRAL:
        return pool
    pool.name = validate_pool_name(name)
    if low_stock_threshold is not None and low_stock_threshold < 0:
        raise ValidationError({"low_stock_threshold": _("Cannot be negative.")})
    pool.low_stock_threshold = low_stock_threshold
    pool.low_stock_recipients = validate_recipients(recipients)
    try:
        with transaction.atomic():
            pool.save(update_fields=["name", "low_stock_threshold", "low_stock_recipients"])
    except IntegrityError:
        raise ValidationError(
            {
                "name": _("The program already has a pool named %(name)s.")
                % {"name": repr(pool.name)}
            }
        ) from None
    program = Program.objects.get(pk=pool.program_id)
    if pays_rewards and not pool.pays_rewards:
        pool_set_reward_tank(program=program, pool=pool)
    elif not pays_rewards and pool.pays_rewards:
        pool_set_reward_tank(program=program, pool=None)
    pool.refresh_from_db()
    return pool


@transaction.atomic
def pool_set_reward_tank(*, program: Program, pool: Pool | None) -> None:
    """Make `pool` the tank that pays the program's fuel-tank rewards (None: no tank)."""
    if pool is not None and (pool.program_id != program.pk or pool.kind != PoolKind.FUEL_TANK):
        raise ValidationError(
            {
                "pool": _("%(pool)s is not a fuel tank of %(program)s.")
                % {"pool": repr(pool.name), "program": repr(program.slug)}
            }
        )
    # Saved one pool at a time (the old tank first: one tank per program), so the audit trail
    # records which tank stopped and which started paying the rewards.
    previous = Pool.objects.select_for_update(of=("self",)).filter(
        program=program, pays_rewards=True
    )
    for old in previous.exclude(pk=getattr(pool, "pk", None)):
        old.pays_rewards = False
        old.save(update_fields=["pays_rewards"])
    if pool is not None:
        tank = Pool.objects.select_for_update(of=("self",)).get(pk=pool.pk)
        if not tank.pays_rewards:
            tank.pays_rewards = True
            tank.save(update_fields=["pays_rewards"])
        pool_batch_landed(pool_id=pool.pk)  # on commit: rewards waiting for a code get one


def reward_tank_of(program: Program) -> Pool | None:
    return Pool.objects.filter(program=program, pays_rewards=True).first()


@transaction.atomic
def program_reward_rule_set(
    *,
    program: Program,
    kind: str,
    amount: Decimal | None = None,
    currency: str | None = None,
    percent: Decimal | None = None,
    tank: Pool | None = None,
    review_days: int | None = None,
    code_valid_days: int | None = None,
) -> Program:
    """Set what an advocate earns for a converted referral: a credit (amount, currency), a
    percent discount, or a code from a fuel tank of the program; and the review period.
    `code_valid_days` (fuel tank only): a revealed reward code expires that many days later
    (0: reward codes get no expiry of their own)."""
    fields: dict = {"reward_kind": kind}
    if kind == RewardKind.CREDIT:
        if amount is None or amount < 0:
            raise ValidationError({"reward_amount": _("A credit needs an amount of 0 or more.")})
        currency = (currency or "").strip().upper()
        if len(currency) != 3 or not currency.isalpha():
            raise ValidationError(
                {"reward_currency": _("A credit needs a three-letter currency (ISO 4217).")}
            )
        fields.update(reward_amount=amount, reward_currency=currency)
    elif kind == RewardKind.PERCENT:
        if percent is None or not 0 <= percent <= 100:
            raise ValidationError({"reward_percent": _("A percent discount is 0 to 100.")})
        fields["reward_percent"] = percent
    elif kind == RewardKind.FUEL_TANK:
        if tank is None:
            raise ValidationError({"reward_tank": _("Choose the fuel tank that pays the rewards.")})
    else:
        raise ValidationError(
            {"reward_kind": _("Unknown reward kind %(kind)s.") % {"kind": repr(kind)}}
        )
    if review_days is not None:
        if review_days < 0:
            raise ValidationError({"reward_review_days": _("Cannot be negative.")})
        fields["reward_review_days"] = review_days
    if code_valid_days is not None:
        if kind != RewardKind.FUEL_TANK:
            raise ValidationError(
                {"reward_code_valid_days": _("Only reward codes from a fuel tank can expire.")}
            )
        if code_valid_days < 0:
            raise ValidationError({"reward_code_valid_days": _("Cannot be negative.")})
        fields["reward_code_valid_days"] = code_valid_days or None
    program = program_update(program=program, **fields)
    if kind == RewardKind.FUEL_TANK:
        pool_set_reward_tank(program=program, pool=tank)
    return program


# --- Reward codes: claim, release, reveal -------------------------------------------------------


def tank_code_claim(*, program: Program, holder_id: int) -> PromoCode | None:
    """Claim one code of the program's reward tank for the holder; None when the tank is empty
    (or the program has none). Call inside the reward's transaction."""
    tank = reward_tank_of(program)
    if tank is None:
        return None
    code_id = sql.claim_one(pool_id=tank.pk, holder_id=holder_id, now=timezone.now())
    if code_id is None:
        _check_stock_on_commit(pool_id=tank.pk, usage=None, threshold=tank.threshold)
        return None
    _check_stock_on_commit(pool_id=tank.pk, usage=None, threshold=tank.threshold)
    return PromoCode.objects.get(pk=code_id)


def tank_code_release(*, code_id: int) -> bool:
    """Put a reserved (never revealed) reward code back in its tank; return whether it went
    back. A revealed code cannot be taken back, and a voided one stays voided."""
    return bool(
        PromoCode.objects.filter(CodeState.RESERVED, pk=code_id).update(
            status=CodeStatus.AVAILABLE, holder=None, assigned_at=None, first_copied_at=None
        )
    )


def tank_codes_reveal(*, code_ids: list[int]) -> int:
    """Reveal reserved reward codes to their advocates (their rewards became available).

    Where the program gives reward codes a life (`reward_code_valid_days`), a code then
    expires that many days after now, or earlier if its own expiry is earlier."""
    if not code_ids:
        return 0
    now = timezone.now()
    reserved = PromoCode.objects.filter(CodeState.RESERVED, pk__in=code_ids)
    by_days: dict = {}
    for code_id, days in reserved.values_list("pk", "program__reward_code_valid_days"):
        by_days.setdefault(days, []).append(code_id)
    revealed = 0
    for days, ids in by_days.items():
        fields: dict = {"revealed_at": now}
        if days is not None:
            until = now + timedelta(days=days)
            fields["expires_at"] = Case(
                When(expires_at__lt=until, then=F("expires_at")), default=Value(until)
            )
        revealed += reserved.filter(pk__in=ids).update(**fields)
    return revealed
