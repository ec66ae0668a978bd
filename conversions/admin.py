from django.contrib import admin
from unfold.admin import ModelAdmin, TabularInline

from programs.admin_scoping import ProgramScopedAdminMixin

from .models import Conversion, ConversionItem


class ConversionItemInline(ProgramScopedAdminMixin, TabularInline):
    """The order's lines as sent (ItemSku{n}, …), read-only: they are the shop's record."""

    model = ConversionItem
    fields = ["position", "sku", "name", "category", "quantity", "price", "subtotal"]
    readonly_fields = fields
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Conversion)
class ConversionAdmin(ProgramScopedAdminMixin, ModelAdmin):
    list_display = [
        "order_id",
        "program",
        "status",
        "reason",
        "promo_code",
        "order_subtotal",
        "currency_code",
        "created_at",
    ]
    list_filter = ["status", "program"]
    search_fields = ["order_id", "promo_code", "customer_id"]
    inlines = [ConversionItemInline]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
