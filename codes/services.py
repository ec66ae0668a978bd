"""Writes with business meaning for pools, batches and codes.

Keyword-only arguments, one transaction each.
"""

import io
import secrets
from dataclasses import dataclass
from pathlib import PurePath

from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone

from programs.models import CodeUsage, Program

from . import selectors
from .models import (
    AlertKind,
    Batch,
    BatchSource,
    BatchStatus,
    CodeSource,
    CodeStatus,
    Pool,
    PoolKind,
    PromoCode,
    StockAlert,
)
from .parsing import UnreadableFile, file_format, read_rows

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
    pool_batch_landed(pool_id=pool.pk)  # after commit: re-arm alerts, top up the short
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
    # A handful of rows: fetching their ids is cheaper than Django's COUNT(*) machinery on
    # the hot path (the assignment benchmark measures it).
    return len(held.values_list("pk", flat=True))


def _referral_pool(program):
    # The pool almost always exists (created when promo codes are turned on): a plain read,
    # no savepoint on the hot path.
    pool = Pool.objects.filter(program=program, kind=PoolKind.REFERRAL).first()
    return pool or pool_get_or_create_referral(program=program)


_PG_CLAIM = """
WITH picked AS MATERIALIZED (
    SELECT id FROM {table}
    WHERE pool_id = %(pool)s AND status = %(available)s AND usage = %(usage)s
    ORDER BY batch_id, id
    LIMIT %(count)s
    FOR UPDATE SKIP LOCKED
)
UPDATE {table} AS code SET status = %(assigned)s, holder_id = %(holder)s, assigned_at = %(now)s
FROM picked WHERE code.id = picked.id AND code.status = %(available)s
"""


def _claim_codes(*, pool_id, usage, participant, count, now):
    """Claim up to `count` available codes of the pool for `participant`; return how many.

    PostgreSQL: one statement. The candidates are locked with SELECT … FOR UPDATE SKIP LOCKED in
    a MATERIALIZED CTE (evaluated exactly once), so concurrent claimers each take different rows
    without waiting on one another, oldest batch first and file order within a batch
    (approximately, under concurrency); the UPDATE takes them. (Not `UPDATE … WHERE id IN
    (SELECT … LIMIT n FOR UPDATE SKIP LOCKED)`: PostgreSQL may re-run that subquery during the
    update and claim more than n rows.) Elsewhere (SQLite, one writer at a time: the connection
    begins IMMEDIATE transactions) the same as a SELECT then an UPDATE through the ORM.
    Either way the UPDATE re-checks `status = available`: a code is never handed to two
    advocates.
    """
    if count <= 0:
        return 0
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                _PG_CLAIM.format(table=PromoCode._meta.db_table),
                {
                    "pool": pool_id,
                    "usage": usage,
                    "count": count,
                    "available": CodeStatus.AVAILABLE.value,
                    "assigned": CodeStatus.ASSIGNED.value,
                    "holder": participant.pk,
                    "now": now,
                },
            )
            return cursor.rowcount
    ids = list(
        PromoCode.objects.filter(pool_id=pool_id, status=CodeStatus.AVAILABLE, usage=usage)
        .order_by("batch_id", "id")
        .select_for_update(skip_locked=True)
        .values_list("id", flat=True)[:count]
    )
    if not ids:
        return 0
    return PromoCode.objects.filter(id__in=ids, status=CodeStatus.AVAILABLE).update(
        status=CodeStatus.ASSIGNED, holder_id=participant.pk, assigned_at=now
    )


@dataclass(frozen=True)
class TopUpResult:
    claimed: int
    # The pool could not fill the quota: the advocate is (still) marked codes_short_since.
    short: bool


def _lock_advocate(participant):
    # Lock only the participant row (not the joined program), and FOR NO KEY UPDATE, so rows
    # referencing it (codes, referrals) can still be written by other transactions.
    Advocate = _advocate_model()
    return (
        Advocate.objects.select_for_update(of=("self",), no_key=True)
        .select_related("program")
        .get(pk=participant.pk)
    )


def _check_stock_after_claim(*, pool_id, usage, threshold):
    # Claims only ever lower stock, so nothing re-arms here: one cheap capped count, and the
    # full (locking, alert-claiming) check only when the pool is at or below its threshold.
    if selectors.available_at_most(pool_id=pool_id, usage=usage, limit=threshold) <= threshold:
        pool_stock_changed(pool_id=pool_id)


@dataclass(frozen=True)
class _LockedAdvocate:
    """What the top-up needs of the advocate and their program, read with the row lock."""

    pk: int
    is_advocate: bool
    is_blocked: bool
    codes_short_since: object
    program_id: int
    promo_codes_enabled: bool
    code_usage: str
    codes_per_advocate: int
    low_stock_threshold: int
    referral_pool_id: int | None

    @property
    def code_quota(self):
        return self.codes_per_advocate if self.code_usage == CodeUsage.SINGLE else 1


def _lock_advocate_for_top_up(pk):
    """Lock the advocate's row (FOR NO KEY UPDATE OF it alone) and read, in the same round
    trip, their program's settings and referral pool id.

    Plain SQL on purpose: this is the hottest statement of assignment and the ORM spent more
    CPU building it than the database spent running it (bench/assign.py, docs/benchmarks.md).
    SQLite has no row locks; its IMMEDIATE transactions serialise writers instead.
    """
    Advocate = _advocate_model()
    lock = " FOR NO KEY UPDATE OF a" if connection.features.has_select_for_update else ""
    sql = (
        "SELECT a.id, a.is_advocate, a.is_blocked, a.codes_short_since, a.program_id, "
        "p.promo_codes_enabled, p.code_usage, p.codes_per_advocate, p.low_stock_threshold, "
        f"(SELECT r.id FROM {Pool._meta.db_table} r WHERE r.program_id = a.program_id "
        "AND r.kind = %s LIMIT 1) "
        f"FROM {Advocate._meta.db_table} a JOIN {Program._meta.db_table} p "
        "ON p.id = a.program_id WHERE a.id = %s" + lock
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, [PoolKind.REFERRAL.value, pk])
        row = cursor.fetchone()
    if row is None:
        raise Advocate.DoesNotExist(f"No participant with id {pk}.")
    return _LockedAdvocate(*row)


def _held_count(*, holder_id, usage):
    # _held_toward_quota for the hot path: one COUNT over the advocate's codes (by-holder index).
    sql = f"SELECT COUNT(*) FROM {PromoCode._meta.db_table} WHERE holder_id = %s AND status = %s"
    params = [holder_id, CodeStatus.ASSIGNED.value]
    if usage == CodeUsage.SINGLE:
        sql += " AND usage = %s"
        params.append(CodeUsage.SINGLE.value)
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchone()[0]


@transaction.atomic
def _codes_top_up(*, participant):
    Advocate = _advocate_model()
    advocate = _lock_advocate_for_top_up(participant.pk)
    if not advocate.promo_codes_enabled or not advocate.is_advocate or advocate.is_blocked:
        if advocate.codes_short_since is not None:  # not waiting for codes any more
            Advocate.objects.filter(pk=advocate.pk).update(codes_short_since=None)
        return TopUpResult(claimed=0, short=False)
    usage = advocate.code_usage
    missing = advocate.code_quota - _held_count(holder_id=advocate.pk, usage=usage)
    if missing <= 0:
        if advocate.codes_short_since is not None:
            Advocate.objects.filter(pk=advocate.pk).update(codes_short_since=None)
        return TopUpResult(claimed=0, short=False)
    pool_id = advocate.referral_pool_id
    if pool_id is None:
        program = Program.objects.get(pk=advocate.program_id)
        pool_id = pool_get_or_create_referral(program=program).pk
    now = timezone.now()
    claimed = _claim_codes(
        pool_id=pool_id, usage=usage, participant=advocate, count=missing, now=now
    )
    short = claimed < missing
    if short and advocate.codes_short_since is None:
        Advocate.objects.filter(pk=advocate.pk).update(codes_short_since=now)
    elif not short and advocate.codes_short_since is not None:
        Advocate.objects.filter(pk=advocate.pk).update(codes_short_since=None)
    if claimed:
        threshold = advocate.low_stock_threshold
        transaction.on_commit(
            lambda: _check_stock_after_claim(pool_id=pool_id, usage=usage, threshold=threshold)
        )
    return TopUpResult(claimed=claimed, short=short)


def codes_top_up(*, participant):
    """Bring an advocate to their code quota from the program's referral pool.

    Returns the number of codes assigned now. One transaction. Idempotent: an advocate at quota
    gets nothing, and concurrent calls for one advocate are serialised on the advocate's row.
    When the pool runs short the advocate is marked short (codes_short_since) so a later batch
    tops them up in the order they fell short. After the commit, the pool's stock is checked
    for low-stock alerts.
    """
    return _codes_top_up(participant=participant).claimed


def pool_stock_changed(*, pool_id):
    """Hook run after a commit that took a pool to or below its threshold: alerts now due."""
    pool_stock_check(pool_id=pool_id)


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


# --- Widget: recording copies -----------------------------------------------------------------


class CodeNotHeld(LookupError):
    """The code is not one the participant holds now."""


@dataclass(frozen=True)
class CodeCopy:
    code: str
    copied_before: bool
    first_copied_at: object  # datetime


@transaction.atomic
def code_record_copy(*, participant, code_text):
    """Record that the advocate copied one of the codes they hold; raise CodeNotHeld otherwise.

    The first copy is stamped by a conditional UPDATE … WHERE first_copied_at IS NULL, so of
    many concurrent copies exactly one is the first; `copied_before` tells the others.
    """
    canonical = PromoCode.canonical(code_text or "")
    code = (
        PromoCode.objects.filter(
            program_id=participant.program_id,
            code=canonical,
            holder_id=participant.pk,
            status=CodeStatus.ASSIGNED,
        )
        .only("id", "code")
        .first()
    )
    if code is None:
        raise CodeNotHeld(f"{canonical!r} is not one of this participant's codes.")
    now = timezone.now()
    first = PromoCode.objects.filter(pk=code.pk, first_copied_at__isnull=True).update(
        first_copied_at=now
    )
    if first:
        return CodeCopy(code=code.code, copied_before=False, first_copied_at=now)
    stamped = PromoCode.objects.values_list("first_copied_at", flat=True).get(pk=code.pk)
    return CodeCopy(code=code.code, copied_before=True, first_copied_at=stamped)


# --- Top-up runs, manual codes and low-stock alerts ---------------------------------------------

TOP_UP_CHUNK = 200


@dataclass
class TopUpRun:
    """What one run over a program's advocates did."""

    advocates_seen: int = 0
    advocates_topped_up: int = 0
    codes_assigned: int = 0
    # The pool ran dry during the run (a short run stops there; the rest wait for a batch).
    pool_empty: bool = False


def codes_top_up_short(*, program, chunk_size=TOP_UP_CHUNK, progress=None):
    """Top up the program's advocates short of codes, in the order they fell short.

    Advocates are taken in (codes_short_since, id) order, a chunk at a time, each topped up in
    its own short transaction (codes_top_up), never one long one. Safe to re-run and to run
    twice at once: codes_top_up locks the advocate and gives nothing to one at quota. Stops at
    the first advocate the pool cannot fill: the pool is empty, so the rest keep their place in
    the queue for the next batch. `progress(run)` is called after each chunk.
    """
    run = TopUpRun()
    if not program.promo_codes_enabled:
        return run
    Advocate = _advocate_model()
    short = Advocate.objects.filter(program=program, codes_short_since__isnull=False)
    after = None
    while True:
        chunk_query = short
        if after is not None:
            since, pk = after
            chunk_query = short.filter(
                Q(codes_short_since__gt=since) | Q(codes_short_since=since, pk__gt=pk)
            )
        chunk = list(
            chunk_query.order_by("codes_short_since", "pk").values_list("pk", "codes_short_since")[
                :chunk_size
            ]
        )
        for pk, _since in chunk:
            result = _codes_top_up(participant=Advocate(pk=pk))
            run.advocates_seen += 1
            run.codes_assigned += result.claimed
            run.advocates_topped_up += bool(result.claimed)
            if result.short:
                run.pool_empty = True
                break
        if progress is not None and chunk:
            progress(run)
        if run.pool_empty or len(chunk) < chunk_size:
            return run
        after = chunk[-1]


def codes_top_up_program(*, program, chunk_size=TOP_UP_CHUNK, progress=None):
    """Top up every advocate of the program to quota (after the switch to single-use, or when
    promo codes are turned on for a program that already has advocates).

    Goes through all advocates in id order, each in its own short transaction. When the pool runs
    dry the remaining advocates are still visited, so each is marked short and served when a
    batch lands. Safe to re-run and to run twice at once.
    """
    run = TopUpRun()
    if not program.promo_codes_enabled:
        return run
    Advocate = _advocate_model()
    advocates = Advocate.objects.filter(program=program, is_advocate=True, is_blocked=False)
    after = 0
    while True:
        chunk = list(
            advocates.filter(pk__gt=after).order_by("pk").values_list("pk", flat=True)[:chunk_size]
        )
        for pk in chunk:
            result = _codes_top_up(participant=Advocate(pk=pk))
            run.advocates_seen += 1
            run.codes_assigned += result.claimed
            run.advocates_topped_up += bool(result.claimed)
            run.pool_empty = run.pool_empty or result.short
        if progress is not None and chunk:
            progress(run)
        if len(chunk) < chunk_size:
            return run
        after = chunk[-1]


def program_advocates_top_up_later(*, program_id):
    """Enqueue, on commit, a top-up of every advocate of the program (a Celery task)."""
    from .tasks import top_up_program_advocates

    transaction.on_commit(lambda: top_up_program_advocates.delay(program_id))


def pool_batch_landed(*, pool_id):
    """Call when a batch of codes lands in a pool (inside or outside the import transaction).

    On commit, a Celery task re-checks the pool's stock (re-arming its low-stock alerts when it
    rose above the threshold) and, for a referral pool, tops up the program's advocates short
    of codes in the order they fell short.
    """
    from .tasks import pool_batch_landed_task

    transaction.on_commit(lambda: pool_batch_landed_task.delay(pool_id))


class CannotAddCode(ValueError):
    """The participant cannot be given a code by hand; the message says why."""


_MANUAL_CODE_TRIES = 20


@transaction.atomic
def code_add_manual(*, participant, prefix="", length=DEFAULT_GENERATED_LENGTH):
    """Generate a new code for one advocate, outside the pool's stock, and give it to them.

    The code goes into the program's referral pool with source `manual`, already assigned, in
    the program's current usage. It counts towards the advocate's quota, and may take them over
    it. Random from `secrets` over the no-look-alike alphabet; a clash with an existing code is
    resolved by insert-and-retry (a savepoint around each insert), never check-then-insert.
    Returns the PromoCode. Raises PromoCodesOff or CannotAddCode.
    """
    advocate = _lock_advocate(participant)
    program = advocate.program
    if not program.promo_codes_enabled:
        raise PromoCodesOff(f"Referral promo codes are off for program {program.slug!r}.")
    if not advocate.is_advocate:
        raise CannotAddCode(
            f"{advocate} is not an advocate yet (only a referred friend): upsert them first."
        )
    if advocate.is_blocked:
        raise CannotAddCode(f"{advocate} is blocked: a blocked advocate gets no codes.")
    prefix = (prefix or "").strip().upper()
    if prefix and not all(ch.isascii() and (ch.isalnum() or ch in "-_") for ch in prefix):
        raise CannotAddCode("The prefix may only use A–Z, 0–9, - and _.")
    if length < 4 or len(prefix) + length > 64:
        raise CannotAddCode("Use 4 or more random characters, at most 64 with the prefix.")
    pool = _referral_pool(program)
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
                    holder=advocate,
                    assigned_at=now,
                )
            break
        except IntegrityError:
            continue  # that code exists in the program: draw another
    else:
        raise CodeSpaceTooSmall("Could not find a free code; use a longer length.")
    if advocate.codes_short_since is not None:
        held = _held_toward_quota(participant=advocate, program=program)
        if held >= program.code_quota:
            type(advocate).objects.filter(pk=advocate.pk).update(codes_short_since=None)
    return code


@transaction.atomic
def pool_stock_check(*, pool_id):
    """Check a pool's stock against its threshold; decide the alerts now due.

    Below or at the threshold the low alert fires once per crossing; at zero the empty alert
    fires once (when the pool empties in one step from above the threshold, only the empty
    alert is sent). Each alert is claimed with a conditional UPDATE … WHERE armed, so exactly
    one of many concurrent checkers records it. Above the threshold both alerts re-arm. Alerts
    are recorded as StockAlert rows and e-mailed by a Celery task enqueued on commit.
    Returns the StockAlerts created (usually none).
    """
    pool = Pool.objects.select_related("program").get(pk=pool_id)
    threshold = pool.threshold
    level = selectors.pool_available_at_most(pool=pool, limit=threshold)
    if level > threshold:
        if not (pool.low_alert_armed and pool.empty_alert_armed):
            Pool.objects.filter(pk=pool.pk).filter(
                Q(low_alert_armed=False) | Q(empty_alert_armed=False)
            ).update(low_alert_armed=True, empty_alert_armed=True)
        return []
    if level == 0:
        claimed = Pool.objects.filter(pk=pool.pk, empty_alert_armed=True).update(
            empty_alert_armed=False, low_alert_armed=False
        )
        kind = AlertKind.EMPTY
    else:
        claimed = Pool.objects.filter(pk=pool.pk, low_alert_armed=True).update(
            low_alert_armed=False
        )
        kind = AlertKind.LOW
    if not claimed:
        return []
    used = selectors.pool_used_recently(pool=pool)
    alert = StockAlert.objects.create(
        pool=pool,
        kind=kind,
        available=level,
        threshold=threshold,
        recipients="\n".join(pool.recipient_list),
        used_last_7_days=used,
        days_left=selectors.forecast_days_left(available=level, used=used),
    )
    from .tasks import send_stock_alert

    alert_id = alert.pk
    transaction.on_commit(lambda: send_stock_alert.delay(alert_id))
    return [alert]


def _stock_alert_message(alert):
    pool = alert.pool
    program = pool.program
    site = settings.SITE_URL.rstrip("/")
    pool_url = site + reverse("admin:codes_pool_change", args=[pool.pk])
    batches_url = site + reverse("admin:codes_batch_changelist") + f"?pool__id__exact={pool.pk}"
    if alert.kind == AlertKind.EMPTY:
        subject = f"[{program.name}] Out of codes: {pool.name} is empty"
        headline = f"The pool {pool.name!r} of program {program.name!r} has no codes left."
    else:
        subject = f"[{program.name}] Low stock: {alert.available} codes left in {pool.name}"
        headline = (
            f"The pool {pool.name!r} of program {program.name!r} is down to "
            f"{alert.available} available codes."
        )
    if alert.days_left is None:
        forecast = "no codes were used in the last 7 days, so no run-out date can be forecast"
    else:
        forecast = f"at that rate it runs out in about {alert.days_left} days"
    body = "\n".join(
        [
            headline,
            "",
            f"Program:            {program.name} ({program.slug})",
            f"Pool:               {pool.name} ({pool.get_kind_display()})",
            f"Codes left:         {alert.available}",
            f"Low-stock threshold: {alert.threshold}",
            f"Used, last 7 days:  {alert.used_last_7_days}",
            f"Forecast:           {forecast}.",
            "",
            f"Upload a new batch of codes: {pool_url}",
            f"Batches of this pool: {batches_url}",
            "",
            "You get this e-mail once each time the pool falls to its threshold, and once more",
            "if it runs empty. Advocates short of codes are topped up when a batch lands.",
        ]
    )
    return subject, body


@transaction.atomic
def stock_alert_send(*, alert_id):
    """E-mail one recorded alert to its recipients and stamp sent_at. Sends at most once (the
    row is locked and re-checked, so a retried task does not send again). Returns whether an
    e-mail went out: an alert with no recipients is kept, unsent, in the admin."""
    alert = (
        StockAlert.objects.select_for_update(of=("self",))
        .select_related("pool__program")
        .get(pk=alert_id)
    )
    recipients = [r for r in alert.recipients.splitlines() if r.strip()]
    if alert.sent_at is not None or not recipients:
        return False
    subject, body = _stock_alert_message(alert)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    StockAlert.objects.filter(pk=alert.pk).update(sent_at=timezone.now())
    return True


# Batches: import, upload and processing (issue #3) ------------------------------------------

# Refused rows kept on a batch (counts are always exact).
BATCH_ERRORS_KEPT = 1000
# Rows staged per statement, and how often progress is written.
STAGING_CHUNK_ROWS = 50_000
_STAGING_TABLE = "codes_import_staging"


def _program_accepting_codes(pool):
    program = Program.objects.get(pk=pool.program_id)
    if not program.promo_codes_enabled:
        raise PromoCodesOff(f"Referral promo codes are off for program {program.slug!r}.")
    return program


class _Staging:
    """A per-connection temporary table of (line, code) the valid rows of a file land in.

    Staging is not business data: it is written in chunks outside the batch transaction, so
    progress can be committed as it goes, and then one set-based INSERT … SELECT … ON CONFLICT
    DO NOTHING moves the codes into the program inside the batch transaction. PostgreSQL loads
    it with COPY; SQLite with executemany.
    """

    def __init__(self):
        self.vendor = connection.vendor

    def create(self):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {_STAGING_TABLE}")
            cursor.execute(
                f"CREATE TEMPORARY TABLE {_STAGING_TABLE} "
                "(line bigint NOT NULL, code varchar(64) NOT NULL)"
            )

    def drop(self):
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {_STAGING_TABLE}")

    def write(self, rows):
        with connection.cursor() as cursor:
            if self.vendor == "postgresql":
                # Codes are [A-Z0-9_-] by now: nothing in them needs COPY escaping.
                copy_sql = f"COPY {_STAGING_TABLE} (line, code) FROM STDIN"
                with cursor.cursor.copy(copy_sql) as copy:
                    copy.write("".join(f"{line}\t{code}\n" for line, code in rows))
            else:
                cursor.executemany(
                    f"INSERT INTO {_STAGING_TABLE} (line, code) VALUES (%s, %s)", rows
                )

    def counts(self):
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT count(*), count(DISTINCT code) FROM {_STAGING_TABLE}")
            return cursor.fetchone()

    def insert_codes(self, *, program, pool, batch):
        """Move the staged codes into the program in file order, skipping existing ones."""
        table = PromoCode._meta.db_table
        postgres = self.vendor == "postgresql"
        with connection.cursor() as cursor:
            if postgres:
                # Sort the staged rows in memory rather than spilling to disk.
                cursor.execute("SET LOCAL work_mem = '256MB'")
                # Check the foreign keys as the rows go in: a million deferred checks queued
                # until COMMIT cost twice the INSERT itself. Django's default (deferred) is put
                # back right after.
                cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
            try:
                cursor.execute(
                    f"INSERT INTO {table} (program_id, pool_id, batch_id, code, usage, source, "
                    "status, redemption_count, redeemed_order_id) "
                    f"SELECT %s, %s, %s, code, %s, %s, %s, 0, '' FROM {_STAGING_TABLE} "
                    "WHERE 1 = 1 ORDER BY line ON CONFLICT (program_id, code) DO NOTHING",
                    [
                        program.pk,
                        pool.pk,
                        batch.pk,
                        batch.usage,
                        CodeSource.POOL,
                        CodeStatus.AVAILABLE,
                    ],
                )
                return cursor.rowcount
            finally:
                if postgres:
                    cursor.execute("SET CONSTRAINTS ALL DEFERRED")

    def duplicate_rows(self, limit):
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT line, code FROM (SELECT line, code, row_number() OVER "
                f"(PARTITION BY code ORDER BY line) AS n FROM {_STAGING_TABLE}) AS t "
                "WHERE n > 1 ORDER BY line LIMIT %s",
                [limit],
            )
            return cursor.fetchall()

    def existing_rows(self, *, program, batch, limit):
        table = PromoCode._meta.db_table
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT min(s.line), s.code FROM {_STAGING_TABLE} s JOIN {table} p "
                "ON p.program_id = %s AND p.code = s.code "
                "WHERE p.batch_id IS NULL OR p.batch_id <> %s "
                "GROUP BY s.code ORDER BY 1 LIMIT %s",
                [program.pk, batch.pk, limit],
            )
            return cursor.fetchall()


def _refusal(line, value, reason):
    return {"line": line, "value": value, "reason": reason}


def batch_import(
    *,
    pool,
    stream,
    file_name,
    source=BatchSource.IMPORT,
    created_by=None,
    batch=None,
    on_progress=None,
):
    """Import a code file (any upload format) into `pool` as one batch; return the batch.

    Rows are read as a stream and validated in Python, then staged (see _Staging); one
    transaction then inserts the new codes and writes the batch with its counts, so a crash or
    database error leaves no codes and no partial batch. A file that cannot be read raises
    UnreadableFile and writes nothing. `batch` is a pending upload batch to fill in (the admin's
    background path); without it a new batch is created. `on_progress(rows)` is called as rows
    are staged.
    """
    program = _program_accepting_codes(pool)
    fmt = file_format(file_name)
    staging = _Staging()
    staging.create()
    try:
        rows_read = invalid = 0
        errors = []
        chunk = []

        def flush():
            with transaction.atomic():
                if chunk:
                    staging.write(chunk)
                if batch is not None:
                    Batch.objects.filter(pk=batch.pk).update(progress_rows=rows_read)
            chunk.clear()
            if on_progress:
                on_progress(rows_read)

        for row in read_rows(stream, fmt):
            rows_read += 1
            if row.code is None:
                invalid += 1
                if len(errors) < BATCH_ERRORS_KEPT:
                    errors.append(_refusal(row.line, row.value, row.reason))
            else:
                chunk.append((row.line, row.code))
            if rows_read % STAGING_CHUNK_ROWS == 0:
                flush()
        flush()
        with transaction.atomic():
            if batch is None:
                batch = Batch.objects.create(
                    pool=pool,
                    source=source,
                    file_name=PurePath(file_name).name[:255],
                    usage=program.code_usage,
                    status=BatchStatus.PROCESSING,
                    created_by=created_by,
                )
            valid, distinct = staging.counts()
            added = staging.insert_codes(program=program, pool=pool, batch=batch)
            duplicates = valid - distinct
            already = distinct - added
            if duplicates:
                errors += [
                    _refusal(line, code, "duplicate within the file")
                    for line, code in staging.duplicate_rows(BATCH_ERRORS_KEPT)
                ]
            if already:
                errors += [
                    _refusal(line, code, "already in the program")
                    for line, code in staging.existing_rows(
                        program=program, batch=batch, limit=BATCH_ERRORS_KEPT
                    )
                ]
            errors.sort(key=lambda e: e["line"])
            Batch.objects.filter(pk=batch.pk).update(
                status=BatchStatus.COMPLETED,
                rows_read=rows_read,
                codes_added=added,
                duplicates_in_file=duplicates,
                already_in_program=already,
                invalid_rows=invalid,
                errors=errors[:BATCH_ERRORS_KEPT],
                progress_rows=rows_read,
                failure_reason="",
                upload_data=None,
                completed_at=timezone.now(),
            )
            if added:
                # After commit: re-arm alerts, top up advocates short of codes.
                pool_batch_landed(pool_id=pool.pk)
    finally:
        staging.drop()
    batch.refresh_from_db()
    return batch


@transaction.atomic
def batch_upload_enqueue(*, pool, data, file_name, created_by=None):
    """Keep an uploaded file on a pending batch and process it in a Celery task after commit.

    For admin uploads too big to import within the request. The file travels in the database
    (Batch.upload_data), so any worker can pick it up; it is cleared once imported.
    """
    from .tasks import batch_process_upload_task

    program = _program_accepting_codes(pool)
    file_format(file_name)
    batch = Batch.objects.create(
        pool=pool,
        source=BatchSource.UPLOAD,
        file_name=PurePath(file_name).name[:255],
        usage=program.code_usage,
        status=BatchStatus.PENDING,
        created_by=created_by,
        upload_data=data,
    )
    transaction.on_commit(lambda: batch_process_upload_task.delay(batch.pk))
    return batch


def batch_process_upload(*, batch_id):
    """Import a pending upload batch (the Celery task's body); mark it failed if it cannot be.

    The import itself is one transaction (see batch_import); a failure leaves the batch row
    with status failed and its reason, and no codes.
    """
    claimed = Batch.objects.filter(pk=batch_id, status=BatchStatus.PENDING).update(
        status=BatchStatus.PROCESSING
    )
    if not claimed:
        return None  # already processed (a redelivered task), or gone
    batch = Batch.objects.select_related("pool").get(pk=batch_id)
    try:
        return batch_import(
            pool=batch.pool,
            stream=io.BytesIO(bytes(batch.upload_data or b"")),
            file_name=batch.file_name,
            batch=batch,
        )
    except (UnreadableFile, PromoCodesOff) as exc:
        _batch_fail(batch, str(exc))
    except Exception:
        _batch_fail(batch, "The import failed with an internal error; no codes were added.")
        raise
    batch.refresh_from_db()
    return batch


def _batch_fail(batch, reason):
    Batch.objects.filter(pk=batch.pk).update(
        status=BatchStatus.FAILED,
        failure_reason=reason,
        upload_data=None,
        completed_at=timezone.now(),
    )
