"""Reads over codes and pools that are more than one ORM call."""

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal

from django.db.models import Count, Q
from django.utils import timezone

from .models import CodeStatus, PromoCode

STOCK_WINDOW_DAYS = 7


def pool_stock(*, pool, now=None):
    """A pool's counts by status, its threshold, codes taken in the last 7 days and a forecast.

    `days_left` is available ÷ (codes assigned in the last 7 days ÷ 7); None when none were
    used in that window (no forecast).
    """
    now = now or timezone.now()
    since = now - timedelta(days=STOCK_WINDOW_DAYS)
    counts = PromoCode.objects.filter(pool=pool).aggregate(
        available=Count("id", filter=Q(status=CodeStatus.AVAILABLE)),
        assigned=Count("id", filter=Q(status=CodeStatus.ASSIGNED)),
        redeemed=Count("id", filter=Q(status=CodeStatus.REDEEMED)),
        used_last_7_days=Count("id", filter=Q(assigned_at__gte=since)),
    )
    used = counts["used_last_7_days"]
    per_day = Decimal(used) / STOCK_WINDOW_DAYS
    days_left = None
    if used:
        days_left = (Decimal(counts["available"]) / per_day).quantize(
            Decimal("0.1"), rounding=ROUND_HALF_UP
        )
    return {
        "pool": pool.name,
        "kind": pool.kind,
        "available": counts["available"],
        "assigned": counts["assigned"],
        "redeemed": counts["redeemed"],
        "threshold": pool.threshold,
        "used_last_7_days": used,
        "per_day": per_day.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP),
        "days_left": days_left,
    }


def codes_held(*, participant):
    """The codes a participant holds now (can still share), in the order they were assigned."""
    return list(
        PromoCode.objects.filter(holder=participant, status=CodeStatus.ASSIGNED).order_by(
            "assigned_at", "id"
        )
    )
