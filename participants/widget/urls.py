"""Widget API routes, included at api/v1/widget/. Paths have no trailing slash
(docs/architecture.md)."""

from django.urls import path

from .api import WidgetCodeCopyView, WidgetMeView

app_name = "widget_api"

urlpatterns = [
    path("me", WidgetMeView.as_view(), name="me"),
    path("codes/<str:code>/copy", WidgetCodeCopyView.as_view(), name="code-copy"),
]
