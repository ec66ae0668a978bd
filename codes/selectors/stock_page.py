"""The program's stock page and the dashboard's per-program figures, on capped counts."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import QuerySet

from foundation.replica import replica_reads
from foundation.wording import about_duration
from programs.models import Program

from ..models import (
    Batch,
    CodeShortfall,
    CodeStatus,
    LeakAlert,
    Pool,
    PoolKind,
    PromoCode,
    StockAlert,
)
from .stock import (
    EXPIRY_WARNING_DAYS,
    STOCK_RECENT_ROWS,
    USE_WINDOW_DAYS,
    CappedCount,
    _capped,
    forecast_days_left,
    pool_available_capped,
    pool_expired_codes,
    pool_expiring_codes,
    pools_use_per_day,
    program_pools,
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
