from django.contrib import admin
from django.urls import path
from django.views.generic import RedirectView

admin.site.site_header = "Referral promo codes"
admin.site.site_title = "Referral promo codes"
admin.site.index_title = "Programs, codes and referrals"

urlpatterns = [
    path("", RedirectView.as_view(url="/admin/", permanent=False)),
    path("admin/", admin.site.urls),
]
