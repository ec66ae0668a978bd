from django.contrib import admin
from django.urls import include, path
from django.views.generic import RedirectView

admin.site.site_header = "Referral promo codes"
admin.site.site_title = "Referral promo codes"
admin.site.index_title = "Programs, codes and referrals"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
]

# The advocate's widget: its API (participant tokens) and its page.
urlpatterns += [
    path("api/v1/widget/", include("participants.widget_urls")),
    path("widget/", include("participants.widget_page")),
]
