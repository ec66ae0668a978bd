"""The review queue: its address, the dashboard's held-referrals figures, the reason form."""

from django import forms
from django.db.models import Count
from django.urls import reverse
from django.utils.http import urlencode
from django.utils.translation import gettext_lazy as _
from unfold.widgets import UnfoldAdminTextInputWidget

from codes.dashboard import DashboardFigure, dashboard_add_figures

from ..models import Reward, RewardStatus


def review_queue_url(program_id=None) -> str:
    """The review queue: the rewards the review holds, of one program or of all one manages."""
    query = {"status__exact": RewardStatus.PENDING_REVIEW}
    if program_id is not None:
        query["program__id__exact"] = program_id
    return reverse("admin:participants_reward_changelist") + "?" + urlencode(query)


def _held_referrals_figures(request, program_ids):
    """The dashboard's count of referrals waiting for review, per program shown."""
    if not request.user.has_perm("participants.view_reward"):
        return {}
    held = dict(
        Reward.objects.filter(program_id__in=program_ids, status=RewardStatus.PENDING_REVIEW)
        .values("program_id")
        .annotate(n=Count("id"))
        .order_by()
        .values_list("program_id", "n")
    )
    return {
        pk: [
            DashboardFigure(
                key="held_referrals",
                label=_("Referrals waiting for review"),
                count=held.get(pk, 0),
                url=review_queue_url(pk),
                attention=bool(held.get(pk)),
            )
        ]
        for pk in program_ids
    }


dashboard_add_figures(_held_referrals_figures)


class ReviewReasonForm(forms.Form):
    reason = forms.CharField(
        max_length=2000,
        label=_("Why"),
        help_text=_("Kept in the audit trail with each decision."),
        widget=UnfoldAdminTextInputWidget(),
    )
