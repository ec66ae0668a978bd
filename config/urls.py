from django.contrib import admin
from django.http import HttpResponsePermanentRedirect
from django.templatetags.static import static
from django.urls import include, path
from django.utils.translation import gettext_lazy as _
from django.views.generic import RedirectView
from drf_spectacular.views import SpectacularAPIView, SpectacularRedocView, SpectacularSwaggerView

from conversions.api_impact import ImpactActionsView, ImpactConversionView
from programs.admin_settings import console_settings_view

FAVICON = "console/favicon.svg"  # also named on every console page (UNFOLD["SITE_FAVICONS"])

admin.site.site_header = _("Referral promo codes")
admin.site.site_title = _("Referral promo codes")
admin.site.index_title = _("Programs, codes and referrals")

# The console's sections in the order a program manager works through them (Django sorts them
# by name, which put the audit trail and the auth pages first and the codes last).
CONSOLE_ORDER = ["programs", "codes", "participants", "conversions", "audit", "auth"]
_apps_by_name = admin.site.get_app_list


def _apps_in_console_order(request, app_label=None):
    apps = _apps_by_name(request, app_label)
    rank = {label: place for place, label in enumerate(CONSOLE_ORDER)}
    return sorted(apps, key=lambda app: rank.get(app["app_label"], len(rank)))


admin.site.get_app_list = _apps_in_console_order

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    # Browsers ask for /favicon.ico on every page that names no icon (the API docs, errors).
    path("favicon.ico", lambda request: HttpResponsePermanentRedirect(static(FAVICON))),
    # The signed-in person's own language and time zone (the account menu links here).
    path(
        "admin/settings/",
        admin.site.admin_view(console_settings_view),
        name="console-settings",
    ),
    path("admin/", admin.site.urls),
    # The console's language switcher (unfold) posts here: Django's set_language keeps the
    # manager's choice in a cookie, which LocaleMiddleware reads before Accept-Language.
    path("i18n/", include("django.conf.urls.i18n")),
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

handler500 = "foundation.api_views.handler500"
