"""The rewards admin (incl. the review queue's decisions) and the hook other apps use to add
columns to it.
"""

from collections.abc import Callable
from dataclasses import dataclass

from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpResponseRedirect
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from unfold.admin import ModelAdmin
from unfold.decorators import action
from unfold.enums import ActionVariant

from audit.admin import AuditTrailAdminMixin
from foundation.wording import console_time
from programs.admin_confirm import action_confirmation, action_confirmed
from programs.admin_scoping import ProgramScopedAdminMixin

from ..models import Reward, RewardStatus
from ..selectors import advocate_histories
from ..services import (
    RewardMoveRefused,
    reward_cancel,
    reward_review_decide,
    rewards_mark_paid,
)
from .inlines import _order_link, _participant_link, reward_what
from .review_queue import ReviewReasonForm, review_queue_url


@dataclass(frozen=True)
class RewardColumns:
    """What a higher app adds to the rewards list, the review queue (participants knows
    nothing of orders; apps depend conversions → participants): `columns`, display callables
    taking a reward, shown after its status; `details`, shown on a reward's page;
    `annotate`, what they need, added to the list's queryset (evaluated after the LIMIT)."""

    columns: tuple
    details: tuple
    annotate: Callable[[QuerySet], QuerySet]


_REWARD_COLUMNS: list[RewardColumns] = []


def reward_admin_add_columns(extension: RewardColumns) -> None:
    """The hook: the one rewards list (RewardAdmin) shows these columns and details too."""
    if extension not in _REWARD_COLUMNS:
        _REWARD_COLUMNS.append(extension)


@admin.register(Reward)
class RewardAdmin(AuditTrailAdminMixin, ProgramScopedAdminMixin, ModelAdmin):
    list_display = [
        "reward_shown",
        "advocate_shown",
        "friend",
        "order",
        "amount_shown",
        "shown_status",
        "date",
        "program",
    ]
    list_filter = ["status", "kind", "needs_review", "program"]
    list_select_related = ["program", "advocate", "code", "referral__friend"]
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
        "reason_code",
        "needs_review",
        "available_at",
        "paid_at",
        "cancelled_at",
        "created_at",
    ]
    actions = ["mark_paid", "cancel_rewards", "approve_held", "deny_held"]
    actions_row = ["mark_paid_from_list"]
    actions_detail = ["mark_paid_here", "approve_this", "deny_this"]

    @admin.display(description=_("Reward"), ordering="pk")
    def reward_shown(self, reward):
        return f"#{reward.pk}"

    @admin.display(description=_("Advocate"), ordering="advocate__participant_id")
    def advocate_shown(self, reward):
        link = _participant_link(reward.advocate_id, reward.advocate.participant_id)
        history = getattr(reward, "advocate_history", None)
        if history is None:
            return link
        return format_html(
            '<div>{}<div class="text-xs text-base-500 advocate-history">{}</div></div>',
            link,
            " · ".join(history.words()),
        )

    @admin.display(description=_("Advocate's history"))
    def advocate_history_shown(self, reward):
        history = advocate_histories(advocate_ids=[reward.advocate_id])[reward.advocate_id]
        return format_html_join(
            "", '<div class="advocate-history">{}</div>', ((w,) for w in history.words())
        )

    def get_changelist_instance(self, request):
        # Each advocate's history under their name: one set of grouped queries for the page.
        changelist = super().get_changelist_instance(request)
        rewards = list(changelist.result_list)
        histories = advocate_histories(advocate_ids=[r.advocate_id for r in rewards])
        for reward in rewards:
            reward.advocate_history = histories.get(reward.advocate_id)
        return changelist

    def get_list_display(self, request):
        shown = list(super().get_list_display(request))
        at = shown.index("shown_status") + 1
        for extension in _REWARD_COLUMNS:
            shown[at:at] = extension.columns
            at += len(extension.columns)
        return shown

    def get_queryset(self, request):
        rewards = super().get_queryset(request)
        for extension in _REWARD_COLUMNS:
            rewards = extension.annotate(rewards)
        return rewards

    def _details(self):
        details = [field for extension in _REWARD_COLUMNS for field in extension.details]
        return [*details, "advocate_history_shown"]

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), *self._details()]

    def get_fields(self, request, obj=None):
        # What a manager decides a held reward on comes right after its status.
        details = self._details()
        fields = [f for f in super().get_fields(request, obj) if f not in details]
        at = fields.index("status") + 1 if "status" in fields else len(fields)
        return [*fields[:at], *details, *fields[at:]]

    @admin.display(description=_("Friend"), ordering="referral__friend__participant_id")
    def friend(self, reward):
        friend = reward.referral.friend
        return _participant_link(friend.pk, friend.shown_name)

    @admin.display(description=_("Order"), ordering="referral__order_id")
    def order(self, reward):
        return _order_link(reward.program_id, reward.referral.order_id)

    @admin.display(description=_("Amount"))
    def amount_shown(self, reward):
        return reward_what(reward)

    @admin.display(description=_("Status"), ordering="status")
    def shown_status(self, reward):
        label = reward.get_status_display()
        if reward.needs_review:
            return _("%(status)s · needs review") % {"status": label}
        return label

    @admin.display(description=_("Date"), ordering="created_at")
    def date(self, reward):
        return console_time(reward.created_at)

    @admin.display(description=_("Code"))
    def reward_code(self, reward):
        if reward.code_id is None:
            return "—"
        if reward.code.revealed_at is None:
            return _("%(code)s (reserved)") % {"code": reward.code.code}
        return reward.code.code

    @action(description=_("Mark paid"), url_path="mark-paid", icon="paid", permissions=["pay"])
    def mark_paid_from_list(self, request, object_id):
        return self._mark_one_paid(
            request, object_id, back=reverse("admin:participants_reward_changelist")
        )

    @action(
        description=_("Mark paid"),
        url_path="mark-paid-here",
        icon="paid",
        variant=ActionVariant.PRIMARY,
        permissions=["pay"],
    )
    def mark_paid_here(self, request, object_id):
        back = reverse("admin:participants_reward_change", args=[unquote(object_id)])
        return self._mark_one_paid(request, object_id, back=back)

    def _mark_one_paid(self, request, object_id, *, back):
        """Mark one reward paid after a confirmation page; a reward that cannot be paid
        (only available ones can) is refused with the reason, before any page."""
        reward = self.get_object(request, unquote(object_id))
        if reward is None:  # unknown, or in a program this manager does not manage
            raise PermissionDenied
        if reward.status != RewardStatus.AVAILABLE:
            self.message_user(
                request,
                _("Reward #%(id)s is %(status)s: only an available reward can be marked paid.")
                % {"id": reward.pk, "status": reward.get_status_display().lower()},
                messages.WARNING,
            )
            return HttpResponseRedirect(back)
        rewards = Reward.objects.filter(pk=reward.pk)
        if request.method != "POST" or not action_confirmed(request):
            return action_confirmation(
                self,
                request,
                rewards,
                action="mark_paid",
                title=_("Mark reward #%(id)s paid") % {"id": reward.pk},
                facts=[
                    _("%(reward)s for %(advocate)s (who referred %(friend)s) will be marked paid.")
                    % {
                        "reward": reward_what(reward),
                        "advocate": reward.advocate,
                        "friend": reward.referral.friend.shown_name,
                    },
                    _(
                        "A paid reward cannot be cancelled; if its order is reversed later, it is "
                        "flagged for review."
                    ),
                ],
                submit=_("Mark paid"),
            )
        result = rewards_mark_paid(rewards=rewards)
        if result.paid:
            self.message_user(
                request, _("Reward #%(id)s marked paid.") % {"id": reward.pk}, messages.SUCCESS
            )
        else:
            self.message_user(request, " ".join(result.refused), messages.WARNING)
        return HttpResponseRedirect(back)

    def has_decide_permission(self, request, object_id=None):
        """Approve and deny are offered on a reward's page while the review holds it."""
        if not self.has_change_permission(request):
            return False
        if object_id is None:
            return True
        reward = self.get_object(request, unquote(str(object_id)))
        return reward is not None and reward.status == RewardStatus.PENDING_REVIEW

    @action(
        description=_("Approve…"),
        url_path="approve",
        icon="check",
        variant=ActionVariant.PRIMARY,
        permissions=["decide"],
    )
    def approve_this(self, request, object_id):
        return self._decide_one(request, object_id, approve=True)

    @action(description=_("Deny…"), url_path="deny", icon="block", permissions=["decide"])
    def deny_this(self, request, object_id):
        return self._decide_one(request, object_id, approve=False)

    def _decide_one(self, request, object_id, *, approve):
        """The held referral's page decides on it after the same confirmation as the list's
        (a reason kept in the audit trail), then goes back to the review queue."""
        if not self.has_change_permission(request):
            raise PermissionDenied
        reward = self.get_object(request, unquote(object_id))
        if reward is None:  # unknown, or in a program this manager does not manage
            raise PermissionDenied
        rewards = Reward.objects.filter(pk=reward.pk)
        response = self._review_decision(request, rewards, approve=approve)
        return response or HttpResponseRedirect(review_queue_url(reward.program_id))

    def has_pay_permission(self, request, object_id=None):
        """ "Mark paid" is offered where it can work: to those who may change rewards, and on a
        reward's page only while the reward is available (a paid, cancelled or pending one
        would be refused)."""
        if not self.has_change_permission(request):
            return False
        if object_id is None:
            return True
        reward = self.get_object(request, unquote(str(object_id)))
        return reward is not None and reward.status == RewardStatus.AVAILABLE

    def change_view(self, request, object_id, form_url="", extra_context=None):
        # Every field of a reward is read-only (its actions change it): no Save buttons.
        extra_context = {
            **(extra_context or {}),
            "show_save": False,
            "show_save_and_continue": False,
            "show_save_and_add_another": False,
            "show_save_as_new": False,
        }
        return super().change_view(request, object_id, form_url, extra_context)

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False

    @admin.action(description=_("Mark the selected rewards paid"), permissions=["change"])
    def mark_paid(self, request, queryset):
        result = rewards_mark_paid(rewards=queryset)
        if result.paid:
            self.message_user(
                request,
                ngettext(
                    "Marked %(count)s reward paid.", "Marked %(count)s rewards paid.", result.paid
                )
                % {"count": f"{result.paid:,}"},
                messages.SUCCESS,
            )
        if result.refused:
            shown = " ".join(result.refused[:5])
            more = ""
            if len(result.refused) > 5:
                more = " " + _("(and %(count)s more)") % {"count": len(result.refused) - 5}
            self.message_user(
                request,
                ngettext(
                    "%(count)s reward not marked paid: only available rewards can be.",
                    "%(count)s rewards not marked paid: only available rewards can be.",
                    len(result.refused),
                )
                % {"count": f"{len(result.refused):,}"}
                + f" {shown}{more}",
                messages.WARNING,
            )

    @admin.action(description=_("Approve the selected held rewards…"), permissions=["change"])
    def approve_held(self, request, queryset):
        return self._review_decision(request, queryset, approve=True)

    @admin.action(description=_("Deny the selected held rewards…"), permissions=["change"])
    def deny_held(self, request, queryset):
        return self._review_decision(request, queryset, approve=False)

    def _review_decision(self, request, queryset, *, approve):
        """Approve or deny, with a reason kept in the audit trail, the rewards the program's
        review holds (status pending review); any other selected reward is left as it is."""
        form = ReviewReasonForm(request.POST if action_confirmed(request) else None)
        held = queryset.filter(status=RewardStatus.PENDING_REVIEW)
        if action_confirmed(request) and form.is_valid():
            decided = 0
            for reward in held.order_by("pk"):
                reward_review_decide(
                    reward=reward, approve=approve, reason=form.cleaned_data["reason"]
                )
                decided += 1
            if approve:
                done = ngettext(
                    "Approved %(n)s held reward.", "Approved %(n)s held rewards.", decided
                )
            else:
                done = ngettext("Denied %(n)s held reward.", "Denied %(n)s held rewards.", decided)
            self.message_user(request, done % {"n": f"{decided:,}"}, messages.SUCCESS)
            return None
        count = held.count()
        others = queryset.count() - count
        if approve:
            will = ngettext(
                "%(n)s held reward will be approved: it enters the program's review period (or "
                "is available at once without one).",
                "%(n)s held rewards will be approved: each enters the program's review period "
                "(or is available at once without one).",
                count,
            )
        else:
            will = ngettext(
                "%(n)s held reward will be denied: it is cancelled. The referral and the "
                "redeemed code stay.",
                "%(n)s held rewards will be denied: each is cancelled. The referral and the "
                "redeemed code stay.",
                count,
            )
        facts = [will % {"n": f"{count:,}"}]
        if others:
            facts.append(
                ngettext(
                    "%(n)s other reward is not held for review: left as is.",
                    "%(n)s other rewards are not held for review: left as is.",
                    others,
                )
                % {"n": f"{others:,}"}
            )
        return action_confirmation(
            self,
            request,
            queryset,
            action="approve_held" if approve else "deny_held",
            title=_("Approve held rewards") if approve else _("Deny held rewards"),
            facts=facts,
            submit=_("Approve") if approve else _("Deny"),
            form=form,
        )

    @admin.action(description=_("Cancel the selected rewards…"), permissions=["change"])
    def cancel_rewards(self, request, queryset):
        if not action_confirmed(request):
            count = queryset.count()
            facts = [
                ngettext(
                    "%(count)s reward will be cancelled. A fuel-tank code not yet shown to its "
                    "advocate goes back to the tank; one already shown is flagged for review.",
                    "%(count)s rewards will be cancelled. A fuel-tank code not yet shown to its "
                    "advocate goes back to the tank; one already shown is flagged for review.",
                    count,
                )
                % {"count": f"{count:,}"},
                _("Paid rewards cannot be cancelled and are left as they are."),
            ]
            return action_confirmation(
                self,
                request,
                queryset,
                action="cancel_rewards",
                title=_("Cancel rewards"),
                facts=facts,
                warning=_("A cancelled reward can never be made available again."),
                submit=_("Cancel these rewards"),
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
        self.message_user(
            request,
            ngettext("Cancelled %(count)s reward.", "Cancelled %(count)s rewards.", cancelled)
            % {"count": f"{cancelled:,}"},
            messages.SUCCESS,
        )
        if refused:
            self.message_user(request, " ".join(refused[:5]), messages.WARNING)
