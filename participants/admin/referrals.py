"""The referrals admin."""

from django.contrib import admin
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin

from programs.admin_scoping import ProgramScopedAdminMixin

from ..models import Referral


@admin.register(Referral)
class ReferralAdmin(ProgramScopedAdminMixin, ModelAdmin):
    list_display = ["friend_shown", "advocate", "code", "status", "order_id", "created_at"]
    list_filter = ["status", "program"]
    list_select_related = ["friend", "advocate", "code"]
    search_fields = ["friend__participant_id", "advocate__participant_id", "order_id"]
    raw_id_fields = ["advocate", "friend", "code"]

    @admin.display(description=_("Friend"), ordering="friend__participant_id")
    def friend_shown(self, referral):
        return referral.friend.shown_name

    def has_change_permission(self, request, obj=None):
        # Referrals change through conversions and reversals (their services), not by hand.
        return False

    def has_add_permission(self, request):
        return False
