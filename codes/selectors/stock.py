"""A pool's stock: available, expiring and expired codes, rate of use, the forecast of when it
runs out, and the capped counts the console shows.
"""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db import router
from django.db.models import Count, Q, QuerySet
from django.db.models.functions import TruncDate
from django.utils import timezone

from programs.models import Program

from .. import sql
from ..models import (
    CodeSource,
    CodeState,
    CodeStatus,
    Pool,
    PoolKind,
    PromoCode,
)

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
