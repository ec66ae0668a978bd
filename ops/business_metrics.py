"""The business gauges of /metrics: every business read of the metrics lives in this module.

What an on-call person needs: codes available per pool (with its low-stock threshold),
advocates short of codes, conversions by outcome, low-stock alerts sent (and any still unsent),
code batches imported and how long they took.

Cost at scrape time (1,000,000 codes in a pool): every read below walks an index that exists,
and only its matching entries, never a whole table —
- available codes: codes.selectors.pool_available_count per pool, a count on the partial
  claim index `promocode_next_available` (available codes only; their validity read too);
- expired and expiring codes: the partial index on `expires_at` (codes with an expiry only);
- advocates short of codes: the partial index `participant_short_of_codes` (short ones only);
- conversions of the last hour per program: the index `conversion_recent` (program, created_at);
- alerts and batches: one row per alert / per upload, small tables.
On top of that the numbers are read at most once per METRICS_CACHE_SECONDS (default 30 s) and
shared through the cache (Redis in production) by every web process, so N web machines scraped
every 15 s still cost one read per period. `referral_metrics_age_seconds` says how old they are.
"""

import logging
import time
from datetime import timedelta

from django.conf import settings
from django.core.cache import cache
from django.db.models import Count, DurationField, ExpressionWrapper, F, Q, Sum
from django.utils import timezone
from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    SummaryMetricFamily,
)

from codes.models import Batch, BatchStatus, CodeShortfall, StockAlert
from codes.selectors import (
    EXPIRY_WARNING_DAYS,
    pool_available_count,
    pool_expiry_counts,
    program_pools,
)
from conversions.models import Conversion, ConversionStatus
from foundation.replica import replica_reads
from programs.models import Program

logger = logging.getLogger(__name__)

CACHE_KEY = "metrics:business:v1"
REFRESH_LOCK_KEY = "metrics:business:refreshing"
CONVERSIONS_WINDOW = timedelta(hours=1)


def advocates_short_of_codes():
    """{program_id: advocates holding fewer codes than their quota}: the codes app's queue of
    the short (CodeShortfall, index shortfall_queue leads with program)."""
    rows = CodeShortfall.objects.values("program_id").annotate(n=Count("holder_id")).order_by()
    return {row["program_id"]: row["n"] for row in rows}


def conversions_recent(*, since):
    """{program_id: {outcome: conversions recorded since `since`}}, one index range per
    program (the index leads with program, so one query for all would scan them all)."""
    counts = {}
    for program_id in Program.objects.values_list("id", flat=True):
        rows = (
            Conversion.objects.filter(program_id=program_id, created_at__gte=since)
            .values("status")
            .annotate(n=Count("id"))
            .order_by()
        )
        counts[program_id] = {row["status"]: row["n"] for row in rows}
    return counts


def alerts_by_pool():
    """{pool_id: {"low": sent, "empty": sent, "unsent": decided but not sent yet}}."""
    rows = (
        StockAlert.objects.values("pool_id", "kind")
        .annotate(
            sent=Count("id", filter=Q(sent_at__isnull=False)),
            # An alert of a pool that names no recipients is never e-mailed: not "unsent".
            unsent=Count("id", filter=Q(sent_at__isnull=True) & ~Q(recipients="")),
        )
        .order_by()
    )
    alerts = {}
    for row in rows:
        pool = alerts.setdefault(row["pool_id"], {"unsent": 0})
        pool[row["kind"]] = row["sent"]
        pool["unsent"] += row["unsent"]
    return alerts


def batches_by_pool():
    """{pool_id: {"status": {status: n}, "codes_added", "completed", "seconds"}}: "completed"
    batches took "seconds" in all from upload to completion."""
    took = ExpressionWrapper(F("completed_at") - F("created_at"), output_field=DurationField())
    rows = (
        Batch.objects.values("pool_id", "status")
        .annotate(
            n=Count("id"),
            codes=Sum("codes_added"),
            timed=Count("id", filter=Q(completed_at__isnull=False)),
            took=Sum(took),
        )
        .order_by()
    )
    batches = {}
    for row in rows:
        pool = batches.setdefault(
            row["pool_id"], {"status": {}, "codes_added": 0, "completed": 0, "seconds": 0.0}
        )
        pool["status"][row["status"]] = row["n"]
        pool["codes_added"] += row["codes"] or 0
        if row["status"] == BatchStatus.COMPLETED:
            pool["completed"] = row["timed"]
            pool["seconds"] = row["took"].total_seconds() if row["took"] else 0.0
    return batches


def read_snapshot():
    """Every business number of the metrics, as plain data (cached as is), read from the
    replica when there is one (gauges tolerate a second's lag)."""
    with replica_reads():
        return _read_snapshot()


def _read_snapshot():
    now = timezone.now()
    pools = list(program_pools())
    short = advocates_short_of_codes()
    recent = conversions_recent(since=now - CONVERSIONS_WINDOW)
    programs = {p.id: p.slug for p in Program.objects.only("id", "slug")}
    return {
        "taken_at": time.time(),
        "pools": [
            {
                "id": pool.pk,
                "program": pool.program.slug,
                "name": pool.name,
                "kind": pool.kind,
                "available": pool_available_count(pool=pool),
                **pool_expiry_counts(pool=pool, now=now),
                "threshold": pool.threshold,
            }
            for pool in pools
        ],
        "short": {programs[pid]: n for pid, n in short.items() if pid in programs},
        "conversions": {programs[pid]: c for pid, c in recent.items() if pid in programs},
        "alerts": alerts_by_pool(),
        "batches": batches_by_pool(),
    }


def cached_snapshot():
    """The snapshot, read from the database at most once per METRICS_CACHE_SECONDS.

    When it is older than that, one process (whichever takes the refresh lock) reads it again
    while the others keep answering with the old one: concurrent scrapes of several machines
    never read it twice. The cache failing (Redis down) does not fail the scrape: the numbers
    are then read directly.
    """
    period = settings.METRICS_CACHE_SECONDS
    try:
        snapshot = cache.get(CACHE_KEY)
        if snapshot is not None and time.time() - snapshot["taken_at"] < period:
            return snapshot
        if snapshot is not None and not cache.add(REFRESH_LOCK_KEY, 1, timeout=max(period, 5)):
            return snapshot  # another process is reading it again
    except Exception:
        logger.warning("Metrics: the cache cannot be read; reading the database", exc_info=True)
    snapshot = read_snapshot()
    try:
        # Kept for ten periods, so that a scrape during a refresh finds the previous one.
        cache.set(CACHE_KEY, snapshot, timeout=10 * period)
        cache.delete(REFRESH_LOCK_KEY)
    except Exception:
        logger.warning("Metrics: the cache cannot be written", exc_info=True)
    return snapshot


class BusinessCollector:
    """A prometheus_client collector over cached_snapshot()."""

    def collect(self):
        up = GaugeMetricFamily(
            "referral_metrics_up", "1 when the business metrics below could be read."
        )
        try:
            snapshot = cached_snapshot()
        except Exception:
            logger.exception("Metrics: the business metrics cannot be read")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily(
            "referral_metrics_age_seconds",
            "Age of the business metrics (they are cached for METRICS_CACHE_SECONDS).",
            value=max(0.0, time.time() - snapshot["taken_at"]),
        )
        yield from self.pool_families(snapshot)
        yield from self.program_families(snapshot)

    def pool_families(self, snapshot):
        labels = ["program", "pool", "kind"]
        available = GaugeMetricFamily(
            "referral_codes_available",
            "Codes of the pool that can still be handed out.",
            labels=labels,
        )
        expired = GaugeMetricFamily(
            "referral_codes_expired",
            "Codes of the pool that expired before they were handed out.",
            labels=labels,
        )
        expiring = GaugeMetricFamily(
            "referral_codes_expiring_soon",
            f"Available codes of the pool that expire within {EXPIRY_WARNING_DAYS} days.",
            labels=labels,
        )
        threshold = GaugeMetricFamily(
            "referral_codes_low_stock_threshold",
            "The pool's low-stock threshold (an alert is sent at or below it).",
            labels=labels,
        )
        alerts_sent = CounterMetricFamily(
            "referral_stock_alerts_sent",
            "Low-stock and out-of-stock e-mails sent.",
            labels=[*labels, "alert"],
        )
        alerts_unsent = GaugeMetricFamily(
            "referral_stock_alerts_unsent",
            "Alerts decided but not sent yet (broker or e-mail trouble if it stays above 0); "
            "alerts of pools that name no recipients are never sent and not counted.",
            labels=labels,
        )
        batches = GaugeMetricFamily(
            "referral_batches", "Code batches by status.", labels=[*labels, "status"]
        )
        codes_added = CounterMetricFamily(
            "referral_batch_codes_added", "Codes added by the pool's batches.", labels=labels
        )
        duration = SummaryMetricFamily(
            "referral_batch_duration_seconds",
            "Upload-to-completion time of the pool's completed batches.",
            labels=labels,
        )
        # JSON-cached keys are strings.
        alerts = {str(k): v for k, v in snapshot["alerts"].items()}
        pool_batches = {str(k): v for k, v in snapshot["batches"].items()}
        for pool in snapshot["pools"]:
            values = [pool["program"], pool["name"], pool["kind"]]
            available.add_metric(values, pool["available"])
            expired.add_metric(values, pool.get("expired", 0))
            expiring.add_metric(values, pool.get("expiring", 0))
            threshold.add_metric(values, pool["threshold"])
            pool_alerts = alerts.get(str(pool["id"]), {})
            for alert in ("low", "empty"):
                alerts_sent.add_metric([*values, alert], pool_alerts.get(alert, 0))
            alerts_unsent.add_metric(values, pool_alerts.get("unsent", 0))
            batch = pool_batches.get(str(pool["id"]), {})
            for status in BatchStatus.values:
                batches.add_metric([*values, status], batch.get("status", {}).get(status, 0))
            codes_added.add_metric(values, batch.get("codes_added", 0))
            duration.add_metric(
                values, count_value=batch.get("completed", 0), sum_value=batch.get("seconds", 0)
            )
        yield from (available, expired, expiring, threshold, alerts_sent, alerts_unsent)
        yield from (batches, codes_added, duration)

    def program_families(self, snapshot):
        short = GaugeMetricFamily(
            "referral_advocates_short_of_codes",
            "Advocates holding fewer codes than their quota (their pool ran dry).",
            labels=["program"],
        )
        conversions = GaugeMetricFamily(
            "referral_conversions_last_hour",
            "Conversions (orders) recorded in the last hour, by outcome.",
            labels=["program", "outcome"],
        )
        programs = sorted({pool["program"] for pool in snapshot["pools"]} | set(snapshot["short"]))
        for program in programs:
            short.add_metric([program], snapshot["short"].get(program, 0))
        for program in sorted(snapshot["conversions"]):
            counts = snapshot["conversions"][program]
            for outcome in ConversionStatus.values:
                conversions.add_metric([program, outcome], counts.get(outcome, 0))
        yield short
        yield conversions
