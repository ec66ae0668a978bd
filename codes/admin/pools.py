"""The pools admin: a pool's page (its batches, alerts, leaked codes) and the stock page."""

import json

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import Http404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import dateformat
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext
from unfold.admin import ModelAdmin

from audit.admin import AuditTrailAdminMixin
from foundation.wording import console_time
from programs.admin_scoping import (
    ProgramScopedAdminMixin,
    managed_programs,
)

from ..forms import PoolForm
from ..models import (
    Pool,
    PoolKind,
)
from ..selectors import (
    STOCK_COUNT_CAP,
    program_stock_page,
)
from ..services import (
    pool_create_fuel_tank,
    pool_set_reward_tank,
    pool_update_settings,
)
from ..topups import program_topup_progress, program_topup_sentence
from .alerts import _alerts_table, _leaked_table
from .shared import _upload_url, leaked_codes_url

# Chart colours: unfold's palette (CSS variables its chart script resolves), referral pool first.
_CHART_COLOURS = [
    "var(--color-primary-600)",
    "var(--color-base-400)",
    "var(--color-primary-300)",
    "var(--color-base-600)",
]


@admin.register(Pool)
class PoolAdmin(AuditTrailAdminMixin, ProgramScopedAdminMixin, ModelAdmin):
    form = PoolForm
    list_display = [
        "name",
        "program",
        "kind",
        "pays_rewards",
        "low_stock_threshold",
        "created_at",
        "upload_link",
    ]
    list_filter = ["kind", "program"]
    readonly_fields = ["low_alert_armed", "empty_alert_armed", "created_at"]

    def get_fields(self, request, obj=None):
        fields = ["program", "kind", "name"]
        if obj is None or obj.kind == PoolKind.FUEL_TANK:
            fields += ["low_stock_threshold", "low_stock_recipients", "pays_rewards"]
        return [*fields, *self.readonly_fields]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return self.readonly_fields
        # A pool stays in its program and keeps its kind; the referral pool's name and
        # thresholds are the program's.
        fixed = ["program", "kind"] + (["name"] if obj.kind == PoolKind.REFERRAL else [])
        return [*fixed, *self.readonly_fields]

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)
        if "kind" in form.base_fields:
            # The referral pool is made when promo codes are turned on: here, fuel tanks only.
            form.base_fields["kind"].choices = [(PoolKind.FUEL_TANK, PoolKind.FUEL_TANK.label)]
        return form

    def save_model(self, request, obj, form, change):
        data = form.cleaned_data
        if change:
            saved = pool_update_settings(
                pool=obj,
                name=data.get("name", obj.name),
                low_stock_threshold=data.get("low_stock_threshold"),
                recipients=data.get("low_stock_recipients", ""),
                pays_rewards=data.get("pays_rewards", False),
            )
        else:
            saved = pool_create_fuel_tank(
                program=data["program"],
                name=data["name"],
                low_stock_threshold=data.get("low_stock_threshold") or 0,
                recipients=data.get("low_stock_recipients", ""),
            )
            if data.get("pays_rewards"):
                pool_set_reward_tank(program=data["program"], pool=saved)
        obj.pk = saved.pk
        obj._state.adding = False
        obj.refresh_from_db()

    @admin.display(description=_("Codes"))
    def upload_link(self, pool):
        return format_html('<a href="{}">{}</a>', _upload_url(pool), _("Upload codes"))

    # The stock page of a program -----------------------------------------------------------

    def get_urls(self):
        stock = self.admin_site.admin_view(self.stock_view)
        return [
            path("stock/<int:program_id>/", stock, name="codes_program_stock"),
            *super().get_urls(),
        ]

    def stock_view(self, request, program_id):
        if not self.has_view_permission(request):
            raise PermissionDenied
        program = managed_programs(request.user).filter(pk=program_id).first()
        if program is None:
            raise Http404("No program of yours has this id.")
        page = program_stock_page(program=program)
        can_upload = request.user.has_perm("codes.add_batch")
        chart = {
            # The chart's days as the manager's language writes a month and day ("Dec 7").
            "labels": [dateformat.format(day, pgettext("chart day", "M j")) for day in page.days],
            "datasets": [
                {
                    "label": stock.pool.name,
                    "data": stock.use_per_day,
                    "borderColor": _CHART_COLOURS[index % len(_CHART_COLOURS)],
                    "backgroundColor": _CHART_COLOURS[index % len(_CHART_COLOURS)],
                    "displayYAxis": True,
                    "maxTicksXLimit": 10,
                }
                for index, stock in enumerate(page.pools)
            ],
        }
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Stock of %(name)s") % {"name": program.name},
            "program": program,
            "page": page,
            "pools": [
                {"stock": stock, "upload_url": _upload_url(stock.pool) if can_upload else None}
                for stock in page.pools
            ],
            "chart_data": json.dumps(chart),
            "batches_table": _batches_table(page.recent_batches),
            "alerts_table": _alerts_table(page.recent_alerts),
            "leaked_table": _leaked_table(
                page.leaked_codes, can_void=request.user.has_perm("codes.change_promocode")
            ),
            "leaked_url": leaked_codes_url(program),
            "batches_url": reverse("admin:codes_batch_changelist")
            + f"?pool__program__id__exact={program.pk}",
            "alerts_url": reverse("admin:codes_stockalert_changelist")
            + f"?pool__program__id__exact={program.pk}",
            "program_url": reverse("admin:programs_program_change", args=[program.pk]),
            "count_cap": f"{STOCK_COUNT_CAP:,}",
            "topup": program_topup_sentence(program_topup_progress(program_id=program.pk)),
        }
        return TemplateResponse(request, "admin/codes/stock.html", context)


def _batches_table(batches):
    return {
        "headers": [
            _("Batch"),
            _("Pool"),
            _("File"),
            _("Status"),
            _("Codes added"),
            _("Refused"),
            _("When"),
        ],
        "rows": [
            [
                format_html(
                    '<a class="text-primary-600" href="{}">{}</a>',
                    reverse("admin:codes_batch_change", args=[batch.pk]),
                    batch.pk,
                ),
                batch.pool.name,
                batch.file_name or batch.get_source_display(),
                batch.get_status_display(),
                f"{batch.codes_added:,}",
                f"{batch.invalid_rows + batch.duplicates_in_file + batch.already_in_program:,}",
                console_time(batch.created_at),
            ]
            for batch in batches
        ],
    }
