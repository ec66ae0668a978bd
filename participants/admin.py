from django.contrib import admin

from codes.models import PromoCode
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
