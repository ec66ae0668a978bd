"""Server API routes under /api/v1/ (paths exactly as documented in the README, no trailing
slash)."""

from django.urls import path

from codes.api import CodeView, StockView
from conversions.api import ConversionView, ReversalView
from participants.api import ParticipantView

urlpatterns = [
    path(
        "programs/<slug:program>/participants/<str:participant_id>",
        ParticipantView.as_view(),
        name="api-participant",
    ),
    path("programs/<slug:program>/codes/<str:code>", CodeView.as_view(), name="api-code"),
    path("programs/<slug:program>/stock", StockView.as_view(), name="api-stock"),
    path("programs/<slug:program>/conversions", ConversionView.as_view(), name="api-conversions"),
    path(
        "programs/<slug:program>/conversions/<path:order_id>/reversal",
        ReversalView.as_view(),
        name="api-reversal",
    ),
]
