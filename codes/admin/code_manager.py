"""The code manager (the codes admin): filters, search, export, and the hook other apps use
to add columns to it.
"""

import tempfile
from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import admin
from django.contrib.admin.options import IncorrectLookupParameters
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, StreamingHttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext, pgettext_lazy
from unfold.admin import ModelAdmin
from unfold.decorators import action
from unfold.paginator import InfinitePaginator

from foundation.admin_links import admin_link
from foundation.replica import on_replica
from foundation.wording import console_time
from programs.admin_scoping import (
    ProgramScopedAdminMixin,
    UserNamesMixin,
    managed_programs,
    user_name,
)
from programs.models import CodeUsage

from ..exports import HEADER, csv_lines, write_xlsx
from ..models import (
    CodeState,
    CodeStatus,
    PoolKind,
    PromoCode,
)
from ..selectors import (
    CONSOLE_EXPORT_COLUMNS,
    codes_export_rows,
    codes_matching,
)
from .shared import _STATUS_WORDS
from .void import _void_flow

XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


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
