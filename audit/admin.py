"""The audit trail in the admin: each audited object's page shows its recent entries (the
AuditTrailAdminMixin, one line on a ModelAdmin), and superusers get the whole trail as a list
they can filter by program, object type, actor, event and date."""

import json
import re

from auditlog.admin import LogEntryAdmin
from auditlog.filters import ResourceTypeFilter
from django.apps import apps
from django.contrib import admin
from django.contrib.admin.utils import unquote
from django.core.exceptions import FieldDoesNotExist, PermissionDenied
from django.db.models import BooleanField
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import NoReverseMatch, path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.text import capfirst
from django.utils.translation import gettext, pgettext
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin

from foundation.wording import console_time

from .models import AuditEntry
from .services import audit_entries_for, audit_entries_of_program

RECENT_SHOWN = 10
PAGE_SIZE = 50


# A reverse relation or an empty foreign key as auditlog writes it: "codes.PromoCode.None".
_UNSET_RELATION = re.compile(r"^\w+\.\w+\.None$")


def _unset(value):
    return value is None or str(value) in ("", "None") or bool(_UNSET_RELATION.match(str(value)))


def _field(entry, name):
    model = entry.content_type.model_class() if entry.content_type_id else None
    try:
        return model._meta.get_field(name)
    except (AttributeError, FieldDoesNotExist):
        return None


def _field_label(entry, name):
    field = _field(entry, name)
    if field is None:
        return capfirst(words(name.replace("_", " ")))
    return capfirst(field.verbose_name)


def words(text):
    """Words the trail stores in English (an event, a detail's name, a one-way switch: "one-way
    switch: promo codes turned on"), in the reader's language where the catalogue has them
    (docs/architecture.md, "Languages"); anything else, such as a manager's reason, as it is."""
    if not isinstance(text, str) or not text:
        return text
    translated = gettext(text)
    if translated != text:
        return translated
    head, colon, rest = text.partition(": ")
    if colon and gettext(head) != head:
        parts = [gettext(part) for part in rest.split(", ")]
        return _("%(what)s: %(details)s") % {
            "what": gettext(head),
            "details": pgettext("list separator", ", ").join(parts),
        }
    return text


def _value_shown(field, value):
    """A stored value as the field's form shows it: a choice's label, yes or no."""
    if field is not None and field.choices:
        labels = {str(key): label for key, label in field.flatchoices}
        if str(value) in labels:
            return labels[str(value)]
    if isinstance(field, BooleanField) and str(value) in ("True", "False"):
        return _("yes") if str(value) == "True" else _("no")
    return _shown(value)


def entry_details(entry):
    """The entry's changes, a line per field ("Field: old → new", or the value alone when it was
    unset; fields unset on both sides, reverse relations and the id left out), then its details
    (a line per key: value)."""
    lines = []
    for name, values in (entry.changes_dict or {}).items():
        old, new = [*values, None, None][:2] if isinstance(values, list) else (None, values)
        if name == "id" or (_unset(old) and _unset(new)):
            continue
        label = _field_label(entry, name)
        field = _field(entry, name)
        if _unset(old):
            lines.append(
                format_html("<div><strong>{}</strong>: {}</div>", label, _value_shown(field, new))
            )
        else:
            shown_new = _("(none)") if _unset(new) else _value_shown(field, new)
            lines.append(
                format_html(
                    "<div><strong>{}</strong>: {} → {}</div>",
                    label,
                    _value_shown(field, old),
                    shown_new,
                )
            )
    for key, value in (entry.additional_data or {}).items():
        lines.append(format_html("<div>{}: {}</div>", words(key), words(_shown(value))))
    # One block of lines: on a phone the table's cell lays its children out in a row.
    return format_html(
        '<div class="audit-change">{}</div>',
        format_html_join("", "{}", ((line,) for line in lines)),
    )


def entries_table(entries, *, show_object=False):
    """The entries as unfold's table component expects them: headers and rows of cells."""
    headers = [_("When"), _("Who"), _("What"), *([_("Object")] if show_object else []), _("Change")]
    rows = []
    for entry, details in entries:
        who = format_html("{}", entry.actor_display)
        if entry.remote_addr:
            who = format_html("{}<br><small>{}</small>", entry.actor_display, entry.remote_addr)
        row = [console_time(entry.timestamp), who, words(entry.what)]
        if show_object:
            row.append(f"{entry.content_type.name}: {entry.object_repr}")
        row.append(details or "—")
        rows.append(row)
    return {"headers": headers, "rows": rows}


def _shown(value):
    if isinstance(value, list):
        return ", ".join(str(item) for item in value)
    if isinstance(value, str) and value.startswith("{") and "\\u" in value:
        try:  # a JSON field as auditlog keeps it: its characters, not their escapes
            return json.dumps(json.loads(value), ensure_ascii=False)
        except ValueError:
            pass
    return value


class AuditTrailAdminMixin:
    """Mix into a ModelAdmin: its change page gets an "Audit trail" section with the object's
    latest entries (who, when, what changed) and a link to all of them.

    `audit_whole_program = True` (the program's page) shows every entry of the program: its
    keys, managers, pools, batches, voids, rewards and erasures as well as its own changes.
    """

    audit_whole_program = False

    def audit_entries(self, obj):
        if self.audit_whole_program:
            return audit_entries_of_program(obj.pk)
        return audit_entries_for(obj)

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Wrapped on the instance, not overridden: a ModelAdmin that overrides these without
        # calling super() (or is rebuilt on another admin theme) still shows the trail.
        fields, fieldsets, readonly = self.get_fields, self.get_fieldsets, self.get_readonly_fields

        def get_fields(request, obj=None):
            return [f for f in fields(request, obj) if f != "audit_trail"]

        def get_fieldsets(request, obj=None):
            sets = [(name, dict(opts)) for name, opts in fieldsets(request, obj)]
            for _name, opts in sets:
                opts["fields"] = [f for f in opts.get("fields", ()) if f != "audit_trail"]
            if obj is not None and obj.pk:
                sets.append((_("Audit trail"), {"fields": ["audit_trail"]}))
            return sets

        def get_readonly_fields(request, obj=None):
            names = [f for f in readonly(request, obj) if f != "audit_trail"]
            return [*names, "audit_trail"] if obj is not None else names

        self.get_fields = get_fields
        self.get_fieldsets = get_fieldsets
        self.get_readonly_fields = get_readonly_fields

    @admin.display(description=_("Audit trail"))
    def audit_trail(self, obj):
        if obj is None or not obj.pk:
            return "—"
        entries = list(self.audit_entries(obj)[: RECENT_SHOWN + 1])
        opts = self.model._meta
        return render_to_string(
            "audit/recent_entries.html",
            {
                "entries": entries[:RECENT_SHOWN],
                "table": entries_table(
                    [(e, entry_details(e)) for e in entries[:RECENT_SHOWN]],
                    show_object=self.audit_whole_program,
                ),
                "more": len(entries) > RECENT_SHOWN,
                "all_url": reverse(
                    f"admin:{opts.app_label}_{opts.model_name}_audit", args=[obj.pk]
                ),
                "show_object": self.audit_whole_program,
            },
        )

    def get_urls(self):
        opts = self.model._meta
        return [
            path(
                "<path:object_id>/audit/",
                self.admin_site.admin_view(self.audit_view),
                name=f"{opts.app_label}_{opts.model_name}_audit",
            ),
            *super().get_urls(),
        ]

    def audit_view(self, request, object_id):
        """Every entry of the object, newest first, a page at a time."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None or not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        paginator = self.get_paginator(request, self.audit_entries(obj), PAGE_SIZE)
        page = paginator.get_page(request.GET.get("p", 1))
        context = {
            **self.admin_site.each_context(request),
            "title": _("Audit trail: %(object)s") % {"object": obj},
            "opts": self.model._meta,
            "object": obj,
            "page": page,
            "entries": list(page),
            "table": entries_table(
                [(e, entry_details(e)) for e in page], show_object=self.audit_whole_program
            ),
            "show_object": self.audit_whole_program,
        }
        return TemplateResponse(request, "audit/object_audit.html", context)


class ProgramFilter(admin.SimpleListFilter):
    title = _("program")
    parameter_name = "program"

    def lookups(self, request, model_admin):
        program_model = apps.get_model("programs", "Program")
        return list(program_model.objects.order_by("name").values_list("pk", "name"))

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(program_id=self.value())
        return queryset


class ActorKindFilter(admin.SimpleListFilter):
    title = _("actor")
    parameter_name = "actor_kind"
    KINDS = {
        "user": (_("An admin user"), {"actor__isnull": False}),
        "api_key": (_("An API key"), {"actor_label__startswith": "API key "}),
        "command": (_("A command"), {"actor_label__startswith": "command: "}),
        "task": (_("A background task"), {"actor_label__startswith": "task: "}),
        "system": (_("System (no actor)"), {"actor__isnull": True, "actor_label": ""}),
    }

    def lookups(self, request, model_admin):
        return [(key, label) for key, (label, _) in self.KINDS.items()]

    def queryset(self, request, queryset):
        if self.value() in self.KINDS:
            return queryset.filter(**self.KINDS[self.value()][1])
        return queryset


class EventFilter(admin.SimpleListFilter):
    title = _("event")
    parameter_name = "event"

    def lookups(self, request, model_admin):
        events = AuditEntry.objects.exclude(event="").values_list("event", flat=True)
        return [(e, e) for e in events.order_by("event").distinct()]

    def queryset(self, request, queryset):
        if self.value():
            return queryset.filter(event=self.value())
        return queryset


admin.site.unregister(AuditEntry)  # auditlog registers its own admin for the entry model


@admin.register(AuditEntry)
class AuditEntryAdmin(LogEntryAdmin, ModelAdmin):
    """The whole trail, for superusers: nobody can add, change or delete an entry."""

    superusers_only = True  # programs.checks: no program manager opens this page

    list_select_related = ["content_type", "actor"]
    list_display = ["created", "who", "what", "resource_url", "program_name", "summary"]
    list_filter = [
        ProgramFilter,
        ResourceTypeFilter,
        ActorKindFilter,
        EventFilter,
        "action",
        "timestamp",
    ]
    search_fields = ["object_repr", "actor_label", "actor__username", "actor__email", "event"]
    readonly_fields = [
        "created",
        "who",
        "what",
        "resource_url",
        "program_name",
        "remote_addr",
        "cid",
        "details",
    ]
    fieldsets = [
        (None, {"fields": ["created", "who", "remote_addr", "cid"]}),
        ("What", {"fields": ["what", "resource_url", "program_name", "details"]}),
    ]

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_superuser

    @admin.display(description=_("Who"), ordering="actor_label")
    def who(self, entry):
        return entry.actor_display

    @admin.display(description=_("What"))
    def what(self, entry):
        return entry.what

    @admin.display(description=_("Program"))
    def program_name(self, entry):
        if entry.program_id is None:
            return "—"
        try:
            url = reverse("admin:programs_program_change", args=[entry.program_id])
        except NoReverseMatch:
            return entry.program_id
        program = self._program_names().get(entry.program_id, f"#{entry.program_id}")
        return format_html('<a href="{}">{}</a>', url, program)

    def _program_names(self):
        # One query per list page, not one per row.
        cache = getattr(self.request, "_audit_program_names", None)
        if cache is None:
            program_model = apps.get_model("programs", "Program")
            cache = dict(program_model.objects.values_list("pk", "name"))
            self.request._audit_program_names = cache
        return cache

    @admin.display(description=_("Change"))
    def summary(self, entry):
        """The changed fields, or for an event without field changes its gist."""
        if entry.changes:
            return self.msg_short(entry)
        details = entry.additional_data or {}
        if "summary" in details:
            return details["summary"]
        shown = [f"{key}: {_shown(value)}" for key, value in list(details.items())[:3]]
        return "; ".join(shown)[:200] or "—"

    @admin.display(description=_("Changes and details"))
    def details(self, entry):
        return entry_details(entry) or "—"
