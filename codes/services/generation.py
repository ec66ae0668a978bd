"""Generated codes: a batch of random codes into a pool, or one code by hand for an advocate.

Random from `secrets` over an alphabet without look-alikes; a clash with an existing code is
resolved by insert-and-retry on the unique index, never by check-then-insert (which two
concurrent generators would both pass).
"""

import secrets
from datetime import datetime

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext_noop

from audit.services import audit_record
from programs.models import Program

from .. import selectors, sql
from ..errors import CannotAddCode, CodeSpaceTooSmall, PromoCodesOff
from ..models import (
    CODE_MAX_LENGTH,
    Batch,
    BatchSource,
    BatchStatus,
    CodeSource,
    CodeStatus,
    Pool,
    PromoCode,
)
from ..rules import CODE_PATTERN
from .assignment import CodeHolder, codes_holder_dequeue_if_at_quota
from .batches import batch_validity_apply, validity_checked
from .pools import referral_pool_of
from .stock import pool_batch_landed

# No look-alikes: I, O, 0 and 1 are left out so a code read aloud or off a receipt is typed
# right the first time.
GENERATED_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"
DEFAULT_GENERATED_LENGTH = 10
_GENERATE_ROUNDS = 20
_MANUAL_CODE_TRIES = 20


# A code begins with a letter or digit (codes.rules), so its prefix does.
PREFIX_RULE = "The prefix may only use A–Z, 0–9, - and _, and begins with a letter or digit."


def _random_code(prefix: str, length: int) -> str:
    return prefix + "".join(secrets.choice(GENERATED_ALPHABET) for _ in range(length))


@transaction.atomic
def batch_generate(
    *,
    pool: Pool,
    count: int,
    prefix: str = "",
    length: int = DEFAULT_GENERATED_LENGTH,
    created_by=None,
    valid_from: datetime | None = None,
    expires_at: datetime | None = None,
) -> Batch:
    """Generate `count` new random codes into `pool` as one batch (valid from `valid_from`
    until `expires_at` when given).

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
    if len(prefix) + length > CODE_MAX_LENGTH:
        raise ValueError(
            f"Prefix and length together must be at most {CODE_MAX_LENGTH} characters."
        )
    if prefix and not CODE_PATTERN.fullmatch(prefix):
        raise ValueError(PREFIX_RULE)
    space = len(GENERATED_ALPHABET) ** length
    taken = PromoCode.objects.filter(program=program, code__startswith=prefix).count()
    # Random draws slow to a crawl near a full space; refuse above half of what is left.
    if count > (space - taken) // 2:
        raise CodeSpaceTooSmall(
            f"{count} codes do not fit: prefix {prefix!r} with {length} random characters "
            f"allows {space:,} codes and {taken:,} exist. Use a longer length."
        )
    batch = Batch.objects.create(
        **validity_checked(valid_from=valid_from, expires_at=expires_at),
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
    batch_validity_apply(batch)
    Batch.objects.filter(pk=batch.pk).update(
        status=BatchStatus.COMPLETED,
        rows_read=count,
        codes_added=added,
        progress_rows=count,
        completed_at=timezone.now(),
    )
    audit_record(
        obj=batch,
        event=gettext_noop("batch completed"),
        changes={
            "status": (BatchStatus.PROCESSING, BatchStatus.COMPLETED),
            "rows_read": (0, count),
            "codes_added": (0, added),
        },
    )
    pool_batch_landed(pool_id=pool.pk)  # after commit: re-arm alerts, top up the short
    batch.refresh_from_db()
    return batch


@transaction.atomic
def code_add_manual(
    *, holder: CodeHolder, prefix: str | None = None, length: int | None = None
) -> PromoCode:
    """Generate a new code for one advocate, outside the pool's stock, and give it to them.

    Without `prefix` and `length` the code follows the referral pool's pattern
    (`selectors.pool_code_pattern`: the pool's own, its generated batches', or its codes').

    The code goes into the program's referral pool with source `manual`, already assigned, in
    the program's current usage. It counts towards the advocate's quota, and may take them over
    it. Random from `secrets` over the no-look-alike alphabet; a clash with an existing code is
    resolved by insert-and-retry (a savepoint around each insert), never check-then-insert.
    Returns the PromoCode. Raises PromoCodesOff or CannotAddCode. (participants'
    `participant_code_add` says in a manager's words why a participant cannot get one.)
    """
    if not holder.can_hold_codes:
        raise CannotAddCode("This participant may not hold codes (not an advocate, or blocked).")
    if prefix is None or length is None:
        pattern = selectors.pool_code_pattern(
            pool=referral_pool_of(Program.objects.get(pk=holder.program_id)),
            default_length=DEFAULT_GENERATED_LENGTH,
        )
        prefix = pattern.prefix if prefix is None else prefix
        length = pattern.length if length is None else length
    prefix = (prefix or "").strip().upper()
    if prefix and not CODE_PATTERN.fullmatch(prefix):
        raise CannotAddCode(PREFIX_RULE)
    if length < 4 or len(prefix) + length > CODE_MAX_LENGTH:
        raise CannotAddCode(
            f"Use 4 or more random characters, at most {CODE_MAX_LENGTH} with the prefix."
        )
    sql.lock_holder(holder.pk)
    program = Program.objects.get(pk=holder.program_id)
    if not program.promo_codes_enabled:
        raise PromoCodesOff(f"Referral promo codes are off for program {program.slug!r}.")
    pool = referral_pool_of(program)
    now = timezone.now()
    for _ in range(_MANUAL_CODE_TRIES):
        try:
            with transaction.atomic():
                code = PromoCode.objects.create(
                    program=program,
                    pool=pool,
                    code=_random_code(prefix, length),
                    usage=program.code_usage,
                    source=CodeSource.MANUAL,
                    status=CodeStatus.ASSIGNED,
                    holder_id=holder.pk,
                    assigned_at=now,
                )
            break
        except IntegrityError:
            continue  # that code exists in the program: draw another
    else:
        raise CodeSpaceTooSmall("Could not find a free code; use a longer length.")
    held = PromoCode.objects.toward_quota(usage=program.code_usage).filter(holder_id=holder.pk)
    codes_holder_dequeue_if_at_quota(
        holder_id=holder.pk, held=held.count(), quota=program.code_quota
    )
    return code
