"""Writes with business meaning for pools, batches and codes.

Keyword-only arguments, one transaction each.
"""

import secrets

from django.db import transaction
from django.utils import timezone

from programs.models import Program

from .models import Batch, BatchSource, BatchStatus, Pool, PoolKind, PromoCode

REFERRAL_POOL_NAME = "Referral codes"
# No look-alikes: I, O, 0 and 1 are left out so a code read aloud or off a receipt is typed
# right the first time.
GENERATED_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
DEFAULT_GENERATED_LENGTH = 10
_GENERATE_ROUNDS = 20


class PromoCodesOff(ValueError):
    """The program has referral promo codes turned off."""


class CodeSpaceTooSmall(ValueError):
    """The requested count cannot fit in the codes the prefix and length allow."""


@transaction.atomic
def pool_get_or_create_referral(*, program):
    pool, _ = Pool.objects.get_or_create(
        program=program, kind=PoolKind.REFERRAL, defaults={"name": REFERRAL_POOL_NAME}
    )
    return pool


def _random_code(prefix, length):
    return prefix + "".join(secrets.choice(GENERATED_ALPHABET) for _ in range(length))


@transaction.atomic
def batch_generate(*, pool, count, prefix="", length=DEFAULT_GENERATED_LENGTH, created_by=None):
    """Generate `count` new random codes into `pool` as one batch.

    A clash with an existing code is resolved by insert-and-retry: insert ignoring conflicts on
    the unique index, count what landed, generate the shortfall again. Never check-then-insert,
    which two concurrent generators would both pass.
    """
    program = Program.objects.get(pk=pool.program_id)
    if not program.promo_codes_enabled:
        raise PromoCodesOff(f"Referral promo codes are off for program {program.slug!r}.")
    prefix = (prefix or "").strip().upper()
    if count < 1:
        raise ValueError("Count must be at least 1.")
    if length < 4:
        raise ValueError("Length must be at least 4 random characters.")
    if len(prefix) + length > 64:
        raise ValueError("Prefix and length together must be at most 64 characters.")
    if prefix and not all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in prefix):
        raise ValueError("The prefix may only use A–Z, 0–9, - and _.")
    space = len(GENERATED_ALPHABET) ** length
    taken = PromoCode.objects.filter(program=program, code__startswith=prefix).count()
    # Random draws slow to a crawl near a full space; refuse above half of what is left.
    if count > (space - taken) // 2:
        raise CodeSpaceTooSmall(
            f"{count} codes do not fit: prefix {prefix!r} with {length} random characters "
            f"allows {space:,} codes and {taken:,} exist. Use a longer length."
        )
    batch = Batch.objects.create(
        pool=pool,
        source=BatchSource.GENERATED,
        usage=program.code_usage,
        status=BatchStatus.PROCESSING,
        file_name=f"generated {count} × {prefix}{'?' * length}",
        created_by=created_by,
    )
    added = 0
    for _ in range(_GENERATE_ROUNDS):
        missing = count - added
        if missing == 0:
            break
        fresh = {_random_code(prefix, length) for _ in range(missing)}
        PromoCode.objects.bulk_create(
            [
                PromoCode(program=program, pool=pool, batch=batch, code=c, usage=batch.usage)
                for c in fresh
            ],
            ignore_conflicts=True,
            batch_size=5000,
        )
        added = PromoCode.objects.filter(batch=batch).count()
    else:
        raise CodeSpaceTooSmall("Could not find enough free codes; use a longer length.")
    Batch.objects.filter(pk=batch.pk).update(
        status=BatchStatus.COMPLETED,
        rows_read=count,
        codes_added=added,
        progress_rows=count,
        completed_at=timezone.now(),
    )
    batch.refresh_from_db()
    return batch
