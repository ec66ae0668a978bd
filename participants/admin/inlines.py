"""The participant page's tables: codes and links, referrals, rewards, and the links in them."""

from django.contrib import admin
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from unfold.admin import TabularInline

from codes.models import PromoCode
from foundation.admin_links import admin_link
from foundation.wording import console_time
from programs.admin_scoping import ProgramScopedAdminMixin
from programs.models import RewardKind

from ..models import Referral, Reward
from ..selectors import codes_with_latest_referral


def _participant_link(participant_pk, text):
    url = reverse("admin:participants_participant_change", args=[participant_pk])
    return admin_link(url, text)


def _order_link(program_id, order_id):
    """The order's conversion, found by its id (the conversions app is not imported here)."""
    if not order_id:
        return "—"
    query = urlencode({"order_id": order_id, "program__id__exact": program_id})
    url = reverse("admin:conversions_conversion_changelist")
    return admin_link(f"{url}?{query}", order_id)


def _when(value):
    return console_time(value)


class ReadOnlyTabularInline(ProgramScopedAdminMixin, TabularInline):
    """A read-only table on the participant's page: one row per object, no label above it."""

    extra = 0
    can_delete = False
    hide_title = True
    show_count = True
    per_page = 20

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class CodesAndLinksInline(ReadOnlyTabularInline):
    model = PromoCode
    fk_name = "holder"
    verbose_name = _("code")
    verbose_name_plural = _("Codes and links")
    fields = ["code", "usage", "shown_status", "assigned", "first_copied", "order", "friend"]
    readonly_fields = fields
    ordering = ["assigned_at", "id"]

    def get_queryset(self, request):
        return codes_with_latest_referral(super().get_queryset(request).select_related("pool"))

    @admin.display(description=_("Status"))
    def shown_status(self, code):
        return code.shown_status

    @admin.display(description=_("Assigned"))
    def assigned(self, code):
        return _when(code.assigned_at)

    @admin.display(description=_("First copied"))
    def first_copied(self, code):
        return _when(code.first_copied_at)

    @admin.display(description=_("Order"))
    def order(self, code):
        if (code.referrals_count or 0) > 1:
            if not code.redemption_count:
                return "—"
            return ngettext("%(count)s order", "%(count)s orders", code.redemption_count) % {
                "count": f"{code.redemption_count:,}"
            }
        return _order_link(code.program_id, code.referral_order or code.redeemed_order_id)

    @admin.display(description=_("Friend"))
    def friend(self, code):
        if (code.referrals_count or 0) > 1:
            url = reverse("admin:participants_referral_changelist")
            return admin_link(
                f"{url}?code__id__exact={code.pk}",
                ngettext("%(count)s friend", "%(count)s friends", code.referrals_count)
                % {"count": f"{code.referrals_count:,}"},
            )
        if code.referral_friend_pk is None:
            return "—"
        return _participant_link(code.referral_friend_pk, code.referral_friend)


class ReferralsInline(ReadOnlyTabularInline):
    model = Referral
    fk_name = "advocate"
    verbose_name = _("referral")
    verbose_name_plural = _("Referrals (friends this advocate referred)")
    fields = ["friend_shown", "code_shown", "status", "order", "created"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("friend", "code")

    @admin.display(description=_("Friend"))
    def friend_shown(self, referral):
        return _participant_link(referral.friend_id, referral.friend.shown_name)

    @admin.display(description=_("Code"))
    def code_shown(self, referral):
        return referral.code.code if referral.code_id else "—"

    @admin.display(description=_("Order"))
    def order(self, referral):
        return _order_link(referral.program_id, referral.order_id)

    @admin.display(description=_("Referred"))
    def created(self, referral):
        return _when(referral.created_at)


class RewardsInline(ReadOnlyTabularInline):
    model = Reward
    fk_name = "advocate"
    verbose_name = _("reward")
    verbose_name_plural = _("Rewards")
    fields = ["reward_link", "what", "status", "friend", "order", "created"]
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).select_related("referral__friend", "code")

    @admin.display(description=_("Reward"))
    def reward_link(self, reward):
        url = reverse("admin:participants_reward_change", args=[reward.pk])
        return admin_link(url, f"#{reward.pk}")

    @admin.display(description=_("What"))
    def what(self, reward):
        return reward_what(reward)

    @admin.display(description=_("Friend"))
    def friend(self, reward):
        friend = reward.referral.friend
        return _participant_link(friend.pk, friend.shown_name)

    @admin.display(description=_("Order"))
    def order(self, reward):
        return _order_link(reward.program_id, reward.referral.order_id)

    @admin.display(description=_("Earned"))
    def created(self, reward):
        return _when(reward.created_at)


def reward_what(reward):
    """What a reward gives, as one phrase: "10.00 EUR", "15% off" or "code THANKS1"."""
    if reward.kind == RewardKind.CREDIT and reward.amount is not None:
        return f"{reward.amount:,.2f} {reward.currency}"
    if reward.kind == RewardKind.PERCENT and reward.percent is not None:
        return f"{reward.percent.normalize():f}% off"
    if reward.code_id:
        hidden = " (reserved)" if reward.code.revealed_at is None else ""
        return f"code {reward.code.code}{hidden}"
    return reward.get_kind_display()
