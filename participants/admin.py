from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpResponseNotAllowed, HttpResponseRedirect
from django.urls import path, reverse

from codes.models import PromoCode
from codes.services import CannotAddCode, PromoCodesOff, code_add_manual
from programs.admin_scoping import ProgramScopedAdminMixin

from .models import Participant, Referral, Reward


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
class ParticipantAdmin(ProgramScopedAdminMixin, admin.ModelAdmin):
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


@admin.register(Referral)
class ReferralAdmin(ProgramScopedAdminMixin, admin.ModelAdmin):
    list_display = ["friend", "advocate", "code", "status", "order_id", "created_at"]
    list_filter = ["status", "program"]
    search_fields = ["friend__participant_id", "advocate__participant_id", "order_id"]
    raw_id_fields = ["advocate", "friend", "code"]


@admin.register(Reward)
class RewardAdmin(ProgramScopedAdminMixin, admin.ModelAdmin):
    list_display = ["advocate", "kind", "amount", "currency", "percent", "status", "needs_review"]
    list_filter = ["status", "kind", "needs_review", "program"]
    raw_id_fields = ["advocate", "referral", "code"]
