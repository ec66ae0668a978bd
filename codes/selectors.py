"""Reads about pools and codes that are more than one ORM call: stock counts, rate of use and
the forecast of when a pool runs out.

A pool's *available* count is its codes not yet assigned to anyone. For the referral pool only
codes of the program's current usage count: after the one-way switch to single-use, multi-use
codes left in the pool can never be handed out again.
"""

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import BinaryIO

from django.db.models import Case, Count, QuerySet, Value, When
from django.utils import timezone

from programs.models import Program

from . import sql
from .models import CodeSource, CodeState, CodeStatus, Pool, PoolKind, PromoCode
from .parsing import file_format, read_rows

USE_WINDOW_DAYS = 7


def pool_available_codes(*, pool: Pool) -> QuerySet[PromoCode]:
    """The queryset of `pool`'s codes that can still be handed out."""
    codes = PromoCode.objects.filter(pool=pool).available()
    if pool.kind == PoolKind.REFERRAL:
        codes = codes.filter(usage=pool.program.code_usage)
    return codes


def pool_available_count(*, pool: Pool) -> int:
    return pool_available_codes(pool=pool).count()


def pool_available_at_most(*, pool: Pool, limit: int) -> int:
    """min(available, limit + 1): whether the pool is above `limit`, at a cost of `limit` rows.

    The low-stock check runs after every claim; counting a pool of a million codes each time
    would cost more than the claim. Above the threshold the exact number does not matter.
    """
    usage = pool.program.code_usage if pool.kind == PoolKind.REFERRAL else None
    return sql.available_at_most(pool_id=pool.pk, usage=usage, limit=limit)


def pool_used_recently(*, pool: Pool, days: int = USE_WINDOW_DAYS, now=None) -> int:
    """Codes of the pool handed to advocates in the last `days` days (manual codes excluded:
    they never came out of the stock)."""
    since = (now or timezone.now()) - timedelta(days=days)
    return PromoCode.objects.filter(
        pool=pool, source=CodeSource.POOL, assigned_at__gte=since
    ).count()


def forecast_days_left(*, available: int, used: int, days: int = USE_WINDOW_DAYS) -> Decimal | None:
    """Days until the pool runs out at the recent rate; None when nothing was used recently."""
    if available <= 0:
        return Decimal("0.0")
    if used <= 0:
        return None
    per_day = Decimal(used) / Decimal(days)
    return (Decimal(available) / per_day).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class PoolStock:
    pool: Pool
    available: int
    assigned: int
    redeemed: int
    voided: int
    threshold: int
    used_last_7_days: int
    days_left: Decimal | None

    @property
    def used_per_day(self):
        return (Decimal(self.used_last_7_days) / USE_WINDOW_DAYS).quantize(Decimal("0.1"))

    @property
    def per_day(self):
        return (Decimal(self.used_last_7_days) / USE_WINDOW_DAYS).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        )

    @property
    def is_low(self):
        return self.available <= self.threshold

    @property
    def is_empty(self):
        return self.available == 0


def pool_stock(*, pool: Pool, now=None) -> PoolStock:
    """Counts, threshold, recent use and forecast of one pool."""
    available = pool_available_count(pool=pool)
    taken = {CodeStatus.ASSIGNED: 0, CodeStatus.REDEEMED: 0, CodeStatus.VOIDED: 0}
    # Served by the partial index of codes taken out of the pool.
    rows = (
        PromoCode.objects.filter(pool=pool)
        .exclude(status=CodeStatus.AVAILABLE)
        .values("status")
        .annotate(n=Count("id"))
        .order_by()
    )
    for row in rows:
        taken[row["status"]] += row["n"]
    used = pool_used_recently(pool=pool, now=now)
    return PoolStock(
        pool=pool,
        available=available,
        assigned=taken[CodeStatus.ASSIGNED],
        redeemed=taken[CodeStatus.REDEEMED],
        voided=taken[CodeStatus.VOIDED],
        threshold=pool.threshold,
        used_last_7_days=used,
        days_left=forecast_days_left(available=available, used=used),
    )


def program_pools(*, program: Program | None = None) -> QuerySet[Pool]:
    """Pools (of one program, or of every program with promo codes on), referral pool first."""
    pools = Pool.objects.select_related("program").filter(program__promo_codes_enabled=True)
    if program is not None:
        pools = pools.filter(program=program)
    return pools.order_by("program__slug", "-kind", "name")  # "referral" > "fuel_tank"


def program_stock(*, program: Program, now=None) -> list[PoolStock]:
    """PoolStock of each of the program's pools, referral pool first."""
    return [pool_stock(pool=pool, now=now) for pool in program_pools(program=program)]


# --- Upload preview ---------------------------------------------------------------------------

_EXISTING_CHUNK = 5000


@dataclass
class UploadPreview:
    """What importing a file would do: the counts of a batch and every refused row."""

    file_name: str
    rows_read: int = 0
    codes_to_add: int = 0
    duplicates_in_file: int = 0
    already_in_program: int = 0
    invalid_rows: int = 0
    refused: list = field(default_factory=list)  # [{"line", "value", "reason"}] by line


def upload_preview(*, pool: Pool, stream: BinaryIO, file_name: str) -> UploadPreview:
    """Read a whole uploaded file and say which rows would be imported and which refused.

    Validation and de-duplication happen in memory; codes already in the program are looked up
    a few thousand at a time (no query per row). Raises parsing.UnreadableFile.
    """
    preview = UploadPreview(file_name=file_name)
    first_line = {}
    for row in read_rows(stream, file_format(file_name)):
        preview.rows_read += 1
        if row.code is None:
            preview.invalid_rows += 1
            preview.refused.append({"line": row.line, "value": row.value, "reason": row.reason})
        elif row.code in first_line:
            preview.duplicates_in_file += 1
            preview.refused.append(
                {"line": row.line, "value": row.value, "reason": "duplicate within the file"}
            )
        else:
            first_line[row.code] = row
    codes = list(first_line)
    for start in range(0, len(codes), _EXISTING_CHUNK):
        existing = PromoCode.objects.filter(
            program_id=pool.program_id, code__in=codes[start : start + _EXISTING_CHUNK]
        ).values_list("code", flat=True)
        for code in existing:
            row = first_line[code]
            preview.already_in_program += 1
            preview.refused.append(
                {"line": row.line, "value": row.value, "reason": "already in the program"}
            )
    preview.codes_to_add = len(codes) - preview.already_in_program
    preview.refused.sort(key=lambda r: r["line"])
    return preview


# A code of a fuel tank is a "reward" code, any other a "referral" code.
CODE_TYPE = Case(When(CodeState.IN_FUEL_TANK, then=Value("reward")), default=Value("referral"))

EXPORT_COLUMNS = [
    ("code", "code"),
    ("usage", "usage"),
    ("status", "status"),
    ("pool", "pool__name"),
    ("batch", "batch_id"),
    ("advocate id", "holder__participant_id"),
    ("assigned", "assigned_at"),
    ("first copied", "first_copied_at"),
    ("redeemed", "redeemed_at"),
    ("order id", "redeemed_order_id"),
    ("type", "code_type"),
]


def codes_export_rows(
    *, queryset: QuerySet[PromoCode] | None = None, program: Program | None = None
) -> Iterator[list[str]]:
    """The export rows (DESIGN §4 Exports) of `queryset`, or of all of `program`'s codes.

    Streams from the database in chunks; every value comes out as text ("" for none).
    """
    if queryset is None:
        queryset = PromoCode.objects.filter(program=program)
    rows = (
        queryset.annotate(code_type=CODE_TYPE)
        .order_by("id")
        .values_list(*(lookup for _, lookup in EXPORT_COLUMNS))
    )
    for row in rows.iterator(chunk_size=2000):
        yield [_text(value) for value in row]


def _text(value):
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


# --- Codes held --------------------------------------------------------------------------------


def codes_held(*, participant) -> list[PromoCode]:
    """The referral codes a participant holds now (can still share), in the order they were
    assigned."""
    return list(
        PromoCode.objects.held_by(participant)
        .order_by("assigned_at", "id")
        .only("code", "usage", "status", "assigned_at", "first_copied_at")
    )
