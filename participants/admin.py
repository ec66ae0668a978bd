from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse
from import_export.admin import ImportMixin
from import_export.forms import ConfirmImportForm
from unfold.admin import ModelAdmin, TabularInline
from unfold.contrib.import_export.forms import ImportForm

from audit.admin import AuditTrailAdminMixin
from codes.models import PromoCode
from codes.services import CannotAddCode, PromoCodesOff
from programs.admin_confirm import action_confirmation, action_confirmed
from programs.admin_scoping import ProgramScopedAdminMixin, managed_programs

from .models import Participant, Referral, Reward, RewardStatus
from .resources import ParticipantImportResource
from .services import (
    RewardMoveRefused,
    participant_block,
    participant_code_add,
    participant_unblock,
    reward_cancel,
    rewards_mark_paid,
)


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


class CodesAndLinksInline(ProgramScopedAdminMixin, TabularInline):
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
class ParticipantAdmin(AuditTrailAdminMixin, ProgramScopedAdminMixin, ImportMixin, ModelAdmin):
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
    readonly_fields = [
        "is_blocked",
        "blocked_at",
        "short_of_codes_since",
        "created_at",
        "updated_at",
    ]
    inlines = [CodesAndLinksInline]
    actions = ["block_advocates", "unblock_advocates"]

    @admin.display(description="Short of codes since")
    def short_of_codes_since(self, participant):
        shortfall = getattr(participant, "code_shortfall", None)
        return shortfall.since if shortfall else "—"

    @admin.action(description="Block the selected advocates…", permissions=["change"])
    def block_advocates(self, request, queryset):
        form = BlockForm(request.POST if action_confirmed(request) else None)
        if action_confirmed(request) and form.is_valid():
            blocked = voided = 0
            for participant in queryset.order_by("pk"):
                result = participant_block(
                    participant=participant,
                    void_codes=form.cleaned_data["void_codes"],
                    by=request.user,
                    reason=form.cleaned_data["reason"],
                )
                blocked += result.newly_blocked
                voided += result.voided.voided if result.voided else 0
            text = f"Blocked {blocked} advocate(s): their codes no longer attribute orders."
            if form.cleaned_data["void_codes"]:
                text += f" {voided} code(s) they held were voided."
            self.message_user(request, text, messages.SUCCESS)
            return None
        held = PromoCode.objects.held_by_any(queryset.values("pk")).count()
        facts = [
            f"{queryset.count()} participant(s) will be blocked: orders carrying their codes are "
            "rejected, and they get no new codes.",
            f"They hold {held} referral code(s) now.",
        ]
        return action_confirmation(
            self,
            request,
            queryset,
            action="block_advocates",
            title="Block advocates",
            facts=facts,
            submit="Block",
            form=form,
        )

    @admin.action(description="Unblock the selected advocates", permissions=["change"])
    def unblock_advocates(self, request, queryset):
        codes = 0
        count = 0
        for participant in queryset.filter(is_blocked=True).order_by("pk"):
            codes += participant_unblock(participant=participant)
            count += 1
        self.message_user(
            request,
            f"Unblocked {count} advocate(s); {codes} new code(s) were assigned to them.",
            messages.SUCCESS,
        )

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
            code = participant_code_add(participant=participant)
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
class ReferralAdmin(ProgramScopedAdminMixin, ModelAdmin):
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
class RewardAdmin(AuditTrailAdminMixin, ProgramScopedAdminMixin, ModelAdmin):
    list_display = [
        "advocate",
        "kind",
        "amount",
        "currency",
        "percent",
        "reward_code",
        "status",
        "needs_review",
        "created_at",
    ]
    list_filter = ["status", "kind", "needs_review", "program"]
    list_select_related = ["advocate", "code"]
    raw_id_fields = ["advocate", "referral", "code"]
    # Every change of a reward's state goes through the rewards service (its allowed moves):
    # the page shows a reward, the actions change it.
    readonly_fields = [
        "program",
        "advocate",
        "referral",
        "kind",
        "amount",
        "currency",
        "percent",
        "code",
        "status",
        "needs_review",
        "available_at",
        "paid_at",
        "cancelled_at",
        "created_at",
    ]
    actions = ["mark_paid", "cancel_rewards"]

    @admin.display(description="Code")
    def reward_code(self, reward):
        if reward.code_id is None:
            return "—"
        if reward.code.revealed_at is None:
            return f"{reward.code.code} (reserved)"
        return reward.code.code

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description="Mark the selected rewards paid", permissions=["change"])
    def mark_paid(self, request, queryset):
        result = rewards_mark_paid(rewards=queryset)
        if result.paid:
            self.message_user(request, f"Marked {result.paid} reward(s) paid.", messages.SUCCESS)
        if result.refused:
            shown = " ".join(result.refused[:5])
            more = f" (and {len(result.refused) - 5} more)" if len(result.refused) > 5 else ""
            self.message_user(
                request,
                f"{len(result.refused)} reward(s) not marked paid: only available rewards can "
                f"be. {shown}{more}",
                messages.WARNING,
            )

    @admin.action(description="Cancel the selected rewards…", permissions=["change"])
    def cancel_rewards(self, request, queryset):
        if not action_confirmed(request):
            facts = [
                f"{queryset.count()} reward(s) will be cancelled. A fuel-tank code not yet shown "
                "to its advocate goes back to the tank; one already shown is flagged for review.",
                "Paid rewards cannot be cancelled and are left as they are.",
            ]
            return action_confirmation(
                self,
                request,
                queryset,
                action="cancel_rewards",
                title="Cancel rewards",
                facts=facts,
                warning="A cancelled reward can never be made available again.",
                submit="Cancel these rewards",
            )
        cancelled = 0
        refused = []
        for reward in queryset.exclude(status=RewardStatus.CANCELLED).order_by("pk"):
            try:
                reward_cancel(reward=reward)
            except RewardMoveRefused as error:
                refused.append(str(error))
            else:
                cancelled += 1
        self.message_user(request, f"Cancelled {cancelled} reward(s).", messages.SUCCESS)
        if refused:
            self.message_user(request, " ".join(refused[:5]), messages.WARNING)


class BlockForm(forms.Form):
    void_codes = forms.BooleanField(
        required=False,
        initial=True,
        label="Also void the referral codes they hold",
        help_text="A voided code is kept for the record and never attributes again.",
    )
    reason = forms.CharField(
        max_length=255,
        required=False,
        label="Why",
        help_text="Kept with each voided code.",
        widget=forms.TextInput(attrs={"size": 60}),
    )
