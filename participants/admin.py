from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from import_export.admin import ImportMixin
from import_export.forms import ConfirmImportForm, ImportForm

from codes.models import PromoCode
from codes.services import CannotAddCode, PromoCodesOff, code_add_manual
from programs.admin_scoping import ProgramScopedAdminMixin, managed_programs

from .models import Participant, Referral, Reward
from .resources import ParticipantImportResource


class ParticipantImportForm(ImportForm):
    program = forms.ModelChoiceField(queryset=None, help_text="Import into this program.")
    field_order = ["program", "resource", "import_file", "format"]

    def __init__(self, formats, resources, *, programs=None, **kwargs):
        super().__init__(formats, resources, **kwargs)
        self.fields["program"].queryset = programs


class ParticipantConfirmImportForm(ConfirmImportForm):
    program = forms.ModelChoiceField(queryset=None, widget=forms.HiddenInput())

    def __init__(self, *args, programs=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["program"].queryset = programs


class CodesAndLinksInline(admin.TabularInline):
    model = PromoCode
    fk_name = "holder"
    verbose_name = "code"
    verbose_name_plural = "Codes and links"
    fields = ["code", "usage", "status", "source", "assigned_at", "first_copied_at", "redeemed_at"]
    readonly_fields = fields
    extra = 0
    can_delete = False
    ordering = ["assigned_at", "id"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(Participant)
class ParticipantAdmin(ProgramScopedAdminMixin, ImportMixin, admin.ModelAdmin):
    list_display = [
        "participant_id",
        "email",
        "first_name",
        "last_name",
        "program",
        "is_advocate",
        "is_blocked",
        "created_at",
    ]
    list_filter = ["program", "is_advocate", "is_blocked"]
    search_fields = ["participant_id", "email", "first_name", "last_name"]
    readonly_fields = ["codes_short_since", "created_at", "updated_at"]
    inlines = [CodesAndLinksInline]

    def get_readonly_fields(self, request, obj=None):
        # Moving a participant to another program or id would orphan their codes and referrals.
        if obj is not None:
            return ["program", "participant_id", *self.readonly_fields]
        return self.readonly_fields

    def get_urls(self):
        return [
            path(
                "<path:object_id>/add-referral-code/",
                self.admin_site.admin_view(self.add_referral_code_view),
                name="participants_participant_add_code",
            ),
            *super().get_urls(),
        ]

    def add_referral_code_view(self, request, object_id):
        """ "Add referral code" (POST): a new code for this advocate, outside the pool stock."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        participant = self.get_object(request, unquote(object_id))
        if participant is None:  # unknown, or in a program this manager does not manage
            raise PermissionDenied
        if not self.has_change_permission(request, participant):
            raise PermissionDenied
        try:
            code = code_add_manual(participant=participant)
        except (CannotAddCode, PromoCodesOff) as error:
            self.message_user(request, f"No code added: {error}", messages.ERROR)
        else:
            self.message_user(
                request,
                f"Added referral code {code.code} ({code.get_usage_display()}) for "
                f"{participant}. It shows under Codes and links and in their widget.",
                messages.SUCCESS,
            )
        return HttpResponseRedirect(
            reverse("admin:participants_participant_change", args=[participant.pk])
        )

    # Participant import (CSV, XLSX, …) with a preview, through participant_upsert_referred.
    resource_classes = [ParticipantImportResource]
    import_form_class = ParticipantImportForm
    confirm_form_class = ParticipantConfirmImportForm

    def get_import_form_kwargs(self, request):
        return {
            **super().get_import_form_kwargs(request),
            "programs": managed_programs(request.user),
        }

    def get_confirm_form_kwargs(self, request, import_form=None):
        return {
            **super().get_confirm_form_kwargs(request, import_form),
            "programs": managed_programs(request.user),
        }

    def get_confirm_form_initial(self, request, import_form):
        initial = super().get_confirm_form_initial(request, import_form)
        if import_form is not None:
            initial["program"] = import_form.cleaned_data["program"].pk
        return initial

    def get_import_resource_kwargs(self, request, **kwargs):
        form = kwargs.get("form")
        program = None
        if form is not None and hasattr(form, "cleaned_data"):
            program = form.cleaned_data.get("program")
        return {"program": program}


@admin.register(Referral)
class ReferralAdmin(ProgramScopedAdminMixin, admin.ModelAdmin):
    list_display = ["friend", "advocate", "code", "status", "order_id", "created_at"]
    list_filter = ["status", "program"]
    search_fields = ["friend__participant_id", "advocate__participant_id", "order_id"]
    raw_id_fields = ["advocate", "friend", "code"]

    def has_change_permission(self, request, obj=None):
        # Referrals change through conversions and reversals (their services), not by hand.
        return False

    def has_add_permission(self, request):
        return False


@admin.register(Reward)
class RewardAdmin(ProgramScopedAdminMixin, admin.ModelAdmin):
    list_display = ["advocate", "kind", "amount", "currency", "percent", "status", "needs_review"]
    list_filter = ["status", "kind", "needs_review", "program"]
    raw_id_fields = ["advocate", "referral", "code"]
    # A manager marks a reward paid or reviewed; what was earned is the services' business.
    readonly_fields = [
        "program",
        "advocate",
        "referral",
        "kind",
        "amount",
        "currency",
        "percent",
        "code",
        "available_at",
        "cancelled_at",
        "created_at",
    ]

    def has_add_permission(self, request):
        return False
