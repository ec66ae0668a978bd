"""Pools: a program's referral pool (made when promo codes are turned on)."""

from django.db import transaction

from programs.models import Program

from ..errors import PromoCodesOff
from ..models import Pool, PoolKind

REFERRAL_POOL_NAME = "Referral codes"


@transaction.atomic
def pool_get_or_create_referral(*, program: Program) -> Pool:
    pool, _ = Pool.objects.get_or_create(
        program=program, kind=PoolKind.REFERRAL, defaults={"name": REFERRAL_POOL_NAME}
    )
    return pool


def referral_pool_of(program: Program) -> Pool:
    # The pool almost always exists (created when promo codes are turned on): a plain read,
    # no savepoint on the hot path.
    pool = Pool.objects.filter(program=program, kind=PoolKind.REFERRAL).first()
    return pool or pool_get_or_create_referral(program=program)


def program_accepting_codes(pool: Pool) -> Program:
    """The pool's program, or PromoCodesOff when it has referral promo codes turned off."""
    program = Program.objects.get(pk=pool.program_id)
    if not program.promo_codes_enabled:
        raise PromoCodesOff(f"Referral promo codes are off for program {program.slug!r}.")
    return program
