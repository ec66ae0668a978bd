"""One admin class per model: the conversions app adds its order and friend columns to the codes
app's code manager through its hook, never by registering another admin for PromoCode."""

from django.contrib import admin
from django.test import RequestFactory

from codes.admin import PromoCodeAdmin
from codes.models import PromoCode


def test_the_code_manager_is_the_codes_apps_admin_with_the_order_and_friend_columns(
    django_user_model, db
):
    registered = admin.site._registry[PromoCode]
    assert type(registered) is PromoCodeAdmin
    request = RequestFactory().get("/admin/codes/promocode/")
    request.user = django_user_model.objects.create_superuser("root", "r@x.com", "pw")
    columns = [
        getattr(column, "short_description", column)
        for column in registered.get_list_display(request)
    ]
    assert columns[:4] == ["code", "code_type", "shown_status", "advocate"]
    assert columns[4:6] == ["Order", "Friend"]
    assert columns[-2:] == ["pool", "assigned"]
