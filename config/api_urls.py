"""Server API routes under /api/v1/ (paths exactly as documented in the README, no trailing
slash)."""

from django.urls import path

from codes.api import CodeView, StockView
from conversions.api import ReversalView
from conversions.api_lists import ConversionsView
from participants.api import (
    ParticipantView,
    ReferralApproveView,
    ReferralDenyView,
    ReferralsView,
    RewardPaidView,
    RewardsView,
)
from webhooks.api import EndpointSecretView, EndpointsView, EndpointTestView, EndpointView

urlpatterns = [
    path(
        "programs/<slug:program>/participants/<str:participant_id>",
        ParticipantView.as_view(),
        name="api-participant",
    ),
    path("programs/<slug:program>/codes/<str:code>", CodeView.as_view(), name="api-code"),
    path("programs/<slug:program>/stock", StockView.as_view(), name="api-stock"),
    # The read API: cursor-paginated lists, and marking a reward paid.
    path("programs/<slug:program>/rewards", RewardsView.as_view(), name="api-rewards"),
    path(
        "programs/<slug:program>/rewards/<int:reward_id>/paid",
        RewardPaidView.as_view(),
        name="api-reward-paid",
    ),
    path("programs/<slug:program>/referrals", ReferralsView.as_view(), name="api-referrals"),
    path(
        "programs/<slug:program>/referrals/<int:referral_id>/approve",
        ReferralApproveView.as_view(),
        name="api-referral-approve",
    ),
    path(
        "programs/<slug:program>/referrals/<int:referral_id>/deny",
        ReferralDenyView.as_view(),
        name="api-referral-deny",
    ),
    path("programs/<slug:program>/conversions", ConversionsView.as_view(), name="api-conversions"),
    path(
        "programs/<slug:program>/conversions/<path:order_id>/reversal",
        ReversalView.as_view(),
        name="api-reversal",
    ),
    # Webhook endpoints (docs/webhooks.md).
    path("programs/<slug:program>/webhooks", EndpointsView.as_view(), name="api-webhooks"),
    path(
        "programs/<slug:program>/webhooks/<int:endpoint_id>",
        EndpointView.as_view(),
        name="api-webhook",
    ),
    path(
        "programs/<slug:program>/webhooks/<int:endpoint_id>/secret",
        EndpointSecretView.as_view(),
        name="api-webhook-secret",
    ),
    path(
        "programs/<slug:program>/webhooks/<int:endpoint_id>/test",
        EndpointTestView.as_view(),
        name="api-webhook-test",
    ),
]
