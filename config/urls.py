from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from conversions.api_impact import ImpactActionsView, ImpactConversionView

admin.site.site_header = "Referral promo codes"
admin.site.site_title = "Referral promo codes"
admin.site.index_title = "Programs, codes and referrals"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
    path("api/v1/", include("config.api_urls")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("api/docs/", SpectacularSwaggerView.as_view(url_name="api-schema"), name="api-docs"),
    path("api/redoc/", SpectacularRedocView.as_view(url_name="api-schema"), name="api-redoc"),
]

# The advocate's widget: its API (participant tokens) and its page.
urlpatterns += [
    path("api/v1/widget/", include("participants.widget.urls")),
    path("widget/", include("participants.widget.page")),
]

# impact.com-compatible paths (exactly impact's, no trailing slash): a brand's existing impact
# integration changes only its host and credentials.
urlpatterns += [
    path(
        "Advertisers/<slug:program>/Conversions",
        ImpactConversionView.as_view(),
        name="impact-conversions",
    ),
    path("Advertisers/<slug:program>/Actions", ImpactActionsView.as_view(), name="impact-actions"),
]

handler500 = "config.api_views.handler500"
