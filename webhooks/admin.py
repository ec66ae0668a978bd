"""The console's webhook pages: endpoints per program and their delivery log."""

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.urls import reverse
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from unfold.admin import ModelAdmin

from audit.admin import AuditTrailAdminMixin
from foundation.events import EVENT_TYPES
from foundation.wording import console_time
from programs.admin_scoping import ProgramScopedAdminMixin

from .models import Delivery, Endpoint
from .services import (
    deliveries_redeliver,
    endpoint_create,
    endpoint_rotate_secret,
    endpoint_send_test,
    endpoint_update,
)

EDITABLE = ["url", "events", "enabled", "include_email", "description"]


class EndpointForm(forms.ModelForm):
    url = forms.URLField(label=_("URL"), max_length=500, assume_scheme="https")
    events = forms.MultipleChoiceField(
        label=_("Events"),
        choices=[(name, name) for name in EVENT_TYPES],
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text=_("None ticked: every event, those added later included."),
    )

    class Meta:
        model = Endpoint
        fields = ["program", *EDITABLE]

    def _post_clean(self):
        # The service's checks (the address may be sent to, the events exist) at their fields.
        super()._post_clean()
        if self.errors:
            return
        data = self.cleaned_data
        try:
            if self.instance.pk is None:
                self.instance = endpoint_create(
                    program=data["program"],
                    url=data["url"],
                    events=data["events"],
                    include_email=data.get("include_email", False),
                    description=data.get("description", ""),
                )
                self.created_secret = self.instance.secret
            else:
                changes = {name: data[name] for name in EDITABLE if name in data}
                self.instance = endpoint_update(endpoint=self.instance, **changes)
        except ValidationError as error:
            self._update_errors(error)


@admin.register(Endpoint)
class EndpointAdmin(AuditTrailAdminMixin, ProgramScopedAdminMixin, ModelAdmin):
    form = EndpointForm
    list_display = [
        "url",
        "program",
        "enabled",
        "events_shown",
        "include_email",
        "failing_since",
        "delivery_log",
    ]
    list_filter = ["program", "enabled"]
    search_fields = ["url", "description"]
    actions = ["send_test_event", "rotate_secret", "enable", "disable"]
    readonly_fields = ["failing_since", "disabled_reason", "rotation", "created_at"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["program", *EDITABLE]
        return [*EDITABLE, *self.readonly_fields]

    @admin.display(description=_("Events"))
    def events_shown(self, endpoint):
        return ", ".join(endpoint.events) if endpoint.events else _("every event")

    @admin.display(description=_("Delivery log"))
    def delivery_log(self, endpoint):
        url = reverse("admin:webhooks_delivery_changelist") + f"?endpoint__id__exact={endpoint.pk}"
        return format_html('<a href="{}">{}</a>', url, _("Deliveries"))

    @admin.display(description=_("Secret rotation"))
    def rotation(self, endpoint):
        if endpoint.previous_secret_expires_at:
            return _("The previous secret also signs until %(time)s.") % {
                "time": console_time(endpoint.previous_secret_expires_at)
            }
        return "—"

    def save_model(self, request, obj, form, change):
        # The form's service call saved it; the secret of a new endpoint is shown this once.
        secret = getattr(form, "created_secret", None)
        if secret:
            self.message_user(
                request,
                _(
                    "The signing secret of %(url)s is %(secret)s — copy it now: it is not shown "
                    "again (rotate it if it is lost)."
                )
                % {"url": obj.url, "secret": secret},
                messages.WARNING,
            )

    @admin.action(description=_("Send a test event"), permissions=["change"])
    def send_test_event(self, request, queryset):
        sent = 0
        for endpoint in queryset:
            endpoint_send_test(endpoint=endpoint)
            sent += 1
        self.message_user(
            request,
            ngettext(
                "A webhook.test event is on its way to %(count)s endpoint: see the delivery log.",
                "A webhook.test event is on its way to %(count)s endpoints: see the delivery log.",
                sent,
            )
            % {"count": f"{sent:,}"},
            messages.SUCCESS,
        )

    @admin.action(description=_("Rotate the signing secret"), permissions=["change"])
    def rotate_secret(self, request, queryset):
        for endpoint in queryset:
            endpoint = endpoint_rotate_secret(endpoint=endpoint)
            self.message_user(
                request,
                _(
                    "The new signing secret of %(url)s is %(secret)s — copy it now: it is not "
                    "shown again. The old secret keeps signing for 24 hours."
                )
                % {"url": endpoint.url, "secret": endpoint.secret},
                messages.WARNING,
            )

    @admin.action(description=_("Enable"), permissions=["change"])
    def enable(self, request, queryset):
        for endpoint in queryset.filter(enabled=False):
            endpoint_update(endpoint=endpoint, enabled=True)
        self.message_user(request, _("Enabled."), messages.SUCCESS)

    @admin.action(description=_("Disable"), permissions=["change"])
    def disable(self, request, queryset):
        for endpoint in queryset.filter(enabled=True):
            endpoint_update(endpoint=endpoint, enabled=False)
        self.message_user(request, _("Disabled."), messages.SUCCESS)


@admin.register(Delivery)
class DeliveryAdmin(ProgramScopedAdminMixin, ModelAdmin):
    list_display = [
        "event_type",
        "event_id",
        "endpoint",
        "status",
        "attempts",
        "last_status_code",
        "latency_shown",
        "next_try_at",
        "created_at",
    ]
    list_filter = ["status", "event_type", "endpoint"]
    search_fields = ["event_id", "event_type"]
    actions = ["redeliver"]
    readonly_fields = [
        "endpoint",
        "event_id",
        "event_type",
        "status",
        "attempts",
        "last_status_code",
        "last_error",
        "latency_ms",
        "next_try_at",
        "created_at",
        "delivered_at",
        "payload",
    ]
    fields = readonly_fields

    @admin.display(description=_("Latency"), ordering="latency_ms")
    def latency_shown(self, delivery):
        if delivery.latency_ms is None:
            return "—"
        return _("%(ms)s ms") % {"ms": delivery.latency_ms}

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Redeliver"), permissions=["change"])
    def redeliver(self, request, queryset):
        count = deliveries_redeliver(deliveries=queryset)
        self.message_user(
            request,
            ngettext(
                "%(count)s event will be sent again (same webhook-id).",
                "%(count)s events will be sent again (same webhook-id).",
                count,
            )
            % {"count": f"{count:,}"},
            messages.SUCCESS,
        )
