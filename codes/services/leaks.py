"""Leaked multi-use codes (README, "Reviewing referrals"): a code used by more customers in a
day than its program allows is flagged once and e-mailed once to the program's alert
recipients. Which codes that are is counted from the orders, above this app; here the flag,
its e-mail and the resend of e-mails a broker outage left behind."""

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction
from django.urls import reverse
from django.utils import timezone, translation
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from foundation.tasks import enqueue_on_commit

from ..models import LeakAlert, PromoCode
from .stock import UNSENT_ALERT_GRACE, UNSENT_ALERT_RETRY, _aligned


@transaction.atomic
def code_leak_flag(*, code_id: int, customers: int, threshold: int) -> LeakAlert | None:
    """Flag a code as leaked (used by `customers` customers within 24 hours, more than the
    program's `threshold`) and record its e-mail, sent by a task on commit. The flag is claimed
    by a conditional UPDATE … WHERE leaked_at IS NULL, so of many workers flagging one code
    exactly one records the alert. Returns it, or None when the code was flagged already."""
    now = timezone.now()
    if not PromoCode.objects.filter(pk=code_id, leaked_at__isnull=True).update(leaked_at=now):
        return None
    code = PromoCode.objects.select_related("program").get(pk=code_id)
    alert = LeakAlert.objects.create(
        code=code,
        program=code.program,
        customers=customers,
        threshold=threshold,
        recipients="\n".join(code.program.recipient_list),
    )
    from ..tasks import send_leak_alert

    enqueue_on_commit(send_leak_alert, alert.pk)
    return alert


def leak_alerts_resend_unsent(*, now=None) -> int:
    """Enqueue again the leak e-mails that never went out (the broker was down), once a few
    minutes old and for two days, like the stock alerts'. Returns how many."""
    from ..tasks import send_leak_alert

    now = now or timezone.now()
    unsent = (
        LeakAlert.objects.filter(
            sent_at__isnull=True,
            created_at__gte=now - UNSENT_ALERT_RETRY,
            created_at__lte=now - UNSENT_ALERT_GRACE,
        )
        .exclude(recipients="")
        .values_list("pk", flat=True)[:100]
    )
    alert_ids = list(unsent)
    for alert_id in alert_ids:
        enqueue_on_commit(send_leak_alert, alert_id)
    return len(alert_ids)


def void_url(code: PromoCode) -> str:
    """The console's void confirmation of one code (the manager confirms there)."""
    return reverse("admin:codes_promocode_void_code", args=[code.pk])


def _leak_alert_text(alert: LeakAlert) -> tuple[str, str]:
    code = alert.code
    program = alert.program
    site = settings.SITE_URL.rstrip("/")
    names = {
        "program": program.name,
        "code": code.code,
        "customers": alert.customers,
        "threshold": alert.threshold,
    }
    subject = (
        ngettext(
            "[%(program)s] Leaked code: %(code)s used by %(customers)s customer in a day",
            "[%(program)s] Leaked code: %(code)s used by %(customers)s customers in a day",
            alert.customers,
        )
        % names
    )
    headline = (
        ngettext(
            "The multi-use code %(code)s of program '%(program)s' was used by %(customers)s "
            "customer within 24 hours, more than the %(threshold)s the program allows.",
            "The multi-use code %(code)s of program '%(program)s' was used by %(customers)s "
            "customers within 24 hours, more than the %(threshold)s the program allows.",
            alert.customers,
        )
        % names
    )
    holder = code.holder.participant_id if code.holder_id else "—"
    lines = [
        headline,
        _("It has probably been shared beyond its advocate (a coupon site, a forum)."),
        "",
        *_aligned(
            [
                (_("Program:"), f"{program.name} ({program.slug})"),
                (_("Code:"), code.code),
                (_("Advocate:"), holder),
                (_("Customers, 24 hours:"), alert.customers),
                (_("Allowed per day:"), alert.threshold),
            ]
        ),
        "",
        _("Void it (you confirm on the page): %(url)s") % {"url": site + void_url(code)},
        _("The code in the console: %(url)s")
        % {"url": site + reverse("admin:codes_promocode_change", args=[code.pk])},
        "",
        _(
            "A voided code attributes no more orders; its advocate gets a new code at once.\n"
            "You get this e-mail once per code."
        ),
    ]
    return subject, "\n".join(lines)


@transaction.atomic
def leak_alert_send(*, alert_id: int) -> bool:
    """E-mail one leaked code's alert in the program's alert language and stamp sent_at. Sends
    at most once (the row is locked and re-checked, so a retried task does not send again).
    Returns whether an e-mail went out: an alert with no recipients is kept, unsent."""
    alert = (
        LeakAlert.objects.select_for_update(of=("self",))
        .select_related("program", "code__holder")
        .get(pk=alert_id)
    )
    recipients = [r for r in alert.recipients.splitlines() if r.strip()]
    if alert.sent_at is not None or not recipients:
        return False
    with translation.override(alert.program.alert_language):
        subject, body = _leak_alert_text(alert)
    send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, recipients)
    LeakAlert.objects.filter(pk=alert.pk).update(sent_at=timezone.now())
    return True
