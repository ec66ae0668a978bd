"""Stock alerts: their admin, and the tables of alerts and leaked codes on a pool's page."""

from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin

from foundation.admin_links import LINK_CLASS, admin_link
from foundation.wording import console_time
from programs.admin_scoping import (
    ProgramScopedAdminMixin,
)

from ..models import (
    CodeStatus,
    StockAlert,
)
from ..services.leaks import void_url
from .shared import _STATUS_WORDS


def _alert_delivery(alert):
    if alert.delivery == "sent":
        return console_time(alert.sent_at)
    if alert.delivery == "no recipients":
        return _("no recipients: add them in the settings")
    return _("not sent yet")


def _alerts_table(alerts):
    return {
        "headers": [
            _("When"),
            _("Pool"),
            _("Alert"),
            _("Codes left"),
            _("Threshold"),
            _("E-mailed"),
        ],
        "rows": [
            [
                console_time(alert.created_at),
                alert.pool.name,
                alert.get_kind_display(),
                f"{alert.available:,}",
                f"{alert.threshold:,}",
                _alert_delivery(alert),
            ]
            for alert in alerts
        ],
    }


def _leaked_table(alerts, *, can_void):
    rows = []
    for alert in alerts:
        code = alert.code
        if code.status == CodeStatus.VOIDED:
            state = _STATUS_WORDS["voided"]
        elif can_void:
            state = format_html(
                '<a class="{} void-link" href="{}">{}</a>', LINK_CLASS, void_url(code), _("Void…")
            )
        else:
            state = _STATUS_WORDS.get(code.shown_status, code.shown_status)
        rows.append(
            [
                admin_link(reverse("admin:codes_promocode_change", args=[code.pk]), code.code),
                code.holder.participant_id if code.holder_id else "—",
                f"{alert.customers:,}",
                console_time(alert.created_at),
                _alert_delivery(alert),
                state,
            ]
        )
    return {
        "headers": [
            _("Code"),
            _("Advocate"),
            _("Customers, 24 hours"),
            _("Flagged"),
            _("E-mailed"),
            "",
        ],
        "rows": rows,
    }


@admin.register(StockAlert)
class StockAlertAdmin(ProgramScopedAdminMixin, ModelAdmin):
    program_path = "pool__program"
    list_display = [
        "created_at",
        "pool",
        "kind",
        "available",
        "threshold",
        "used_last_7_days",
        "days_left",
        "recipients",
        "e_mailed",
    ]
    list_filter = ["kind", "pool__program"]

    @admin.display(description=_("E-mailed"), ordering="sent_at")
    def e_mailed(self, alert):
        return _alert_delivery(alert)

    list_select_related = ["pool__program"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
