"""Writes with business meaning for pools, batches and codes.

Keyword-only arguments, one transaction each.
"""

import secrets

from django.db import transaction
from django.utils import timezone

from programs.models import CodeUsage, Program

from .models import Batch, BatchSource, BatchStatus, CodeStatus, Pool, PoolKind, PromoCode

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


# --- Assignment -------------------------------------------------------------------------------


class CodeNotRedeemable(ValueError):
    """A referral code that cannot attribute an order; `reason` says why, for the shop."""

    def __init__(self, reason):
        super().__init__(reason)
        self.reason = reason


def _advocate_model():
    # The holder model (participants.Participant) without importing the higher app.
    return PromoCode._meta.get_field("holder").related_model


def _held_toward_quota(*, participant, program):
    """Codes the advocate holds that count toward the quota.

    In a single-use program only unredeemed single-use codes count: a multi-use code kept from
    before the switch still attributes but does not fill the quota.
    """
    held = PromoCode.objects.filter(holder=participant, status=CodeStatus.ASSIGNED)
    if program.is_single_use:
        held = held.filter(usage=CodeUsage.SINGLE)
    return held.count()


def _claim_codes(*, pool, usage, participant, count, now):
    """Claim up to `count` available codes of `pool` for `participant`; return how many.

    PostgreSQL: the candidates are locked with FOR UPDATE SKIP LOCKED, so concurrent claimers
    each take different rows without waiting on one another, oldest batch first and file order
    within a batch (approximately, under concurrency). SQLite runs one writer at a time (the
    connection begins IMMEDIATE transactions), so the same statements are safe there.
    The UPDATE re-checks `status = available`: a code is never handed to two advocates.
    """
    if count <= 0:
        return 0
    candidates = (
        PromoCode.objects.filter(pool=pool, status=CodeStatus.AVAILABLE, usage=usage)
        .order_by("batch_id", "id")
        .select_for_update(skip_locked=True)
        .values_list("id", flat=True)[:count]
    )
    ids = list(candidates)
    if not ids:
        return 0
    return PromoCode.objects.filter(id__in=ids, status=CodeStatus.AVAILABLE).update(
        status=CodeStatus.ASSIGNED, holder=participant, assigned_at=now
    )


@transaction.atomic
def codes_top_up(*, participant):
    """Bring an advocate to their code quota from the program's referral pool.

    Returns the number of codes assigned now. Idempotent: an advocate at quota gets nothing,
    and concurrent calls for one advocate are serialised on the advocate's row. When the pool
    runs short the advocate is marked short (codes_short_since) so a later batch tops them up
    in the order they fell short.
    """
    Advocate = _advocate_model()
    # Lock the advocate's row only (of=self): a plain FOR UPDATE with the join would also lock
    # the program row and serialise every assignment and conversion of the program.
    advocate = (
        Advocate.objects.select_for_update(of=("self",))
        .select_related("program")
        .get(pk=participant.pk)
    )
    program = advocate.program
    if not program.promo_codes_enabled or not advocate.is_advocate or advocate.is_blocked:
        return 0
    missing = program.code_quota - _held_toward_quota(participant=advocate, program=program)
    if missing <= 0:
        if advocate.codes_short_since is not None:
            Advocate.objects.filter(pk=advocate.pk).update(codes_short_since=None)
        return 0
    pool = pool_get_or_create_referral(program=program)
    now = timezone.now()
    claimed = _claim_codes(
        pool=pool, usage=program.code_usage, participant=advocate, count=missing, now=now
    )
    short = claimed < missing
    if short and advocate.codes_short_since is None:
        Advocate.objects.filter(pk=advocate.pk).update(codes_short_since=now)
    elif not short and advocate.codes_short_since is not None:
        Advocate.objects.filter(pk=advocate.pk).update(codes_short_since=None)
    if claimed:
        transaction.on_commit(lambda: pool_stock_changed(pool_id=pool.pk))
    return claimed


def pool_stock_changed(*, pool_id):
    """Hook run after a commit that took codes out of a pool (low-stock alerts hang here)."""


@transaction.atomic
def code_redeem(*, code, order_id, redeemed_by=None):
    """Record one use of a held referral code in an order and top its advocate up.

    Locks the code row, re-checks, records: a single-use code is redeemed exactly once however
    many orders race for it; a multi-use code counts one more use. Raises CodeNotRedeemable.
    Returns the code as stored after the use.
    """
    locked = PromoCode.objects.select_for_update().get(pk=code.pk)
    if locked.status == CodeStatus.AVAILABLE or locked.holder_id is None:
        raise CodeNotRedeemable("code is held by no advocate")
    if locked.status == CodeStatus.REDEEMED:
        raise CodeNotRedeemable("single-use code already redeemed")
    now = timezone.now()
    locked.redemption_count += 1
    locked.redeemed_order_id = order_id
    locked.redeemed_by = redeemed_by
    locked.redeemed_at = now
    if locked.usage == CodeUsage.SINGLE:
        locked.status = CodeStatus.REDEEMED
    locked.save(
        update_fields=[
            "status",
            "redemption_count",
            "redeemed_order_id",
            "redeemed_by",
            "redeemed_at",
        ]
    )
    if locked.usage == CodeUsage.SINGLE:
        codes_top_up(participant=locked.holder)
    return locked
