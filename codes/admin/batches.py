"""The batches admin and the upload flow: file, preview, confirmation, import."""

import io
import logging
import tempfile

from django.conf import settings
from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext, ngettext, pgettext
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin

from audit.admin import AuditTrailAdminMixin
from programs.admin_scoping import (
    ProgramScopedAdminMixin,
    UserNamesMixin,
    managed_programs,
    user_name,
)

from ..forms import CodeUploadForm, ConfirmUploadForm
from ..models import (
    Batch,
    BatchSource,
    BatchStatus,
    Pool,
    PromoCode,
)
from ..parsing import NoCodeColumn, UnreadableFile, skipped_phrases
from ..selectors import (
    upload_columns,
    upload_preview,
)
from ..services import (
    PromoCodesOff,
    batch_import,
    batch_upload_enqueue,
)
from ..upload_store import (
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
from .shared import _upload_url
from .void import _void_flow

log = logging.getLogger(__name__)


PREVIEW_ROWS_SHOWN = 1000


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
