import io
import logging
import tempfile

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.http import StreamingHttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join

from programs.admin_scoping import ProgramScopedAdminMixin, managed_programs

from .exports import csv_lines, write_xlsx
from .forms import CodeUploadForm, ConfirmUploadForm, PoolForm
from .models import Batch, BatchSource, BatchStatus, Pool, PromoCode, StockAlert
from .parsing import UnreadableFile
from .selectors import codes_export_rows, upload_preview
from .services import PromoCodesOff, batch_import, batch_upload_enqueue
from .upload_store import (
    UploadExpired,
    UploadStoreUnavailable,
    upload_claim,
    upload_keep,
    upload_verify,
)

log = logging.getLogger(__name__)

PREVIEW_ROWS_SHOWN = 1000
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _upload_url(pool=None):
    url = reverse("admin:codes_batch_upload")
    return f"{url}?pool={pool.pk}" if pool else url


@admin.register(Pool)
class PoolAdmin(ProgramScopedAdminMixin, admin.ModelAdmin):
    form = PoolForm
    list_display = ["name", "program", "kind", "low_stock_threshold", "created_at", "upload_link"]
    list_filter = ["kind", "program"]
    readonly_fields = ["low_alert_armed", "empty_alert_armed", "created_at"]

    @admin.display(description="Codes")
    def upload_link(self, pool):
        return format_html('<a href="{}">Upload codes</a>', _upload_url(pool))


@admin.register(Batch)
class BatchAdmin(ProgramScopedAdminMixin, admin.ModelAdmin):
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
        "refused_rows",
        "created_by",
        "created_at",
        "completed_at",
    ]
    readonly_fields = ["progress", "refused_rows"]

    def has_add_permission(self, request):
        return False  # batches come from an upload, an import or generation

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

    @admin.display(description="Progress")
    def progress(self, batch):
        if batch.status == BatchStatus.COMPLETED:
            return f"Done: {batch.rows_read:,} rows read."
        if batch.status == BatchStatus.FAILED:
            return "Failed: no codes were added."
        return f"{batch.get_status_display()}: {batch.progress_rows:,} rows read so far."

    @admin.display(description="Refused rows")
    def refused_rows(self, batch):
        if not batch.errors:
            return "None"
        refused = batch.invalid_rows + batch.duplicates_in_file + batch.already_in_program
        more = ""
        if refused > len(batch.errors):
            more = f" ({refused - len(batch.errors):,} more not listed)"
        rows = format_html_join(
            "",
            "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
            ((e["line"], e["value"], e["reason"]) for e in batch.errors),
        )
        return format_html(
            "<table><thead><tr><th>Line</th><th>Value</th><th>Reason</th></tr></thead>"
            "<tbody>{}</tbody></table>{}",
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
            "title": "Upload codes",
        }
        if request.method == "POST" and "confirm" in request.POST:
            return self._confirm(request, pools, context)
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
        except UnreadableFile as exc:
            form.add_error("import_file", f"{exc} Nothing was imported.")
            return None
        upload.seek(0)
        try:
            reference = upload_keep(
                chunks=upload.chunks(), user=request.user, pool=pool, file_name=upload.name
            )
        except UploadStoreUnavailable:
            log.error("Upload preview: the shared store (Redis) is unreachable", exc_info=True)
            form.add_error(
                None,
                "The file cannot be kept for confirmation: the shared store (Redis) is "
                "unreachable. Nothing was imported; try again in a few minutes.",
            )
            return TemplateResponse(
                request, "admin/codes/batch/upload.html", {**context, "form": form}, status=503
            )
        return TemplateResponse(
            request,
            "admin/codes/batch/upload.html",
            {
                **context,
                "title": "Upload codes: preview",
                "pool": pool,
                "preview": preview,
                "refused_shown": preview.refused[:PREVIEW_ROWS_SHOWN],
                "refused_hidden": max(0, preview.refused_count - PREVIEW_ROWS_SHOWN),
                "confirm_form": ConfirmUploadForm(initial={"upload": reference}),
                "background": upload.size > settings.CODES_UPLOAD_ASYNC_BYTES,
            },
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
        try:
            data = upload_claim(pending)
        except UploadExpired:
            messages.error(request, "The uploaded file has expired: please upload it again.")
            return redirect(_upload_url(pool))
        except UploadStoreUnavailable:
            log.error("Upload confirm: the shared store (Redis) is unreachable", exc_info=True)
            messages.error(
                request,
                "The shared store (Redis) is unreachable, so the previewed file cannot be read. "
                "Nothing was imported; upload it again in a few minutes.",
            )
            return redirect(_upload_url(pool))
        try:
            if len(data) > settings.CODES_UPLOAD_ASYNC_BYTES:
                batch = batch_upload_enqueue(
                    pool=pool, data=data, file_name=file_name, created_by=request.user
                )
                messages.info(request, f"{file_name} is being imported; this page shows progress.")
            else:
                batch = batch_import(
                    pool=pool,
                    stream=io.BytesIO(data),
                    file_name=file_name,
                    source=BatchSource.UPLOAD,
                    created_by=request.user,
                )
                messages.success(request, _summary(batch))
        except (UnreadableFile, PromoCodesOff) as exc:
            messages.error(request, f"{file_name}: {exc} Nothing was imported.")
            return redirect(_upload_url(pool))
        return redirect(reverse("admin:codes_batch_change", args=[batch.pk]))


def _summary(batch):
    return (
        f"Batch {batch.pk}: {batch.rows_read:,} rows read, {batch.codes_added:,} codes added, "
        f"{batch.duplicates_in_file:,} duplicates in the file, {batch.already_in_program:,} "
        f"already in the program, {batch.invalid_rows:,} invalid rows."
    )


def _xlsx_chunks(rows):
    # openpyxl's write-only mode keeps memory flat; the workbook is a zip, finished only at the
    # end, so it is spooled to a temporary file and streamed from there.
    with tempfile.TemporaryFile() as spool:
        write_xlsx(rows, spool)
        spool.seek(0)
        while chunk := spool.read(1 << 16):
            yield chunk


@admin.register(PromoCode)
class PromoCodeAdmin(ProgramScopedAdminMixin, admin.ModelAdmin):
    list_display = [
        "code",
        "usage",
        "status",
        "pool",
        "batch",
        "advocate",
        "assigned_at",
        "first_copied_at",
        "redeemed_at",
        "redemption_count",
    ]
    list_filter = ["usage", "status", "source", "pool", "batch"]
    list_select_related = ["pool__program", "batch", "holder"]
    search_fields = ["=code"]
    show_full_result_count = False
    raw_id_fields = ["holder", "redeemed_by", "batch"]
    actions = ["export_csv", "export_xlsx"]

    @admin.display(description="Advocate", ordering="holder__participant_id")
    def advocate(self, code):
        return code.holder.participant_id if code.holder_id else "—"

    def get_search_results(self, request, queryset, search_term):
        # Codes are stored upper-case: an exact match on the canonical form uses the index.
        return super().get_search_results(request, queryset, search_term.strip().upper())

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    @admin.action(description="Export selected codes as CSV", permissions=["view"])
    def export_csv(self, request, queryset):
        response = StreamingHttpResponse(
            csv_lines(codes_export_rows(queryset=queryset)), content_type="text/csv"
        )
        response["Content-Disposition"] = 'attachment; filename="codes.csv"'
        return response

    @admin.action(description="Export selected codes as XLSX", permissions=["view"])
    def export_xlsx(self, request, queryset):
        response = StreamingHttpResponse(
            _xlsx_chunks(codes_export_rows(queryset=queryset)), content_type=XLSX
        )
        response["Content-Disposition"] = 'attachment; filename="codes.xlsx"'
        return response


@admin.register(StockAlert)
class StockAlertAdmin(ProgramScopedAdminMixin, admin.ModelAdmin):
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
        "sent_at",
    ]
    list_filter = ["kind", "pool__program"]
    list_select_related = ["pool__program"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
