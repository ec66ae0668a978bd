from django.contrib import admin

from programs.admin_scoping import ProgramScopedAdminMixin

from .models import Conversion


@admin.register(Conversion)
class ConversionAdmin(ProgramScopedAdminMixin, admin.ModelAdmin):
    list_display = ["order_id", "program", "status", "reason", "promo_code", "created_at"]
    list_filter = ["status", "program"]
    search_fields = ["order_id", "promo_code", "customer_id"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
