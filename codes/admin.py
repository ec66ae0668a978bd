import io
import json
import logging
import tempfile
from collections.abc import Callable
from dataclasses import dataclass

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import dateformat, timezone
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext, pgettext, pgettext_lazy
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin
from unfold.decorators import action
from unfold.paginator import InfinitePaginator

from audit.admin import AuditTrailAdminMixin
from foundation.admin_links import LINK_CLASS, admin_link
from foundation.replica import on_replica
from foundation.wording import console_time
from programs.admin import ProgramPageLink, ProgramPagePart, ProgramPanel, program_page_add
from programs.admin_confirm import action_confirmation, action_confirmed
from programs.admin_scoping import (
    ProgramScopedAdminMixin,
    UserNamesMixin,
    managed_programs,
    user_name,
)
from programs.models import CodeUsage, Program, RewardKind

from .exports import HEADER, csv_lines, write_xlsx
from .forms import CodeUploadForm, ConfirmUploadForm, PoolForm, VoidForm
from .models import (
    Batch,
    BatchSource,
    BatchStatus,
    CodeState,
    CodeStatus,
    Pool,
    PoolKind,
    PromoCode,
    StockAlert,
)
from .parsing import NoCodeColumn, UnreadableFile, skipped_phrases
from .selectors import (
    CONSOLE_EXPORT_COLUMNS,
    STOCK_COUNT_CAP,
    codes_export_rows,
    codes_matching,
    program_stock_page,
    upload_columns,
    upload_preview,
)
from .services import (
    PromoCodesOff,
    batch_import,
    batch_upload_enqueue,
    codes_void,
    codes_void_preview,
    pool_create_fuel_tank,
    pool_set_reward_tank,
    pool_update_settings,
    reward_tank_of,
)
from .services.leaks import void_url
from .topups import program_topup_progress, program_topup_sentence
from .upload_store import (
    ColumnRefused,
    UploadExpired,
    UploadStoreUnavailable,
    upload_choose_column,
    upload_claim,
    upload_claim_chunks,
    upload_keep,
    upload_read_chunks,
    upload_verify,
)

log = logging.getLogger(__name__)

PREVIEW_ROWS_SHOWN = 1000
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

# Links in lists and tables, coloured like the console's other links.


# A code's status in the code manager's list: the stored word, in the manager's language.
_STATUS_WORDS = {
    "available": pgettext_lazy("code status", "available"),
    "assigned": pgettext_lazy("code status", "assigned"),
    "assigned (reserved)": pgettext_lazy("code status", "assigned (reserved)"),
    "redeemed": pgettext_lazy("code status", "redeemed"),
    "voided": pgettext_lazy("code status", "voided"),
    "expired": pgettext_lazy("code status", "expired"),
    "not yet valid": pgettext_lazy("code status", "not yet valid"),
}


class ValidityFilter(admin.SimpleListFilter):
    """The code manager's "Validity" filter: expired, not yet valid or valid now
    (codes.models.CodeState, the time read by the database)."""

    title = _("validity")
    parameter_name = "validity"
    STATES = {"expired": "EXPIRED", "not_yet_valid": "NOT_YET_VALID", "valid_now": "VALID_NOW"}

    def lookups(self, request, model_admin):
        return [
            ("expired", pgettext_lazy("code status", "expired")),
            ("not_yet_valid", pgettext_lazy("code status", "not yet valid")),
            ("valid_now", _("valid now")),
        ]

    def queryset(self, request, queryset):
        state = self.STATES.get(self.value() or "")
        return queryset.filter(getattr(CodeState, state)) if state else queryset


class LeakedFilter(admin.SimpleListFilter):
    """The code manager's "Leaked" filter: multi-use codes used by more customers in a day than
    their program allows (README, "Reviewing referrals"), on their partial index."""

    title = _("leaked")
    parameter_name = "leaked"

    def lookups(self, request, model_admin):
        return [("yes", _("leaked codes"))]

    def queryset(self, request, queryset):
        if self.value() == "yes":
            return queryset.filter(leaked_at__isnull=False)
        return queryset


def leaked_codes_url(program):
    return (
        reverse("admin:codes_promocode_changelist") + f"?leaked=yes&program__id__exact={program.pk}"
    )


def _upload_url(pool=None):
    url = reverse("admin:codes_batch_upload")
    return f"{url}?pool={pool.pk}" if pool else url


def stock_url(program):
    return reverse("admin:codes_program_stock", args=[program.pk])


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


@admin.register(Batch)
class BatchAdmin(AuditTrailAdminMixin, UserNamesMixin, ProgramScopedAdminMixin, ModelAdmin):
    program_path = "pool__program"
    change_list_template = "admin/codes/batch/change_list.html"
    change_form_template = "admin/codes/batch/change_form.html"
    list_display = [
        "id",
        "file_name",
        "pool",
        "source",
        "usage",
        "status",
        "rows_read",
        "codes_added",
        "duplicates_in_file",
        "already_in_program",
        "invalid_rows",
        "created_at",
    ]
    list_filter = ["status", "source", "usage", "pool__program"]
    list_select_related = ["pool__program"]
    fields = [
        "pool",
        "file_name",
        "source",
        "usage",
        "status",
        "progress",
        "failure_reason",
        "rows_read",
        "codes_added",
        "duplicates_in_file",
        "already_in_program",
        "invalid_rows",
        "skipped_rows",
        "refused_rows",
        "created_by",
        "created_at",
        "completed_at",
    ]
    readonly_fields = ["progress", "skipped_rows", "refused_rows"]
    actions = ["void_batches"]
    user_fields = ("created_by",)

    @admin.display(description=_("Created by"))
    def created_by_name(self, batch):
        return user_name(batch.created_by)

    def has_add_permission(self, request):
        return False  # batches come from an upload, an import or generation

    def has_void_permission(self, request):
        return request.user.has_perm("codes.change_promocode")

    @admin.action(description=_("Void every code of the selected batches…"), permissions=["void"])
    def void_batches(self, request, queryset):
        batches = list(queryset.select_related("pool__program"))
        codes = PromoCode.objects.filter(batch__in=batches)
        names = ", ".join(str(b) for b in batches[:5]) + (" …" if len(batches) > 5 else "")
        return _void_flow(self, request, queryset, codes=codes, action="void_batches", what=names)

    def has_change_permission(self, request, obj=None):
        return False

    def has_upload_permission(self, request):
        return request.user.is_active and request.user.has_perm("codes.add_batch")

    def get_urls(self):
        upload = self.admin_site.admin_view(self.upload_view)
        return [path("upload/", upload, name="codes_batch_upload"), *super().get_urls()]

    def changelist_view(self, request, extra_context=None):
        extra_context = {
            **(extra_context or {}),
            "upload_url": _upload_url() if self.has_upload_permission(request) else None,
        }
        return super().changelist_view(request, extra_context)

    def change_view(self, request, object_id, form_url="", extra_context=None):
        batch = self.get_object(request, object_id)
        running = batch is not None and batch.status in (
            BatchStatus.PENDING,
            BatchStatus.PROCESSING,
        )
        extra_context = {**(extra_context or {}), "refresh_seconds": 3 if running else None}
        return super().change_view(request, object_id, form_url, extra_context)

    @admin.display(description=_("Progress"))
    def progress(self, batch):
        if batch.status == BatchStatus.COMPLETED:
            return ngettext(
                "Done: %(count)s row read.", "Done: %(count)s rows read.", batch.rows_read
            ) % {"count": f"{batch.rows_read:,}"}
        if batch.status == BatchStatus.FAILED:
            return _("Failed: no codes were added.")
        return ngettext(
            "%(status)s: %(count)s row read so far.",
            "%(status)s: %(count)s rows read so far.",
            batch.progress_rows,
        ) % {"status": batch.get_status_display(), "count": f"{batch.progress_rows:,}"}

    @admin.display(description=_("Skipped rows"))
    def skipped_rows(self, batch):
        """Rows of a platform export skipped (expired, inactive, already used), per reason."""
        return "; ".join(skipped_phrases(batch.skipped)) or "—"

    @admin.display(description=_("Refused rows"))
    def refused_rows(self, batch):
        if not batch.errors:
            return _("None")
        refused = batch.invalid_rows + batch.duplicates_in_file + batch.already_in_program
        more = ""
        if refused > len(batch.errors):
            more = " " + _("(%(count)s more not listed)") % {
                "count": f"{refused - len(batch.errors):,}"
            }
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            # Stored in English (codes.services.batches): a reason without blanks is shown in
            # the reader's language, one naming a value as stored.
            ((e["line"], e["value"], gettext(e["reason"])) for e in batch.errors),
        )
        return format_html(
            "<table><thead><tr><th>{}</th><th>{}</th><th>{}</th></tr></thead>"
            "<tbody>{}</tbody></table>{}",
            _("Line"),
            _("Value"),
            _("Reason"),
            rows,
            more,
        )

    # Upload: choose a file, see the preview, confirm ------------------------------------------

    def _pools(self, request):
        return Pool.objects.filter(program__in=managed_programs(request.user)).select_related(
            "program"
        )

    def upload_view(self, request):
        if not self.has_upload_permission(request):
            raise PermissionDenied
        pools = self._pools(request)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "title": _("Upload codes"),
        }
        if request.method == "POST" and "confirm" in request.POST:
            return self._confirm(request, pools, context)
        if request.method == "POST" and "choose" in request.POST:
            return self._choose(request, pools, context)
        if request.method == "POST":
            form = CodeUploadForm(request.POST, request.FILES, pools=pools)
            if form.is_valid():
                response = self._preview(request, form, pools, context)
                if response is not None:
                    return response
        else:
            form = CodeUploadForm(pools=pools, initial={"pool": request.GET.get("pool")})
        return TemplateResponse(request, "admin/codes/batch/upload.html", {**context, "form": form})

    def _preview(self, request, form, pools, context):
        pool = form.cleaned_data["pool"]
        upload = form.cleaned_data["import_file"]
        try:
            upload.seek(0)
            preview = upload_preview(pool=pool, stream=upload, file_name=upload.name)
        except NoCodeColumn as exc:
            if exc.person_data:
                form.add_error("import_file", _nothing_imported(exc))
                return None
            # The first row names no codes: the manager chooses the column before confirming.
            upload.seek(0)
            try:
                preview = upload_columns(
                    pool=pool, stream=upload, file_name=upload.name, reason=str(exc)
                )
            except UnreadableFile as error:
                form.add_error("import_file", _nothing_imported(error))
                return None
        except UnreadableFile as exc:
            form.add_error("import_file", _nothing_imported(exc))
            return None
        preview.size = upload.size
        upload.seek(0)
        try:
            reference = upload_keep(
                chunks=upload.chunks(),
                user=request.user,
                pool=pool,
                file_name=upload.name,
                width=preview.width,
            )
        except UploadStoreUnavailable:
            log.error("Upload preview: the shared store (Redis) is unreachable", exc_info=True)
            form.add_error(
                None,
                _(
                    "The file cannot be kept for confirmation: the shared store (Redis) is "
                    "unreachable. Nothing was imported; try again in a few minutes."
                ),
            )
            return TemplateResponse(
                request, "admin/codes/batch/upload.html", {**context, "form": form}, status=503
            )
        validity = {
            "valid_from": form.cleaned_data.get("valid_from"),
            "expires_at": form.cleaned_data.get("expires_at"),
        }
        return self._preview_page(
            request, context, pool=pool, preview=preview, reference=reference, validity=validity
        )

    def _preview_page(self, request, context, *, pool, preview, reference, validity):
        return TemplateResponse(
            request,
            "admin/codes/batch/upload.html",
            {
                **context,
                "title": _("Upload codes: preview"),
                "pool": pool,
                "cancel_url": _upload_url(pool),
                "preview": preview,
                "refused_shown": preview.refused[:PREVIEW_ROWS_SHOWN],
                "refused_hidden": max(0, preview.refused_count - PREVIEW_ROWS_SHOWN),
                "confirm_form": ConfirmUploadForm(
                    initial={"upload": reference, **validity}, auto_id=False
                ),
                "validity": validity,
                "background": preview.size > settings.CODES_UPLOAD_ASYNC_BYTES,
            },
        )

    def _choose(self, request, pools, context):
        """The preview again with the column the manager picked: the choice is checked against
        the columns of the upload the signed reference names, then travels in a new reference
        (the confirmation reads it from there, never from the form)."""
        form = ConfirmUploadForm(request.POST)
        if not form.is_valid():
            raise PermissionDenied  # no reference at all: a forged form
        try:
            pending = upload_verify(reference=form.cleaned_data["upload"], user=request.user)
            reference = upload_choose_column(pending, column=int(request.POST.get("column", "")))
        except (UploadExpired, ColumnRefused, ValueError):
            raise PermissionDenied from None  # forged, someone else's, or not its column
        pool = pools.filter(pk=pending.pool_id).first()
        if pool is None:
            raise PermissionDenied
        pending = upload_verify(reference=reference, user=request.user)
        try:
            with tempfile.TemporaryFile() as stream:
                for chunk in upload_read_chunks(pending):
                    stream.write(chunk)
                stream.seek(0)
                preview = upload_preview(
                    pool=pool, stream=stream, file_name=pending.file_name, column=pending.column
                )
        except UploadExpired:
            messages.error(request, _("The uploaded file has expired: please upload it again."))
            return redirect(_upload_url(pool))
        except UploadStoreUnavailable:
            log.error("Upload column: the shared store (Redis) is unreachable", exc_info=True)
            messages.error(
                request,
                _(
                    "The shared store (Redis) is unreachable, so the previewed file cannot be "
                    "read. Nothing was imported; upload it again in a few minutes."
                ),
            )
            return redirect(_upload_url(pool))
        except UnreadableFile as exc:
            messages.error(request, _nothing_imported(exc, pending.file_name))
            return redirect(_upload_url(pool))
        preview.size = pending.size
        validity = {
            "valid_from": form.cleaned_data.get("valid_from"),
            "expires_at": form.cleaned_data.get("expires_at"),
        }
        return self._preview_page(
            request, context, pool=pool, preview=preview, reference=reference, validity=validity
        )

    def _confirm(self, request, pools, context):
        form = ConfirmUploadForm(request.POST)
        if not form.is_valid():
            raise PermissionDenied  # no reference at all: a forged form
        try:
            pending = upload_verify(reference=form.cleaned_data["upload"], user=request.user)
        except UploadExpired:
            raise PermissionDenied from None  # forged, altered, someone else's, or too old
        pool = pools.filter(pk=pending.pool_id).first()
        if pool is None:
            raise PermissionDenied  # the user no longer manages the pool's program
        file_name = pending.file_name
        validity = {
            "valid_from": form.cleaned_data.get("valid_from"),
            "expires_at": form.cleaned_data.get("expires_at"),
        }
        try:
            if pending.size > settings.CODES_UPLOAD_ASYNC_BYTES:
                # Streamed from the store into the batch's kept pieces: never whole in memory.
                batch = batch_upload_enqueue(
                    pool=pool,
                    chunks=upload_claim_chunks(pending),
                    file_name=file_name,
                    created_by=request.user,
                    column=pending.column,
                    **validity,
                )
                messages.info(
                    request,
                    _("%(file)s is being imported; this page shows progress.")
                    % {"file": file_name},
                )
            else:
                batch = batch_import(
                    pool=pool,
                    stream=io.BytesIO(upload_claim(pending)),
                    file_name=file_name,
                    source=BatchSource.UPLOAD,
                    created_by=request.user,
                    column=pending.column,
                    **validity,
                )
                messages.success(request, _summary(batch))
        except UploadExpired:
            messages.error(request, _("The uploaded file has expired: please upload it again."))
            return redirect(_upload_url(pool))
        except UploadStoreUnavailable:
            log.error("Upload confirm: the shared store (Redis) is unreachable", exc_info=True)
            messages.error(
                request,
                _(
                    "The shared store (Redis) is unreachable, so the previewed file cannot be "
                    "read. Nothing was imported; upload it again in a few minutes."
                ),
            )
            return redirect(_upload_url(pool))
        except (UnreadableFile, PromoCodesOff) as exc:
            messages.error(request, _nothing_imported(exc, file_name))
            return redirect(_upload_url(pool))
        return redirect(reverse("admin:codes_batch_change", args=[batch.pk]))


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


def _nothing_imported(error, file_name=None):
    """A file refused whole, for the manager who uploaded it."""
    if file_name is None:
        return _("%(problem)s Nothing was imported.") % {"problem": error}
    return _("%(file)s: %(problem)s Nothing was imported.") % {
        "file": file_name,
        "problem": error,
    }


def _summary(batch):
    return _("Batch %(batch)s: %(counts)s.") % {
        "batch": batch.pk,
        "counts": pgettext("list separator", ", ").join(
            [
                text % {"count": f"{count:,}"}
                for text, count in (
                    (
                        ngettext("%(count)s row read", "%(count)s rows read", batch.rows_read),
                        batch.rows_read,
                    ),
                    (
                        ngettext(
                            "%(count)s code added", "%(count)s codes added", batch.codes_added
                        ),
                        batch.codes_added,
                    ),
                    (
                        ngettext(
                            "%(count)s duplicate in the file",
                            "%(count)s duplicates in the file",
                            batch.duplicates_in_file,
                        ),
                        batch.duplicates_in_file,
                    ),
                    (_("%(count)s already in the program"), batch.already_in_program),
                    (
                        ngettext(
                            "%(count)s invalid row", "%(count)s invalid rows", batch.invalid_rows
                        ),
                        batch.invalid_rows,
                    ),
                )
            ]
            + list(skipped_phrases(batch.skipped))
        ),
    }


def _xlsx_chunks(rows, header=HEADER):
    # openpyxl's write-only mode keeps memory flat; the workbook is a zip, finished only at the
    # end, so it is spooled to a temporary file and streamed from there.
    with tempfile.TemporaryFile() as spool:
        write_xlsx(rows, spool, header)
        spool.seek(0)
        while chunk := spool.read(1 << 16):
            yield chunk


@dataclass(frozen=True)
class CodeManagerColumns:
    """Columns a higher app adds to the code manager (codes knows nothing of orders or
    referrals; apps depend conversions → participants → codes → programs): `columns`, display
    callables taking a code, shown after the advocate; `annotate`, what they need, added to the
    list's queryset (evaluated after the page's LIMIT)."""

    columns: tuple
    annotate: Callable[[QuerySet], QuerySet]


_CODE_MANAGER_COLUMNS: list[CodeManagerColumns] = []


def code_manager_add_columns(extension: CodeManagerColumns) -> None:
    """The hook: the one code manager (PromoCodeAdmin) shows these columns too."""
    if extension not in _CODE_MANAGER_COLUMNS:
        _CODE_MANAGER_COLUMNS.append(extension)


@admin.register(PromoCode)
class PromoCodeAdmin(UserNamesMixin, ProgramScopedAdminMixin, ModelAdmin):
    """The code manager. Few, narrow columns so the advocate shows at 1366 px; the rest is on
    each code's page and in the export. The conversions app adds the order and friend columns
    (codes knows nothing of orders and referrals)."""

    list_display = ["code", "code_type", "shown_status", "advocate", "pool", "assigned"]
    list_filter = [
        "usage",
        "status",
        LeakedFilter,
        ValidityFilter,
        "source",
        "pool__kind",
        "pool",
        "batch",
    ]
    list_select_related = ["pool__program", "batch", "holder"]
    # Searched by codes_matching (prefixes and advocates, each through an index), not by
    # Django's icontains on these fields.
    search_fields = ["code"]
    search_help_text = _(
        "A code or its first characters, or an advocate's participant id or e-mail."
    )
    # No count of a million rows on each page load: pages go on ("Load more") without one.
    paginator = InfinitePaginator
    list_per_page = 50
    show_full_result_count = False
    raw_id_fields = ["holder", "redeemed_by", "batch"]
    actions = ["export_csv", "export_xlsx", "void_codes"]
    actions_detail = ["void_code"]
    user_fields = ("voided_by",)

    @admin.display(description=_("Voided by"))
    def voided_by_name(self, code):
        return user_name(code.voided_by)

    actions_list = [
        {"title": _("Export"), "icon": "download", "items": ["export_list_csv", "export_list_xlsx"]}
    ]

    @admin.display(description=_("Status"), ordering="status")
    def shown_status(self, code):
        status = _STATUS_WORDS.get(code.shown_status, code.shown_status)
        if code.leaked_at is None:
            return status
        return format_html(
            '{} <span class="leaked-flag font-semibold text-red-600" title="{}">{}</span>',
            status,
            _("Used by more customers in a day than the program allows"),
            _("leaked"),
        )

    @admin.display(description=_("Type"), ordering="pool__kind")
    def kind(self, code):
        if code.pool.kind == PoolKind.FUEL_TANK:
            return pgettext_lazy("code type", "reward")
        return pgettext_lazy("code type", "referral")

    @admin.display(description=_("Code type"), ordering="usage")
    def code_type(self, code):
        """ "single-use referral", "multi-use referral", "single-use reward", …"""
        if code.usage == CodeUsage.SINGLE:
            return pgettext("code type", "single-use %(kind)s") % {"kind": self.kind(code)}
        return pgettext("code type", "multi-use %(kind)s") % {"kind": self.kind(code)}

    def has_void_permission(self, request):
        return request.user.has_perm("codes.change_promocode")

    @admin.action(description=_("Void the selected codes…"), permissions=["void"])
    def void_codes(self, request, queryset):
        return _void_flow(self, request, queryset, codes=queryset, action="void_codes")

    def has_void_code_permission(self, request, object_id=None):
        return self.has_void_permission(request)

    @action(
        description=_("Void this code…"), url_path="void", icon="block", permissions=["void_code"]
    )
    def void_code(self, request, object_id):
        """One code's void confirmation, linked from its page, the stock page's leaked codes
        and their e-mail: the manager confirms here. Only a manager of the code's program
        finds the code."""
        if not self.has_void_permission(request):
            raise PermissionDenied
        code = self.get_object(request, unquote(object_id))
        if code is None:
            raise Http404(_("No code of yours has this id."))
        back = reverse("admin:codes_promocode_change", args=[code.pk])
        if code.status == CodeStatus.VOIDED:
            self.message_user(request, _("%(code)s is voided already.") % {"code": code.code})
            return redirect(back)
        codes = PromoCode.objects.filter(pk=code.pk)
        response = _void_flow(
            self, request, codes, codes=codes, action="void_code", what=code.code, cancel_url=back
        )
        return response or redirect(back)

    @admin.display(description=_("Advocate"), ordering="holder__participant_id")
    def advocate(self, code):
        if not code.holder_id:
            return "—"
        holder = code.holder
        link = admin_link(
            reverse("admin:participants_participant_change", args=[holder.pk]),
            holder.participant_id,
        )
        if not holder.email:
            return link
        return format_html('{}<div class="text-xs text-base-500">{}</div>', link, holder.email)

    @admin.display(description=_("Assigned"), ordering="assigned_at")
    def assigned(self, code):
        return console_time(code.assigned_at)

    def get_list_display(self, request):
        shown = list(super().get_list_display(request))
        at = shown.index("advocate") + 1
        for extension in _CODE_MANAGER_COLUMNS:
            shown[at:at] = extension.columns
            at += len(extension.columns)
        return shown

    def get_queryset(self, request):
        # The list, its search and its exports tolerate a second's lag: read from the replica
        # when there is one. Only a GET: an action (a POST) gets the primary, and may write.
        codes = super().get_queryset(request)
        for extension in _CODE_MANAGER_COLUMNS:
            codes = extension.annotate(codes)
        return on_replica(codes) if request.method == "GET" else codes

    def get_search_results(self, request, queryset, search_term):
        if not search_term.strip():
            return queryset, False
        program_ids = list(managed_programs(request.user).values_list("pk", flat=True))
        matching = codes_matching(queryset=queryset, term=search_term, program_ids=program_ids)
        return self.scope(request, matching), False

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        # The Export button exports what the list shows: it carries the list's filters.
        query = request.GET.urlencode()
        context = getattr(response, "context_data", None) or {}
        for button in context.get("actions_list") or []:
            for entry in [button, *button.get("items", [])]:
                if query and entry.get("path"):
                    entry["path"] = f"{entry['path']}?{query}"
        return response

    @action(description=_("CSV: the filtered list"), url_path="export-csv", permissions=["view"])
    def export_list_csv(self, request):
        return self._export_list(request, xlsx=False)

    @action(description=_("XLSX: the filtered list"), url_path="export-xlsx", permissions=["view"])
    def export_list_xlsx(self, request):
        return self._export_list(request, xlsx=True)

    def _export_list(self, request, *, xlsx):
        try:
            changelist = self.get_changelist_instance(request)
        except IncorrectLookupParameters:
            return redirect(reverse("admin:codes_promocode_changelist") + "?e=1")
        codes = changelist.queryset
        programs = _export_name(codes, managed_programs(request.user))
        name = f"{programs}-codes-{timezone.now():%Y-%m-%d}"
        header = [title for title, _ in CONSOLE_EXPORT_COLUMNS]
        rows = codes_export_rows(
            queryset=codes, columns=CONSOLE_EXPORT_COLUMNS, readable_times=True
        )
        if xlsx:
            response = StreamingHttpResponse(_xlsx_chunks(rows, header), content_type=XLSX)
            name += ".xlsx"
        else:
            response = StreamingHttpResponse(csv_lines(rows, header), content_type="text/csv")
            name += ".csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        return response

    @admin.action(description=_("Export selected codes as CSV"), permissions=["view"])
    def export_csv(self, request, queryset):
        response = StreamingHttpResponse(
            csv_lines(codes_export_rows(queryset=queryset)), content_type="text/csv"
        )
        response["Content-Disposition"] = 'attachment; filename="codes.csv"'
        return response

    @admin.action(description=_("Export selected codes as XLSX"), permissions=["view"])
    def export_xlsx(self, request, queryset):
        response = StreamingHttpResponse(
            _xlsx_chunks(codes_export_rows(queryset=queryset)), content_type=XLSX
        )
        response["Content-Disposition"] = 'attachment; filename="codes.xlsx"'
        return response


EXPORT_NAME_PROGRAMS_CHECKED = 20


def _export_name(codes, programs):
    """The programs an export holds, for its file name: the program's slug when there is one,
    else the slugs joined (a manager of a few), else "all-programs"."""
    candidates = list(programs.order_by("slug")[: EXPORT_NAME_PROGRAMS_CHECKED + 1])
    if len(candidates) > EXPORT_NAME_PROGRAMS_CHECKED:
        return "all-programs"
    # One index probe per program: never a scan of the filtered list.
    present = [p.slug for p in candidates if codes.filter(program=p).exists()]
    return "-".join(present) if present and len(present) <= 3 else "several-programs"


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


def _void_flow(modeladmin, request, queryset, *, codes, action, what="", cancel_url=""):
    """Void codes after a confirmation page saying how many and who is topped up."""
    programs = list(Program.objects.filter(codes__in=codes.values("pk")).distinct())
    if len(programs) > 1:
        modeladmin.message_user(
            request,
            _("Void codes of one program at a time: filter by program first."),
            messages.ERROR,
        )
        return None
    if not programs:
        modeladmin.message_user(
            request, _("None of the selected rows holds a code."), messages.INFO
        )
        return None
    program = programs[0]
    form = VoidForm(request.POST if action_confirmed(request) else None)
    if action_confirmed(request) and form.is_valid():
        result = codes_void(
            program=program, queryset=codes, by=request.user, reason=form.cleaned_data["reason"]
        )
        modeladmin.message_user(request, result.summary(), messages.SUCCESS)
        return None
    preview = codes_void_preview(codes=codes)
    source = f" ({what})" if what else ""
    facts = [
        ngettext(
            "%(count)s code of %(program)s%(source)s will be voided: it is never assigned again "
            "and an order carrying it is rejected.",
            "%(count)s codes of %(program)s%(source)s will be voided: they are never assigned "
            "again and an order carrying one is rejected.",
            preview.to_void,
        )
        % {"count": f"{preview.to_void:,}", "program": program, "source": source}
    ]
    if preview.holders_to_top_up:
        facts.append(
            ngettext(
                "%(count)s advocate holds some of them: each is topped up with new codes at once "
                "(as far as the pool has stock).",
                "%(count)s advocates hold some of them: each is topped up with new codes at once "
                "(as far as the pool has stock).",
                preview.holders_to_top_up,
            )
            % {"count": f"{preview.holders_to_top_up:,}"}
        )
    if preview.reward_codes:
        facts.append(
            ngettext(
                "%(count)s is a fuel-tank code: a reward still in review gets another code; one "
                "already shown to its advocate is flagged for review.",
                "%(count)s are fuel-tank codes: a reward still in review gets another code; one "
                "already shown to its advocate is flagged for review.",
                preview.reward_codes,
            )
            % {"count": f"{preview.reward_codes:,}"}
        )
    if preview.already_voided:
        facts.append(
            ngettext(
                "%(count)s is voided already.",
                "%(count)s are voided already.",
                preview.already_voided,
            )
            % {"count": f"{preview.already_voided:,}"}
        )
    if preview.redeemed_left:
        facts.append(
            ngettext(
                "%(count)s was redeemed in an order and stays as it is.",
                "%(count)s were redeemed in an order and stay as they are.",
                preview.redeemed_left,
            )
            % {"count": f"{preview.redeemed_left:,}"}
        )
    return action_confirmation(
        modeladmin,
        request,
        queryset,
        action=action,
        title=_("Void codes"),
        facts=facts,
        warning=_("Voiding cannot be undone."),
        submit=ngettext("Yes, void %(count)s code", "Yes, void %(count)s codes", preview.to_void)
        % {"count": f"{preview.to_void:,}"},
        form=form,
        cancel_url=cancel_url,
    )


# --- The program page: its pools and the tank that pays its fuel-tank rewards ------------------


def _reward_tank_prepare(form):
    program = form.instance
    if program.pk:
        form.fields["reward_tank"].queryset = Pool.objects.filter(
            program=program, kind=PoolKind.FUEL_TANK
        )
        form.fields["reward_tank"].initial = reward_tank_of(program)


def _reward_tank_clean(form, data):
    if data.get("reward_kind") == RewardKind.FUEL_TANK and not data.get("reward_tank"):
        if form.instance.pk and form.fields["reward_tank"].queryset.exists():
            form.add_error("reward_tank", _("Choose the fuel tank that pays the rewards."))
        else:
            form.add_error(
                "reward_kind",
                _(
                    "Add a fuel tank first (Pools → Add pool, or the create_pool command), "
                    "then choose it here."
                ),
            )


def _reward_tank_saved(program, data):
    tank = data.get("reward_tank")
    if data.get("reward_kind") == RewardKind.FUEL_TANK and tank is not None:
        pool_set_reward_tank(program=program, pool=tank)


@admin.display(description=_("Pools"))
def pools_overview(program):
    if program is None or not program.pk:
        return "—"
    rows = [
        [
            admin_link(reverse("admin:codes_pool_change", args=[pool.pk]), pool.name),
            pool.get_kind_display(),
            _("Pays the rewards") if pool.pays_rewards else "",
            admin_link(_upload_url(pool), _("Upload codes")),
        ]
        for pool in Pool.objects.filter(program=program).order_by("-kind", "name")
    ]
    add = reverse("admin:codes_pool_add") + f"?program={program.pk}"
    table = render_to_string(
        "unfold/components/table.html",
        {"table": {"headers": [_("Pool"), _("Kind"), _("Rewards"), ""], "rows": rows}},
    )
    return format_html(
        '{}<p class="mt-3"><a class="{}" href="{}">{}</a> {} · '
        '<a class="{}" href="{}">{}</a> {}</p>',
        table,
        LINK_CLASS,
        stock_url(program),
        _("Stock page"),
        _("(counts, use per day, days left)"),
        LINK_CLASS,
        add,
        _("Add a fuel tank"),
        _("(a pool of reward codes)"),
    )


def _upload_target(program):
    return _upload_url(Pool.objects.filter(program=program, kind=PoolKind.REFERRAL).first())


# The program page (programs.admin.ProgramAdmin, through its hook): the program's pools, the
# tank that pays its fuel-tank rewards, and buttons to its stock page and to the upload.
program_page_add(
    ProgramPagePart(
        fields={
            "reward_tank": forms.ModelChoiceField(
                queryset=Pool.objects.none(),
                required=False,
                label=_("Reward fuel tank"),
                help_text=_("For rewards of kind “fuel tank code”: the tank whose codes pay them."),
            )
        },
        after={"reward_tank": "reward_kind"},
        conditional_fields={"reward_tank": "reward_kind == 'fuel_tank'"},
        prepare=_reward_tank_prepare,
        clean=_reward_tank_clean,
        saved=_reward_tank_saved,
        panels=(
            ProgramPanel(title=_("Pools"), render=pools_overview, after="promo_codes_enabled"),
        ),
        links=(
            ProgramPageLink(
                name="stock_page",
                description=_("Stock"),
                icon="inventory_2",
                url_path="stock",
                target=stock_url,
                permitted=lambda request: request.user.has_perm("codes.view_pool"),
            ),
            ProgramPageLink(
                name="upload_codes",
                description=_("Upload codes"),
                icon="upload",
                url_path="upload",
                target=_upload_target,
                permitted=lambda request: request.user.has_perm("codes.add_batch"),
            ),
        ),
    )
)
