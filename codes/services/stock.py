"""Stock: low-stock and empty-pool alerts, and what happens when a batch lands."""

import unicodedata
from datetime import timedelta

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from foundation.tasks import enqueue_on_commit
from foundation.wording import about_duration

from .. import selectors
from ..events import stock_alert_emit
from ..models import AlertKind, Pool, PoolKind, PromoCode, StockAlert


def pool_batch_landed(*, pool_id: int) -> None:
    """Call when a batch of codes lands in a pool (inside or outside the import transaction).

    On commit, a Celery task re-checks the pool's stock (re-arming its low-stock alerts when it
    rose above the threshold) and tops up what waits for the pool: for a referral pool the
    advocates short of codes, for the reward tank the rewards waiting for a code.
    """
    from ..tasks import pool_batch_landed_task

    enqueue_on_commit(pool_batch_landed_task, pool_id)


# An alert whose e-mail could not be enqueued (broker down) is sent again by the periodic check
# once it is this old (younger ones may still be on their way), for two days; older ones stay
# unsent in the admin.
UNSENT_ALERT_GRACE = timedelta(minutes=5)
UNSENT_ALERT_RETRY = timedelta(days=2)
# The low-stock check counts the codes that will still be valid this far ahead.
LOW_STOCK_HORIZON = timedelta(days=7)


@transaction.atomic
def pool_stock_check(*, pool_id: int, resend_unsent: bool = False) -> list[StockAlert]:
    """Check a pool's stock against its threshold; decide the alerts now due.

    Below or at the threshold the low alert fires once per crossing; at zero the empty alert
    fires once (when the pool empties in one step from above the threshold, only the empty
    alert is sent). Each alert is claimed with a conditional UPDATE … WHERE armed, so exactly
    one of many concurrent checkers records it. Above the threshold both alerts re-arm. Alerts
    are recorded as StockAlert rows and e-mailed by a Celery task enqueued on commit; an alert
    whose e-mail never went out (the broker was down) is enqueued again by the periodic check
    (`resend_unsent`, check_code_stock).
    Returns the StockAlerts created (usually none).
    """
    pool = Pool.objects.select_related("program").get(pk=pool_id)
    if resend_unsent:
        _resend_unsent_alerts(pool)
    threshold = pool.threshold
    # Only codes still valid in LOW_STOCK_HORIZON count: a pool whose codes all expire tomorrow
    # is as good as empty.
    level = selectors.pool_available_at_most(
        pool=pool, limit=threshold, valid_at=timezone.now() + LOW_STOCK_HORIZON
    )
    if level > threshold:
        if not (pool.low_alert_armed and pool.empty_alert_armed):
            Pool.objects.filter(pk=pool.pk).filter(
                Q(low_alert_armed=False) | Q(empty_alert_armed=False)
            ).update(low_alert_armed=True, empty_alert_armed=True)
        return []
    if level == 0:
        if not PromoCode.objects.filter(pool=pool).exists():
            return []  # a pool that never held a code (a new fuel tank) is not "out of codes"
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
    stock_alert_emit(alert)
    from ..tasks import send_stock_alert

    enqueue_on_commit(send_stock_alert, alert.pk)
    return [alert]


def _resend_unsent_alerts(pool: Pool) -> None:
    from ..tasks import send_stock_alert

    now = timezone.now()
    unsent = StockAlert.objects.filter(
        pool=pool,
        sent_at__isnull=True,
        created_at__gte=now - UNSENT_ALERT_RETRY,
        created_at__lte=now - UNSENT_ALERT_GRACE,
    )
    for alert_id in unsent.exclude(recipients="").values_list("pk", flat=True)[:10]:
        enqueue_on_commit(send_stock_alert, alert_id)


def _width(text):
    """Columns `text` takes in a fixed-width font (a Chinese character takes two)."""
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


def _aligned(rows):
    """`label value` lines with the values in one column, whatever the language's labels."""
    column = max(_width(label) for label, _value in rows) + 1
    return [label + " " * (column - _width(label)) + str(value) for label, value in rows]


def _stock_alert_message(alert):
    """The alert's subject and body in the program's alert language (Program.alert_language)."""
    with translation.override(alert.pool.program.alert_language):
        return _stock_alert_text(alert)


def _stock_alert_text(alert):
    pool = alert.pool
    program = pool.program
    site = settings.SITE_URL.rstrip("/")
    stock_url = site + reverse("admin:codes_program_stock", args=[program.pk])
    upload_url = site + reverse("admin:codes_batch_upload") + f"?pool={pool.pk}"
    names = {"program": program.name, "pool": pool.name, "available": alert.available}
    if alert.kind == AlertKind.EMPTY:
        subject = _("[%(program)s] Out of codes: %(pool)s is empty") % names
        headline = _("The pool '%(pool)s' of program '%(program)s' has no codes left.") % names
    else:
        subject = (
            ngettext(
                "[%(program)s] Low stock: %(available)s code left in %(pool)s",
                "[%(program)s] Low stock: %(available)s codes left in %(pool)s",
                alert.available,
            )
            % names
        )
        headline = (
            ngettext(
                "The pool '%(pool)s' of program '%(program)s' is down to %(available)s "
                "available code.",
                "The pool '%(pool)s' of program '%(program)s' is down to %(available)s "
                "available codes.",
                alert.available,
            )
            % names
        )
    if alert.available == 0:
        forecast = _("none: the pool is empty")
    elif alert.days_left is None:
        forecast = _("none: no codes were handed out in the last 7 days")
    else:
        forecast = _("at that rate it runs out in %(when)s") % {
            "when": about_duration(alert.days_left)
        }
    fuel_tank = pool.kind == PoolKind.FUEL_TANK
    kind = "fuel tank of reward codes" if fuel_tank else "referral codes"
    # The referral pool is usually named after its kind ("Referral codes"): say it once.
    if pool.name.casefold() == kind:
        pool_line = pool.name
    else:
        shown_kind = _("fuel tank of reward codes") if fuel_tank else _("referral codes")
        pool_line = _("%(pool)s (%(kind)s)") % {"pool": pool.name, "kind": shown_kind}
    lines = [
        headline,
        "",
        *_aligned(
            [
                (_("Program:"), f"{program.name} ({program.slug})"),
                (_("Pool:"), pool_line),
                (_("Codes left:"), alert.available),
                (_("Low-stock threshold:"), alert.threshold),
                (_("Handed out, 7 days:"), alert.used_last_7_days),
                (_("Forecast:"), _("%(forecast)s.") % {"forecast": forecast}),
            ]
        ),
    ]
    expiring = selectors.pool_expiring_codes(pool=pool, days=LOW_STOCK_HORIZON.days).count()
    if expiring:
        lines.append(
            ngettext(
                "%(count)s more available code expires within 7 days (not counted above).",
                "%(count)s more available codes expire within 7 days (not counted above).",
                expiring,
            )
            % {"count": expiring}
        )
    if pool.kind == PoolKind.REFERRAL:
        short = selectors.program_short_advocates(program=program)
        lines.append(_("Advocates short of codes: %(count)s") % {"count": short.shown})
    lines += [
        "",
        _("Upload codes into %(pool)s: %(url)s") % {"pool": pool.name, "url": upload_url},
        _("Stock of %(program)s: %(url)s") % {"program": program.name, "url": stock_url},
        "",
        _(
            "You get this e-mail once each time the pool falls to its threshold, and once more\n"
            "if it runs empty."
        )
        + " "
        + (
            _("Rewards waiting for a code get one when a batch lands.")
            if fuel_tank
            else _("Advocates short of codes are topped up when a batch lands.")
        ),
    ]
    return subject, "\n".join(lines)


@transaction.atomic
def stock_alert_send(*, alert_id: int) -> bool:
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
