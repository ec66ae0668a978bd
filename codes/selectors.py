"""Reads about pools and codes that are more than one ORM call: stock counts, rate of use and
the forecast of when a pool runs out.

A pool's *available* count is its codes not yet assigned to anyone. For the referral pool only
codes of the program's current usage count: after the one-way switch to single-use, multi-use
codes left in the pool can never be handed out again.
"""

import itertools
import re
import weakref
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal
from typing import BinaryIO

from django.conf import settings
from django.db import connections, router
from django.db.models import Case, Count, Q, QuerySet, Value, When
from django.db.models.functions import TruncDate
from django.utils import timezone
from django.utils.translation import gettext

from foundation.replica import on_replica, replica_reads
from foundation.wording import about_duration
from programs.models import Program

from . import sql
from .models import (
    CODE_CHAR_CLASS,
    CODE_MAX_LENGTH,
    CODE_PATTERN_REGEX,
    Batch,
    BatchSource,
    BatchStatus,
    CodeShortfall,
    CodeSource,
    CodeState,
    CodeStatus,
    LeakAlert,
    Pool,
    PoolKind,
    PromoCode,
    StockAlert,
)
from .parsing import SAMPLE_ROWS, SKIP_REASONS, Skip, file_format, read_rows, skipped_phrases

USE_WINDOW_DAYS = 7


def pool_available_codes(*, pool: Pool) -> QuerySet[PromoCode]:
    """The queryset of `pool`'s codes that can still be handed out (expired ones apart)."""
    codes = PromoCode.objects.filter(CodeState.CLAIMABLE, pool=pool)
    if pool.kind == PoolKind.REFERRAL:
        codes = codes.filter(usage=pool.program.code_usage)
    return codes


def pool_available_count(*, pool: Pool) -> int:
    return pool_available_codes(pool=pool).count()


def pool_available_at_most(*, pool: Pool, limit: int, valid_at: datetime | None = None) -> int:
    """min(available, limit + 1): whether the pool is above `limit`, at a cost of `limit` rows.

    The low-stock check runs after every claim; counting a pool of a million codes each time
    would cost more than the claim. Above the threshold the exact number does not matter.
    With `valid_at`, only the codes that will not have expired by then count.
    """
    usage = pool.program.code_usage if pool.kind == PoolKind.REFERRAL else None
    using = router.db_for_read(PromoCode)  # the replica inside replica_reads()
    return sql.available_at_most(
        pool_id=pool.pk, usage=usage, limit=limit, valid_at=valid_at, using=using
    )


# The stock page, the API and check_code_stock warn of available codes expiring this soon.
EXPIRY_WARNING_DAYS = 14


def pool_expired_codes(*, pool: Pool) -> QuerySet[PromoCode]:
    """The pool's codes never handed out that are past their expiry: they never will be."""
    return PromoCode.objects.filter(CodeState.AVAILABLE & CodeState.EXPIRED, pool=pool)


def pool_expiring_codes(*, pool: Pool, days: int, now=None) -> QuerySet[PromoCode]:
    """The pool's codes that can be handed out now but expire within `days` days."""
    until = (now or timezone.now()) + timedelta(days=days)
    return PromoCode.objects.filter(CodeState.CLAIMABLE, pool=pool, expires_at__lte=until)


def pool_expiry_counts(*, pool: Pool, days: int = EXPIRY_WARNING_DAYS, now=None) -> dict:
    """{"expired": …, "expiring": …} of pool_expired_codes and pool_expiring_codes in one
    query (the codes with an expiry that were never handed out)."""
    until = (now or timezone.now()) + timedelta(days=days)
    return PromoCode.objects.filter(
        CodeState.AVAILABLE, pool=pool, expires_at__isnull=False
    ).aggregate(
        expired=Count("id", filter=CodeState.EXPIRED),
        expiring=Count("id", filter=CodeState.CLAIMABLE & Q(expires_at__lte=until)),
    )


def pool_used_recently(*, pool: Pool, days: int = USE_WINDOW_DAYS, now=None) -> int:
    """Codes of the pool handed to advocates in the last `days` days (manual codes excluded:
    they never came out of the stock)."""
    since = (now or timezone.now()) - timedelta(days=days)
    return PromoCode.objects.filter(
        pool=pool, source=CodeSource.POOL, assigned_at__gte=since
    ).count()


def forecast_days_left(*, available: int, used: int, days: int = USE_WINDOW_DAYS) -> Decimal | None:
    """Days until the pool runs out at the recent rate; None when there is nothing to forecast:
    the pool is empty already, or nothing was used recently."""
    if available <= 0 or used <= 0:
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
    # Available codes past their expiry (never handed out), and those expiring within
    # EXPIRY_WARNING_DAYS.
    expired: int = 0
    expiring_soon: int = 0

    @property
    def used_per_day(self):
        return (Decimal(self.used_last_7_days) / USE_WINDOW_DAYS).quantize(Decimal("0.1"))

    @property
    def per_day(self):
        return (Decimal(self.used_last_7_days) / USE_WINDOW_DAYS).quantize(
            Decimal("0.01"), rounding=ROUND_HALF_UP
        )

    @property
    def at_least(self) -> list[str]:
        """The counts that stopped at their cap (pool_stock_capped): the true figure is that
        or more."""
        return [
            name
            for name in ("available", "assigned", "redeemed", "voided", "expired", "expiring_soon")
            if getattr(getattr(self, name), "at_least", False)
        ]

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
    expiry = pool_expiry_counts(pool=pool, now=now)
    return PoolStock(
        pool=pool,
        available=available,
        assigned=taken[CodeStatus.ASSIGNED],
        redeemed=taken[CodeStatus.REDEEMED],
        voided=taken[CodeStatus.VOIDED],
        threshold=pool.threshold,
        used_last_7_days=used,
        days_left=forecast_days_left(available=available, used=used),
        expired=expiry["expired"],
        expiring_soon=expiry["expiring"],
    )


def pool_stock_capped(*, pool: Pool, now=None) -> PoolStock:
    """pool_stock with each count stopped at STOCK_COUNT_CAP, as the stock page counts: the
    same few milliseconds for a pool of ten million codes as for one of a hundred (each count
    walks at most CAP + 1 entries of a partial index). The days left are then a lower bound."""
    cap = STOCK_COUNT_CAP

    def taken(status):
        return _capped(PromoCode.objects.filter(pool=pool, status=status), cap)

    available = pool_available_capped(pool=pool, cap=cap)
    used = pool_used_recently(pool=pool, now=now)
    return PoolStock(
        pool=pool,
        available=available,
        assigned=taken(CodeStatus.ASSIGNED),
        redeemed=taken(CodeStatus.REDEEMED),
        voided=taken(CodeStatus.VOIDED),
        threshold=pool.threshold,
        used_last_7_days=used,
        days_left=forecast_days_left(available=available, used=used),
        expired=_capped(pool_expired_codes(pool=pool), cap),
        expiring_soon=_capped(
            pool_expiring_codes(pool=pool, days=EXPIRY_WARNING_DAYS, now=now), cap
        ),
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


# --- The stock page and the dashboard ---------------------------------------------------------

# Counts on the console's pages stop at this many: past it the exact figure changes nothing a
# manager decides, and counting a pool of a million codes on each page load would cost more
# than the rest of the page (bench/admin_pages.py). Each count walks at most CAP + 1 entries of
# a partial index (the claim index for available codes, promocode_pool_used for the others).
STOCK_COUNT_CAP = 100_000
STOCK_CHART_DAYS = 30
STOCK_RECENT_ROWS = 10


class CappedCount(int):
    """A count that stopped at STOCK_COUNT_CAP: `at_least` when the true figure may be higher."""

    @classmethod
    def of(cls, counted: int, cap: int = STOCK_COUNT_CAP) -> "CappedCount":
        value = cls(min(counted, cap))
        value.at_least = counted > cap
        return value

    @property
    def shown(self) -> str:
        return f"{int(self):,}+" if self.at_least else f"{int(self):,}"


def _capped(queryset: QuerySet, cap: int = STOCK_COUNT_CAP) -> CappedCount:
    return CappedCount.of(queryset.order_by()[: cap + 1].count(), cap)


def pool_available_capped(*, pool: Pool, cap: int = STOCK_COUNT_CAP) -> CappedCount:
    return CappedCount.of(pool_available_at_most(pool=pool, limit=cap), cap)


def pools_use_per_day(
    *, pools: list[Pool], days: int = STOCK_CHART_DAYS, now=None
) -> tuple[list[date], dict[int, list[int]]]:
    """Codes handed out per day over the last `days` days (today included), per pool.

    One query, a range scan of the (pool, assigned_at) index promocode_pool_use; manual
    codes are left out (they never came out of the stock). Returns the days, oldest first, and
    for each pool id its count per day.
    """
    today = timezone.localdate(now or timezone.now())
    first = today - timedelta(days=days - 1)
    since = timezone.make_aware(datetime.combine(first, time.min))
    day_list = [first + timedelta(days=n) for n in range(days)]
    per_pool = {pool.pk: [0] * days for pool in pools}
    for row in use_per_day_rows(pool_ids=[pool.pk for pool in pools], since=since):
        index = (row["day"] - first).days
        if 0 <= index < days:
            per_pool[row["pool_id"]][index] += row["n"]
    return day_list, per_pool


def use_per_day_rows(*, pool_ids: list[int], since: datetime) -> QuerySet:
    """{pool_id, day, n}: pool codes handed out per day since `since` (the chart's query)."""
    return (
        PromoCode.objects.filter(pool__in=pool_ids, assigned_at__gte=since, source=CodeSource.POOL)
        .annotate(day=TruncDate("assigned_at"))
        .values("pool_id", "day")
        .annotate(n=Count("id"))
        .order_by()
    )


@dataclass(frozen=True)
class PoolStockSummary:
    """One pool on the stock page: counts (capped), threshold, use per day, days left."""

    pool: Pool
    available: CappedCount
    assigned: CappedCount
    redeemed: CappedCount
    voided: CappedCount
    threshold: int
    use_per_day: list[int]
    expired: CappedCount
    expiring_soon: CappedCount

    @property
    def used_last_7_days(self) -> int:
        return sum(self.use_per_day[-USE_WINDOW_DAYS:])

    @property
    def used_last_30_days(self) -> int:
        return sum(self.use_per_day)

    @property
    def days_left(self) -> Decimal | None:
        """At the last 7 days' rate; None when empty or unused. A lower bound when the
        available count stopped at its cap."""
        return forecast_days_left(available=self.available, used=self.used_last_7_days)

    @property
    def lasts(self) -> str:
        """The forecast in words ("about 7 months"; "more than 7 months" past the cap)."""
        text = about_duration(self.days_left)
        return text.replace("about", "more than", 1) if self.available.at_least else text

    @property
    def is_low(self) -> bool:
        return not self.available.at_least and self.available <= self.threshold

    @property
    def is_empty(self) -> bool:
        return self.available == 0


@dataclass(frozen=True)
class ProgramStockPage:
    program: Program
    pools: list[PoolStockSummary]
    days: list[date]
    short_advocates: CappedCount
    recent_batches: list[Batch]
    recent_alerts: list[StockAlert]
    leaked_codes: list[LeakAlert]


def _taken_capped(pool: Pool, status: str) -> CappedCount:
    # Served by the partial index promocode_pool_used (pool, status, usage).
    return _capped(PromoCode.objects.filter(pool=pool, status=status))


def program_stock_page(*, program: Program, now=None) -> ProgramStockPage:
    """Everything the stock page shows of one program, in a bounded number of queries, each
    walking a bounded stretch of an index whatever the number of codes. Read from the replica
    when there is one: the page's counts tolerate a second's lag."""
    with replica_reads():
        return _program_stock_page(program=program, now=now)


def _program_stock_page(*, program: Program, now=None) -> ProgramStockPage:
    pools = list(program_pools(program=program))
    days, per_pool = pools_use_per_day(pools=pools, now=now)
    summaries = [
        PoolStockSummary(
            pool=pool,
            available=pool_available_capped(pool=pool),
            assigned=_taken_capped(pool, CodeStatus.ASSIGNED),
            redeemed=_taken_capped(pool, CodeStatus.REDEEMED),
            voided=_taken_capped(pool, CodeStatus.VOIDED),
            threshold=pool.threshold,
            use_per_day=per_pool[pool.pk],
            expired=_capped(pool_expired_codes(pool=pool)),
            expiring_soon=_capped(
                pool_expiring_codes(pool=pool, days=EXPIRY_WARNING_DAYS, now=now)
            ),
        )
        for pool in pools
    ]
    batches = list(
        Batch.objects.filter(pool__program=program)
        .select_related("pool")
        .defer("errors")
        .order_by("-created_at", "-id")[:STOCK_RECENT_ROWS]
    )
    alerts = list(
        StockAlert.objects.filter(pool__program=program)
        .select_related("pool")
        .order_by("-created_at", "-id")[:STOCK_RECENT_ROWS]
    )
    # The latest leaked codes (README, "Reviewing referrals"), on the (program, created_at)
    # index of their alerts.
    leaked = list(
        LeakAlert.objects.filter(program=program)
        .select_related("code__holder")
        .order_by("-created_at", "-id")[:STOCK_RECENT_ROWS]
    )
    return ProgramStockPage(
        program=program,
        pools=summaries,
        days=days,
        short_advocates=program_short_advocates(program=program),
        recent_batches=batches,
        recent_alerts=alerts,
        leaked_codes=leaked,
    )


def program_short_advocates(*, program: Program) -> CappedCount:
    """Advocates waiting for codes (the CodeShortfall queue), on its (program, since) index."""
    return _capped(CodeShortfall.objects.filter(program=program))


@dataclass(frozen=True)
class ProgramDashboardRow:
    program: Program
    available: CappedCount | None  # None: promo codes off (no referral pool yet)
    threshold: int
    short_advocates: CappedCount

    @property
    def is_low(self) -> bool:
        return (
            self.available is not None
            and not self.available.at_least
            and self.available <= self.threshold
        )


DASHBOARD_PROGRAMS = 12
# The index's cards say whether stock is low, not how much is left: counting to 10,000 (or past
# the threshold, if higher) is enough, and keeps a dozen programs of a million codes cheap.
DASHBOARD_COUNT_CAP = 10_000


def programs_dashboard(*, programs: QuerySet[Program]) -> list[ProgramDashboardRow]:
    """The admin index's cards: each program's available referral codes and advocates short of
    codes (the first DASHBOARD_PROGRAMS programs by name)."""
    rows = []
    chosen = list(programs.order_by("name", "pk")[:DASHBOARD_PROGRAMS])
    referral_pools = {
        pool.program_id: pool
        for pool in Pool.objects.filter(program__in=chosen, kind=PoolKind.REFERRAL).select_related(
            "program"
        )
    }
    for program in chosen:
        pool = referral_pools.get(program.pk) if program.promo_codes_enabled else None
        rows.append(
            ProgramDashboardRow(
                program=program,
                available=pool_available_capped(
                    pool=pool, cap=max(DASHBOARD_COUNT_CAP, program.low_stock_threshold + 1)
                )
                if pool
                else None,
                threshold=program.low_stock_threshold,
                short_advocates=program_short_advocates(program=program),
            )
        )
    return rows


# --- Upload preview ---------------------------------------------------------------------------

_EXISTING_CHUNK = 5000
# Refused rows listed on the preview (counts are always of the whole file).
PREVIEW_REFUSED_KEPT = 1000
# The first codes it will add, shown on the preview.
PREVIEW_SAMPLE_CODES = 10


@dataclass
class UploadPreview:
    """What importing a file would do: the counts of a batch, a sample, the first refused rows.

    Rows read and invalid rows are counted over the whole file. Duplicates within the file and
    codes already in the program are checked over the first `checked_rows` valid rows (all of
    them unless the file has more than CODES_PREVIEW_CHECKED_ROWS): past that, `complete` is
    False and `codes_to_add` is an upper bound; the import counts everything exactly.
    """

    file_name: str
    rows_read: int = 0
    codes_to_add: int = 0
    duplicates_in_file: int = 0
    already_in_program: int = 0
    invalid_rows: int = 0
    valid_rows: int = 0
    checked_rows: int = 0
    refused: list = field(default_factory=list)  # the first [{"line", "value", "reason"}]
    sample: list = field(default_factory=list)  # the first codes it will add
    header: str | None = None  # the header cell that named the code column, if any
    column: int = 1  # the column (1-based) the codes were read from
    first_row: list = field(default_factory=list)  # without a header: a first row of cells
    usage: str = ""
    file_format: str = ""
    platform: str = ""  # the platform export recognised (codes.parsing.layouts), if any
    skipped: dict = field(default_factory=dict)  # {Skip: rows} of a platform export
    # For the column picker: the first rows of every column (shown), whether the first is a
    # header, and how many columns the first row has (the columns that may be chosen).
    sample_rows: list = field(default_factory=list)
    has_header: bool = False
    width: int = 0
    column_chosen: bool = False
    # The first row names no codes: the manager must choose their column (nothing is counted).
    needs_column: bool = False
    no_column_reason: str = ""
    size: int = 0  # the file's bytes

    @property
    def skipped_phrases(self):
        return skipped_phrases(self.skipped)

    @property
    def skipped_rows(self):
        """[(reason in words, rows)] of each reason that skipped rows."""
        return [(SKIP_REASONS[r], self.skipped[r]) for r in Skip if self.skipped.get(r)]

    @property
    def picker_columns(self):
        """[(index, number, header, checked)] of each column the picker offers (the first
        row's cells)."""
        head = self.sample_rows[0] if self.has_header and self.sample_rows else []
        return [
            (i, i + 1, head[i] if i < len(head) else "", i + 1 == self.column)
            for i in range(self.width)
        ]

    @property
    def picker_rows(self):
        """The first data rows, each cut or padded to the picker's columns."""
        body = self.sample_rows[1:] if self.has_header else self.sample_rows
        return [[row[i] if i < len(row) else "" for i in range(self.width)] for row in body]

    @property
    def complete(self):
        return self.checked_rows == self.valid_rows

    @property
    def refused_count(self):
        return self.invalid_rows + self.duplicates_in_file + self.already_in_program


def upload_preview(
    *, pool: Pool, stream: BinaryIO, file_name: str, column: int | None = None
) -> UploadPreview:
    """Read an uploaded file as a stream and say what importing it would do.

    Memory stays bounded whatever the file: the parser's limits bound what a row can expand
    to, at most CODES_PREVIEW_CHECKED_ROWS codes are held for the duplicate and existing-code
    checks (looked up a few thousand at a time, no query per row), and only the first refused
    rows are kept. `column` is the codes' column the manager chose (0-based). Raises
    parsing.UnreadableFile (parsing.NoCodeColumn when the column must be chosen).
    """
    fmt = file_format(file_name)
    preview = UploadPreview(
        file_name=file_name, usage=pool.program.get_code_usage_display(), file_format=fmt
    )
    check_limit = settings.CODES_PREVIEW_CHECKED_ROWS
    first_line = {}
    refused = []

    def refuse(line, value, reason):
        if len(refused) < PREVIEW_REFUSED_KEPT:
            refused.append({"line": line, "value": value, "reason": reason})

    layout = {}
    for row in read_rows(stream, fmt, layout=layout, column=column):
        preview.rows_read += 1
        if row.code is None:
            preview.invalid_rows += 1
            refuse(row.line, row.value, row.reason)
            continue
        preview.valid_rows += 1
        if preview.checked_rows >= check_limit:
            continue
        preview.checked_rows += 1
        if row.code in first_line:
            preview.duplicates_in_file += 1
            refuse(row.line, row.value, gettext("duplicate within the file"))
        else:
            first_line[row.code] = row.line
    preview.header = layout.get("header")
    preview.column = layout.get("column", 0) + 1
    preview.first_row = layout.get("first_row", [])
    preview.platform = layout.get("platform", "")
    preview.skipped = dict(layout.get("skipped", {}))
    preview.rows_read += sum(preview.skipped.values())
    preview.sample_rows = layout.get("sample_rows", [])
    preview.has_header = layout.get("has_header", False)
    preview.width = layout.get("width", 0)
    preview.column_chosen = layout.get("chosen", False)
    codes = list(first_line)
    existing = set()
    for start in range(0, len(codes), _EXISTING_CHUNK):
        existing.update(
            PromoCode.objects.filter(
                program_id=pool.program_id, code__in=codes[start : start + _EXISTING_CHUNK]
            ).values_list("code", flat=True)
        )
    preview.already_in_program = len(existing)
    for code in sorted(existing, key=first_line.__getitem__)[:PREVIEW_REFUSED_KEPT]:
        line = first_line[code]
        refused.append({"line": line, "value": code, "reason": gettext("already in the program")})
    refused.sort(key=lambda r: r["line"])
    preview.refused = refused[:PREVIEW_REFUSED_KEPT]
    new_codes = (code for code in codes if code not in existing)
    preview.sample = list(itertools.islice(new_codes, PREVIEW_SAMPLE_CODES))
    unchecked = preview.valid_rows - preview.checked_rows
    preview.codes_to_add = len(codes) - len(existing) + unchecked
    return preview


def upload_columns(
    *, pool: Pool, stream: BinaryIO, file_name: str, reason: str = ""
) -> UploadPreview:
    """The columns of a file whose first row names no codes (parsing.NoCodeColumn), for the
    manager to choose the codes' column: the first rows of each, read with the first row as
    its header. Nothing is counted. Raises parsing.UnreadableFile."""
    fmt = file_format(file_name)
    layout = {}
    rows = read_rows(stream, fmt, layout=layout, column=0)
    for _row in itertools.islice(rows, SAMPLE_ROWS):
        pass
    return UploadPreview(
        file_name=file_name,
        usage=pool.program.get_code_usage_display(),
        file_format=fmt,
        sample_rows=layout.get("sample_rows", []),
        has_header=True,
        width=layout.get("width", 0),
        needs_column=True,
        no_column_reason=reason,
        column=0,
    )


def upload_batches_waiting(*, older_than, now=None):
    """Ids of admin-upload batches still waiting for their import task after `older_than`."""
    since = (now or timezone.now()) - older_than
    return list(
        Batch.objects.filter(status=BatchStatus.PENDING, created_at__lt=since)
        .order_by("id")
        .values_list("id", flat=True)
    )


def upload_batches_stalled(*, older_than, now=None):
    """Ids of background uploads still processing whose worker has not been heard of for
    `older_than` (it died: see Batch.attempts)."""
    since = (now or timezone.now()) - older_than
    return list(
        Batch.objects.filter(Batch.stalled(since)).order_by("id").values_list("id", flat=True)
    )


EXPORT_PAGE_ROWS = 2000

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
    ("expires", "expires_at"),
]
# The console's export of a filtered list: the same columns, then the program and the friend
# whose order used the code, so a sheet mixing programs still reads on its own.
CONSOLE_EXPORT_COLUMNS = [
    *EXPORT_COLUMNS,
    ("friend id", "redeemed_by__participant_id"),
    ("program", "program__slug"),
]


def codes_export_rows(
    *,
    queryset: QuerySet[PromoCode] | None = None,
    program: Program | None = None,
    columns: list[tuple[str, str]] = EXPORT_COLUMNS,
    readable_times: bool = False,
) -> Iterator[list[str]]:
    """The export rows (docs/architecture.md, Exports) of `queryset`, or of all of `program`'s
    codes.

    Read from the replica when there is one (an export tolerates a second's lag), in pages of
    EXPORT_PAGE_ROWS codes by id (keyset pagination: each page an index range of its own, so
    memory stays flat whatever the size, and no cursor is held open between pages, which a
    transaction pooler would not keep). Every value comes out as text ("" for none). Times
    are ISO 8601, or with `readable_times` like "2026-11-27 08:00 UTC" (for people).
    """
    if queryset is None:
        queryset = PromoCode.objects.filter(program=program)
    rows = on_replica(
        queryset.annotate(code_type=CODE_TYPE)
        .order_by("id")
        .values_list("id", *(lookup for _, lookup in columns))
    )
    after = None
    while True:
        page = list((rows if after is None else rows.filter(id__gt=after))[:EXPORT_PAGE_ROWS])
        for row in page:
            yield [_text(value, readable_times) for value in row[1:]]
        if len(page) < EXPORT_PAGE_ROWS:
            return
        after = page[-1][0]


def readable_time(value) -> str:
    """A time as people read it in a list or a sheet: "2026-11-27 08:00 UTC"."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _text(value, readable_times=False):
    if value is None:
        return ""
    if hasattr(value, "isoformat"):
        return readable_time(value) if readable_times else value.isoformat()
    return str(value)


# --- The code manager's search -------------------------------------------------------------

# What a code, or its first characters, can look like (any case: codes are stored upper-case).
CODE_PREFIX = re.compile(rf"[{CODE_CHAR_CLASS}]{{1,{CODE_MAX_LENGTH}}}")
# An advocate's id or e-mail names a handful of participants; more is not a person.
SEARCH_MAX_HOLDERS = 50
# A code prefix is resolved to at most this many codes first (see codes_matching).
SEARCH_MAX_PREFIX_CODES = 10_000


def codes_matching(
    *, queryset: QuerySet[PromoCode], term: str, program_ids: list[int]
) -> QuerySet[PromoCode]:
    """The codes of `queryset` that start with `term` (any case), or whose advocate's
    participant id or e-mail (any case) is `term`, in the programs `program_ids`.

    Each part is an index lookup, never a scan of the codes (checked with EXPLAIN on
    PostgreSQL, docs/benchmarks.md and docs/scaling.md):
    - the code prefix: resolved first to the ids of its codes, a bounded range of
      `promocode_unique_per_program` (program_id, code varchar_pattern_ops) read in code
      order, as program_id = ANY(…) AND code ~>=~ 'AB' AND code ~<~ 'AC' LIMIT 10,000; the
      codes are then `pk IN (those ids)`, so the list's ORDER BY id DESC has only them to sort.
      Left to itself, PostgreSQL over-estimates how many codes a prefix matches and, at 100 M
      codes, walks the primary key backwards looking for them (90 s). A prefix matching more
      than SEARCH_MAX_PREFIX_CODES codes is common enough in the table for that walk to find
      a page quickly, and keeps the plain condition (the same codes either way);
    - the advocate: resolved first, on the participants' `participant_unique_id`
      (program_id, participant_id) or `participant_by_email` (program_id, UPPER(email)); their
      codes then come from `promocode_by_holder` (holder_id, …).
    """
    term = term.strip()
    match = Q(pk__in=[])
    if CODE_PREFIX.fullmatch(term):
        prefix = Q(program_id__in=program_ids, code__startswith=term.upper())
        code_ids = list(
            PromoCode.objects.using(queryset.db)
            .filter(prefix)
            .order_by("program_id", "code")
            .values_list("pk", flat=True)[:SEARCH_MAX_PREFIX_CODES]
        )
        match |= Q(pk__in=code_ids) if len(code_ids) < SEARCH_MAX_PREFIX_CODES else prefix
    # The holder's model, named through the foreign key: codes does not import participants.
    participants = PromoCode._meta.get_field("holder").related_model
    holder_ids = list(
        participants.objects.using(queryset.db)
        .filter(program_id__in=program_ids)
        .filter(Q(participant_id=term) | Q(email__iexact=term))
        .values_list("pk", flat=True)[:SEARCH_MAX_HOLDERS]
    )
    if holder_ids:
        match |= Q(holder_id__in=holder_ids)
    return queryset.filter(match)


# --- Codes held --------------------------------------------------------------------------------


def codes_held(*, participant) -> list[PromoCode]:
    """The referral codes a participant holds now (can still share), in the order they were
    assigned."""
    return list(
        PromoCode.objects.held_by(participant)
        .order_by("assigned_at", "id")
        .only("code", "usage", "status", "assigned_at", "first_copied_at")
    )


# The one-lookup endpoint's columns, in the order code_lookup_row answers them.
CODE_LOOKUP_COLUMNS = (
    "code",
    "usage",
    "status",
    "pool__name",
    "pool__kind",
    "source",
    "holder__participant_id",
    "holder__email",
    "assigned_at",
    "first_copied_at",
    "redeemed_at",
    "redemption_count",
    "redeemed_order_id",
)
# Per database connection: the lookup's SQL and its column converters, compiled once. Building
# the query through the ORM (joins, SQL text) cost more than the SELECT itself on every request.
_code_lookup_compiled = weakref.WeakKeyDictionary()


def _code_lookup_query(connection):
    compiled = _code_lookup_compiled.get(connection)
    if compiled is None:
        query = (
            PromoCode.objects.using(connection.alias)
            .filter(program_id=0)
            .filter(code="")
            .order_by("id")
            .values_list(*CODE_LOOKUP_COLUMNS)[:1]
            .query
        )
        compiler = query.get_compiler(connection=connection)
        sql_text, params = compiler.as_sql()
        if tuple(params) != (0, ""):  # the parameters' order is relied on below
            raise RuntimeError(f"Unexpected parameters of the code lookup: {params!r}")
        converters = compiler.get_converters([column[0] for column in compiler.select])
        compiled = _code_lookup_compiled[connection] = (sql_text, compiler, converters)
    return compiled


def code_lookup_row(*, program_id: int, code: str) -> tuple | None:
    """The code's CODE_LOOKUP_COLUMNS (the holder's None when nobody holds it), or None."""
    connection = connections[router.db_for_read(PromoCode)]
    sql_text, compiler, converters = _code_lookup_query(connection)
    with connection.cursor() as cursor:
        cursor.execute(sql_text, (program_id, code))
        row = cursor.fetchone()
    if row is None or not converters:
        return row
    return next(iter(compiler.apply_converters([row], converters)))


@dataclass(frozen=True)
class CodePattern:
    """How a code made by hand in a pool looks: a prefix and a number of random characters."""

    prefix: str
    length: int

    @property
    def shown(self) -> str:
        return self.prefix + "?" * self.length


_GENERATED_FILE_NAME = re.compile(r"× ([A-Z0-9_-]*?)(\?{4,})$")
_PATTERN_SAMPLE = 200
_SEPARATORS = "-_"


def _common_prefix(texts: list[str]) -> str:
    first, last = min(texts), max(texts)  # what the first and last share, all share
    size = 0
    while size < min(len(first), len(last)) and first[size] == last[size]:
        size += 1
    return first[:size]


def pool_code_pattern(*, pool: Pool, default_length: int = 10) -> CodePattern:
    """The pattern of codes added by hand to `pool`: the pool's own (`code_pattern`) when set;
    else the prefix and length of its latest generated batch; else what the codes of its latest
    batch share (a prefix up to a `-` or `_`, and their usual length); else no prefix."""
    if pool.code_pattern:
        prefix, marks = re.fullmatch(CODE_PATTERN_REGEX, pool.code_pattern).groups()
        return CodePattern(prefix, len(marks))
    latest = (
        Batch.objects.filter(pool=pool, codes_added__gt=0).order_by("-created_at", "-id").first()
    )
    if latest is None:
        return CodePattern("", default_length)
    generated = _GENERATED_FILE_NAME.search(latest.file_name or "")
    if latest.source == BatchSource.GENERATED and generated:
        return CodePattern(generated.group(1), len(generated.group(2)))
    sample = list(
        PromoCode.objects.filter(batch=latest).values_list("code", flat=True)[:_PATTERN_SAMPLE]
    )
    if not sample:
        return CodePattern("", default_length)
    shared = _common_prefix(sample)
    cut = max(shared.rfind(ch) for ch in _SEPARATORS)
    prefix = shared[: cut + 1] if cut >= 0 else ""
    usual = Counter(len(code) for code in sample).most_common(1)[0][0]
    return CodePattern(prefix, max(usual - len(prefix), 6))


def referral_code_pattern(*, program: Program) -> CodePattern:
    """The pattern a code added by hand to the program's referral pool follows."""
    pool = Pool.objects.filter(program=program, kind=PoolKind.REFERRAL).first()
    return pool_code_pattern(pool=pool) if pool else CodePattern("", 10)
