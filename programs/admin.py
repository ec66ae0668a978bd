from collections.abc import Callable
from dataclasses import dataclass, field

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.contrib.auth.admin import GroupAdmin as BaseGroupAdmin
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.contrib.auth.models import Group, User
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.templatetags.static import static
from django.urls import path, reverse
from django.utils.html import format_html
from django.utils.text import format_lazy
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from unfold.admin import ModelAdmin, TabularInline
from unfold.dataclasses import UnfoldAction
from unfold.forms import AdminPasswordChangeForm, UserChangeForm, UserCreationForm
from unfold.widgets import UnfoldAdminTextareaWidget, UnfoldAdminTextInputWidget

from audit.admin import AuditTrailAdminMixin

from .admin_scoping import ProgramScopedAdminMixin, SuperuserOnlyAdminMixin
from .models import ApiKey, CodeUsage, Program, ProgramManager, Widget, WidgetComponent
from .services import (
    api_key_revoke,
    program_create,
    program_rotate_widget_secret,
    program_update,
    promo_settings_change_preview,
    promo_settings_validate,
    widget_apply_promo_code_template,
)

CONFIRM_FIELD = "_confirm_irreversible"


def offer_translation_fields():
    """(language code, form field name) of the offer's per-language fields."""
    return [
        (code, f"friend_offer_text_{code.replace('-', '_')}")
        for code, _name in settings.LANGUAGES
        if code != settings.LANGUAGE_CODE
    ]


class ProgramForm(forms.ModelForm):
    apply_template_to_widgets = forms.BooleanField(
        label=_("Apply the referral promo code template to my widgets"),
        required=False,
        help_text=_(
            "On save, add the promo-code component to this program's widgets that lack it, "
            "those added below included."
        ),
    )

    class Meta:
        model = Program
        fields = [
            "name",
            "slug",
            "promo_codes_enabled",
            "code_usage",
            "codes_per_advocate",
            "low_stock_threshold",
            "low_stock_recipients",
            "reward_kind",
            "reward_amount",
            "reward_currency",
            "reward_percent",
            "reward_review_days",
            "reward_cap_advocate_month",
            "reward_cap_advocate_total",
            "reward_cap_program_day",
            "review_policy",
            "review_hold_at",
            "review_deny_at",
            "review_velocity_per_hour",
            "friend_offer_text",
            "widget_allowed_origins",
        ]
        widgets = {
            "low_stock_recipients": UnfoldAdminTextareaWidget(attrs={"rows": 3}),
            "widget_allowed_origins": UnfoldAdminTextareaWidget(attrs={"rows": 3}),
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        stored = self.instance
        # A one-way switch already made is shown, not offered: the form cannot post it back.
        if stored.pk and stored.promo_codes_enabled:
            field = self.fields["promo_codes_enabled"]
            field.disabled = True
            field.help_text = _("On. Referral promo codes cannot be turned off once turned on.")
        if stored.pk and stored.code_usage == CodeUsage.SINGLE:
            field = self.fields["code_usage"]
            field.disabled = True
            field.help_text = _("Single-use. The program can never go back to multi-use codes.")
        translations = stored.friend_offer_translations or {}
        for code, name in offer_translation_fields():
            if name in self.fields:
                self.fields[name].initial = translations.get(code, "")
        for part in _PROGRAM_PAGE_PARTS:
            if part.prepare:
                part.prepare(self)

    def clean(self):
        data = super().clean()
        for part in _PROGRAM_PAGE_PARTS:
            if part.clean:
                part.clean(self, data)
        return data

    def _post_clean(self):
        super()._post_clean()  # the model's own checks first: their messages stand
        # Then the service's checks, so that each refusal shows at its field, not at the top.
        data = self.cleaned_data
        try:
            promo_settings_validate(
                code_usage=data.get("code_usage", self.instance.code_usage),
                codes_per_advocate=data.get("codes_per_advocate", self.instance.codes_per_advocate),
                low_stock_recipients=data.get("low_stock_recipients", ""),
            )
        except ValidationError as refused:
            for field, errors in refused.message_dict.items():
                if field not in self.errors:
                    self.add_error(field if field in self.fields else None, errors)


# --- The hook: what a higher app adds to the one program page --------------------------------


@dataclass(frozen=True)
class ProgramPageLink:
    """A button at the top of a saved program's page, leading to another app's page: its URL
    is named `admin:programs_program_<name>` and redirects to `target(program)`."""

    name: str
    description: str
    icon: str
    url_path: str
    target: Callable[[Program], str]
    permitted: Callable[[object], bool]  # given the request


@dataclass(frozen=True)
class ProgramPanel:
    """A read-only section of a saved program's page, after the section holding the field
    `after`: `render(program)` (an admin display function) gives its HTML."""

    title: str
    render: Callable[[Program], str]
    after: str


@dataclass(frozen=True)
class ProgramPagePart:
    """What a higher app adds to the program page (ProgramAdmin, its one admin class): programs
    imports nothing of the apps above it (docs/architecture.md "Apps and packages").

    `fields`: form fields, each shown after the field `after[name]` and never passed to the
    program's services; `prepare(form)` fills them for the program edited (querysets, initial
    values); `clean(form, data)` checks them; `saved(program, data)` runs once the program is
    saved. `conditional_fields` as unfold's; `panels` and `links` as above."""

    fields: dict = field(default_factory=dict)
    after: dict = field(default_factory=dict)
    conditional_fields: dict = field(default_factory=dict)
    prepare: Callable | None = None
    clean: Callable | None = None
    saved: Callable | None = None
    panels: tuple = ()
    links: tuple = ()


_PROGRAM_PAGE_PARTS: list[ProgramPagePart] = []


def program_page_add(part: ProgramPagePart) -> None:
    """The hook: the one program page (ProgramAdmin) shows this part too."""
    if part in _PROGRAM_PAGE_PARTS:
        return
    _PROGRAM_PAGE_PARTS.append(part)
    for name, form_field in part.fields.items():
        ProgramForm.base_fields[name] = ProgramForm.declared_fields[name] = form_field


def _page_links() -> dict[str, ProgramPageLink]:
    return {link.name: link for part in _PROGRAM_PAGE_PARTS for link in part.links}


# The offer in each offered language but the default one: a field each, kept together in
# Program.friend_offer_translations (ProgramAdmin.save_model).
for _code, _field_name in offer_translation_fields():
    ProgramForm.base_fields[_field_name] = ProgramForm.declared_fields[_field_name] = (
        forms.CharField(
            label=format_lazy("{} ({})", _("Friend offer text"), dict(settings.LANGUAGES)[_code]),
            required=False,
            max_length=300,
            help_text=_("Shown to advocates reading this language."),
            widget=UnfoldAdminTextInputWidget,
        )
    )


class ProgramManagerInline(ProgramScopedAdminMixin, TabularInline):
    model = ProgramManager
    extra = 0
    autocomplete_fields = ["user"]


class WidgetInline(ProgramScopedAdminMixin, TabularInline):
    model = Widget
    extra = 0
    fields = ["name", "component_list"]
    readonly_fields = ["component_list"]
    show_change_link = True

    @admin.display(description=_("Components"))
    def component_list(self, widget):
        return ", ".join(c.get_kind_display() for c in widget.components.all()) or "—"


@admin.register(Program)
class ProgramAdmin(AuditTrailAdminMixin, ProgramScopedAdminMixin, ModelAdmin):
    # The program's page shows every entry of the program: keys, managers, pools, voids, …
    audit_whole_program = True
    form = ProgramForm
    list_display = [
        "name",
        "slug",
        "promo_codes_enabled",
        "code_usage",
        "codes_per_advocate",
        "low_stock_threshold",
    ]
    list_filter = ["promo_codes_enabled", "code_usage"]
    search_fields = ["name", "slug"]
    # unfold shows each of these only while its condition on the form's values holds.
    own_conditional_fields = {
        "codes_per_advocate": "code_usage == 'single'",
        "reward_amount": "reward_kind == 'credit'",
        "reward_currency": "reward_kind == 'credit'",
        "reward_percent": "reward_kind == 'percent'",
        "review_hold_at": "review_policy == 'custom'",
        "review_deny_at": "review_policy == 'custom'",
    }
    prepopulated_fields = {"slug": ["name"]}
    inlines = [WidgetInline, ProgramManagerInline]
    fieldsets = [
        (None, {"fields": ["name", "slug"]}),
        (
            _("Promo codes"),
            {
                "fields": [
                    "promo_codes_enabled",
                    "code_usage",
                    "codes_per_advocate",
                    "low_stock_threshold",
                    "low_stock_recipients",
                    "alert_language",
                    "apply_template_to_widgets",
                ],
                "description": _(
                    "Turning promo codes on and choosing single-use codes cannot be undone; "
                    "saving either asks for confirmation first."
                ),
            },
        ),
        (
            _("Rewards"),
            {
                "fields": [
                    "reward_kind",
                    "reward_amount",
                    "reward_currency",
                    "reward_percent",
                    "reward_review_days",
                    "reward_cap_advocate_month",
                    "reward_cap_advocate_total",
                    "reward_cap_program_day",
                ]
            },
        ),
        (
            _("Fraud review"),
            {
                "fields": [
                    "review_policy",
                    "review_hold_at",
                    "review_deny_at",
                    "review_velocity_per_hour",
                    "review_leak_customers_per_day",
                ],
                "description": _(
                    "Each referral that would reward is scored at attribution (self-referral, "
                    "same IP, disposable e-mail, existing customer, velocity); the policy "
                    "approves it, holds its reward for review or denies it. The attribution "
                    "stands. A multi-use code used by too many customers in a day is flagged as "
                    "leaked, whatever the policy."
                ),
            },
        ),
        (
            _("Widget"),
            {
                "fields": [
                    "friend_offer_text",
                    *(name for _code, name in offer_translation_fields()),
                    "default_language",
                    "widget_allowed_origins",
                    "widget_secret_display",
                    "embed_snippet",
                ]
            },
        ),
    ]
    actions = ["rotate_widget_secret"]

    # --- What higher apps add (program_page_add) ---------------------------------------------

    @property
    def conditional_fields(self):
        added = {}
        for part in _PROGRAM_PAGE_PARTS:
            added.update(part.conditional_fields)
        return {**self.own_conditional_fields, **added}

    @property
    def actions_detail(self):
        return list(_page_links())

    def get_fieldsets(self, request, obj=None):
        fieldsets = [(name, dict(options)) for name, options in super().get_fieldsets(request, obj)]

        def section_of(name):
            return next(i for i, (_, opts) in enumerate(fieldsets) if name in opts["fields"])

        for part in _PROGRAM_PAGE_PARTS:
            for name, after in part.after.items():
                options = fieldsets[section_of(after)][1]
                fields = list(options["fields"])
                fields.insert(fields.index(after) + 1, name)
                options["fields"] = fields
            if obj is not None:
                for panel in part.panels:
                    fieldsets.insert(
                        section_of(panel.after) + 1, (panel.title, {"fields": [panel.render]})
                    )
        return fieldsets

    def get_readonly_fields(self, request, obj=None):
        shown = ["widget_secret_display", "embed_snippet"]
        if obj is None:
            return shown
        panels = [panel.render for part in _PROGRAM_PAGE_PARTS for panel in part.panels]
        return ["slug", *shown, *panels]

    def get_unfold_action(self, action):
        link = _page_links().get(action)
        if link is None:
            return super().get_unfold_action(action)

        def follow(request, object_id):
            if not link.permitted(request):
                raise PermissionDenied
            program = self.get_object(request, unquote(object_id))
            if program is None:
                raise Http404
            return redirect(link.target(program))

        follow.attrs = None
        opts = self.model._meta
        return UnfoldAction(
            action_name=f"{opts.app_label}_{opts.model_name}_{link.name}",
            method=follow,
            description=link.description,
            path=link.url_path,
            icon=link.icon,
        )

    def get_actions_detail(self, request, object_id):
        links = _page_links()
        prefix = f"{self.model._meta.app_label}_{self.model._meta.model_name}_"
        return [
            action
            for action in super().get_actions_detail(request, object_id)
            if (link := links.get(action.action_name.removeprefix(prefix))) is None
            or link.permitted(request)
        ]

    @admin.display(description=_("Embed the widget"))
    def embed_snippet(self, obj):
        if obj is None or not obj.pk:
            return _("Shown once the program is saved.")
        site = settings.SITE_URL.rstrip("/")
        snippet = (
            '<div data-promo-codes data-token="PARTICIPANT_TOKEN"></div>\n'
            f'<script src="{site}{static("promo-codes/promo-codes.js")}" defer></script>'
        )
        page = f"{site}{reverse('widget-page', args=[obj.slug])}#token=PARTICIPANT_TOKEN"
        return format_html(
            '<pre class="embed-snippet whitespace-pre-wrap">{}</pre><div class="help">{} {}</div>',
            snippet,
            _(
                "Paste this into the page where advocates see their codes. Your backend "
                "replaces PARTICIPANT_TOKEN with a token it signs for the advocate (HS256, the "
                "widget secret above). The widget alone:"
            ),
            page,
        )

    # --- The widget secret: masked, revealed on demand, rotatable --------------------------
    # Only a superuser or a manager of the program reaches its change page (get_queryset),
    # so only they ever see the secret; it never appears in any widget page or API answer.

    @admin.display(description=_("Widget secret"))
    def widget_secret_display(self, obj):
        if obj is None or not obj.pk:
            return _("Created when the program is saved.")
        secret = obj.widget_secret
        return format_html(
            '<span class="widget-secret-masked">{}…{}</span> '
            '<details style="display:inline-block"><summary>{}</summary>'
            '<code class="widget-secret">{}</code></details><br>'
            '<button type="submit" class="button" formaction="{}" formnovalidate '
            'name="_rotate_widget_secret">{}</button>'
            '<div class="help">{}</div>',
            "•" * 8,
            secret[-4:],
            _("Reveal"),
            secret,
            reverse("admin:programs_program_rotate_widget_secret", args=[obj.pk]),
            _("Rotate widget secret"),
            _(
                "The brand's backend signs participant tokens with this secret (HS256). "
                "Rotating it makes every token signed with the old one invalid."
            ),
        )

    def get_urls(self):
        return [
            path(
                "<path:object_id>/rotate-widget-secret/",
                self.admin_site.admin_view(self.rotate_widget_secret_view),
                name="programs_program_rotate_widget_secret",
            ),
            *super().get_urls(),
        ]

    def rotate_widget_secret_view(self, request, object_id):
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            return self._get_obj_does_not_exist_redirect(request, self.model._meta, object_id)
        if request.method != "POST" or not self.has_change_permission(request, obj):
            raise PermissionDenied
        program_rotate_widget_secret(program=obj)
        messages.success(
            request,
            _("The widget secret of %(program)s was rotated; tokens signed before are refused.")
            % {"program": obj},
        )
        return redirect("admin:programs_program_change", obj.pk)

    @admin.action(description=_("Rotate the widget secret of the selected programs"))
    def rotate_widget_secret(self, request, queryset):
        if not self.has_change_permission(request):
            raise PermissionDenied
        rotated = 0
        for program in queryset:
            program_rotate_widget_secret(program=program)
            rotated += 1
        messages.success(
            request,
            ngettext(
                "Rotated the widget secret of %(count)s program.",
                "Rotated the widget secret of %(count)s programs.",
                rotated,
            )
            % {"count": f"{rotated:,}"},
        )

    def get_prepopulated_fields(self, request, obj=None):
        return {} if obj else self.prepopulated_fields

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if request.method == "POST" and CONFIRM_FIELD not in request.POST:
            confirmation = self._confirmation_page(request, object_id)
            if confirmation is not None:
                return confirmation
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ValidationError as refused:
            # The service refused what the form allowed (a concurrent save made a one-way
            # switch first): nothing was saved; say why and show the program as stored.
            messages.error(
                request, _("Not saved: %(reasons)s") % {"reasons": " ".join(refused.messages)}
            )
            return redirect(request.path)

    def _confirmation_page(self, request, object_id):
        """The "This cannot be undone" step before a one-way switch; None when none is made."""
        obj = self.get_object(request, unquote(object_id)) if object_id else None
        if object_id and obj is None:
            return None  # let the admin answer its usual "not found"
        if obj is None and not self.has_add_permission(request):
            raise PermissionDenied
        if obj is not None and not self.has_change_permission(request, obj):
            raise PermissionDenied
        form_class = self.get_form(request, obj, change=obj is not None)
        form = form_class(request.POST, request.FILES, instance=obj)
        if not form.is_valid():
            return None  # the admin re-renders the form with its errors
        change = promo_settings_change_preview(
            program=obj or Program(),
            promo_codes_enabled=form.cleaned_data["promo_codes_enabled"],
            code_usage=form.cleaned_data["code_usage"],
        )
        if not change.irreversible:
            return None
        hidden = [
            (name, value)
            for name, values in request.POST.lists()
            if name != "csrfmiddlewaretoken"
            for value in values
        ]
        context = {
            **self.admin_site.each_context(request),
            "title": _("This cannot be undone"),
            "opts": self.model._meta,
            "original": obj,
            "program_name": form.cleaned_data.get("name"),
            "changes": change.describe(),
            "hidden_fields": hidden,
            "confirm_field": CONFIRM_FIELD,
        }
        return TemplateResponse(
            request, "admin/programs/program/confirm_irreversible.html", context
        )

    def save_model(self, request, obj, form, change):
        fields = dict(form.cleaned_data)
        fields.pop("apply_template_to_widgets", None)  # after the widgets are saved: save_related
        for part in _PROGRAM_PAGE_PARTS:
            for name in part.fields:
                fields.pop(name, None)
        translations = {}
        for code, name in offer_translation_fields():
            text = (fields.pop(name, "") or "").strip()
            if text:
                translations[code] = text
        fields["friend_offer_translations"] = translations
        # A refusal (ValidationError) propagates: changeform_view turns it into a message.
        saved = program_update(program=obj, **fields) if change else program_create(**fields)
        obj.pk = saved.pk
        obj._state.adding = False
        obj.refresh_from_db()
        if not change and not request.user.is_superuser:
            ProgramManager.objects.get_or_create(program=obj, user=request.user)
        for part in _PROGRAM_PAGE_PARTS:
            if part.saved:
                part.saved(obj, form.cleaned_data)

    def save_related(self, request, form, formsets, change):
        super().save_related(request, form, formsets, change)
        if not form.cleaned_data.get("apply_template_to_widgets"):
            return
        # Widgets added in this same save (the inline) are saved by now: they get it too.
        added = widget_apply_promo_code_template(program=form.instance)
        if added:
            names = ", ".join(widget.name for widget in added)
            messages.success(
                request,
                _("Added the referral promo code component to: %(names)s.") % {"names": names},
            )
        else:
            messages.info(
                request, _("Every widget of this program already has the referral promo code.")
            )


class WidgetComponentInline(ProgramScopedAdminMixin, TabularInline):
    model = WidgetComponent
    extra = 0


@admin.register(Widget)
class WidgetAdmin(ProgramScopedAdminMixin, ModelAdmin):
    list_display = ["name", "program", "component_list"]
    list_filter = ["program"]
    inlines = [WidgetComponentInline]
    actions = ["add_promo_code_component"]

    @admin.display(description=_("Components"))
    def component_list(self, widget):
        return ", ".join(c.get_kind_display() for c in widget.components.all()) or "—"

    @admin.action(description=_("Add the referral promo code component"))
    def add_promo_code_component(self, request, queryset):
        if not self.has_change_permission(request):
            raise PermissionDenied
        added = 0
        for program in Program.objects.filter(widgets__in=queryset).distinct():
            added += len(
                widget_apply_promo_code_template(
                    program=program, widgets=queryset.filter(program=program)
                )
            )
        skipped = queryset.count() - added
        if skipped:
            text = ngettext(
                "Added the referral promo code component to %(count)s widget "
                "(%(skipped)s already had it).",
                "Added the referral promo code component to %(count)s widgets "
                "(%(skipped)s already had it).",
                added,
            )
        else:
            text = ngettext(
                "Added the referral promo code component to %(count)s widget.",
                "Added the referral promo code component to %(count)s widgets.",
                added,
            )
        messages.success(request, text % {"count": f"{added:,}", "skipped": skipped})

    def get_queryset(self, request):
        return (
            super().get_queryset(request).select_related("program").prefetch_related("components")
        )

    def get_readonly_fields(self, request, obj=None):
        # A widget stays in the program it was made for.
        return ["program"] if obj else []


@admin.register(ApiKey)
class ApiKeyAdmin(AuditTrailAdminMixin, ProgramScopedAdminMixin, ModelAdmin):
    list_display = [
        "name",
        "program",
        "prefix",
        "requests_per_minute",
        "created_at",
        "last_used_at",
        "revoked_at",
    ]
    list_filter = ["program", ("revoked_at", admin.EmptyFieldListFilter)]
    list_editable = ["requests_per_minute"]
    search_fields = ["name", "prefix"]
    actions = ["revoke"]
    readonly_fields = ["prefix", "created_at", "last_used_at", "revoked_at"]
    fields = ["program", "name", "requests_per_minute", *readonly_fields]

    def has_add_permission(self, request):
        # Keys are created with `create_api_key`, which shows the key once.
        return False

    def get_readonly_fields(self, request, obj=None):
        # A key stays with the program it was made for.
        return ["program", *self.readonly_fields] if obj else self.readonly_fields

    @admin.action(description=_("Revoke the selected API keys"), permissions=["change"])
    def revoke(self, request, queryset):
        revoked = 0
        for api_key in queryset.filter(revoked_at__isnull=True):
            api_key_revoke(api_key=api_key)
            revoked += 1
        self.message_user(
            request,
            ngettext("Revoked %(count)s API key.", "Revoked %(count)s API keys.", revoked)
            % {"count": f"{revoked:,}"},
            messages.SUCCESS,
        )


# The auth admin, restyled like the rest of the console (django-unfold's forms and widgets), for
# superusers only: a program manager administers no users or groups, whatever they are given.
admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class UserAdmin(SuperuserOnlyAdminMixin, BaseUserAdmin, ModelAdmin):
    form = UserChangeForm
    add_form = UserCreationForm
    change_password_form = AdminPasswordChangeForm


@admin.register(Group)
class GroupAdmin(SuperuserOnlyAdminMixin, BaseGroupAdmin, ModelAdmin):
    pass
