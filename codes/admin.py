from django.contrib import admin

from programs.admin_scoping import ProgramScopedAdminMixin

from .models import Batch, Pool, PromoCode, StockAlert


@admin.register(Pool)
class PoolAdmin(ProgramScopedAdminMixin, admin.ModelAdmin):
    list_display = ["name", "program", "kind", "low_stock_threshold", "created_at"]
    list_filter = ["kind", "program"]
    readonly_fields = ["low_alert_armed", "empty_alert_armed", "created_at"]


@admin.register(Batch)
class BatchAdmin(ProgramScopedAdminMixin, admin.ModelAdmin):
    program_path = "pool__program"
    list_display = [
        "id",
        "file_name",
        "pool",
        "source",
        "usage",
        "status",
        "rows_read",
        "codes_added",
        "duplicates_in_file",
        "already_in_program",
        "invalid_rows",
        "created_at",
    ]
    list_filter = ["status", "source", "usage", "pool__program"]
    list_select_related = ["pool__program"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(PromoCode)
class PromoCodeAdmin(ProgramScopedAdminMixin, admin.ModelAdmin):
    list_display = [
        "code",
        "usage",
        "status",
        "pool",
        "batch",
        "holder",
        "assigned_at",
        "first_copied_at",
        "redeemed_at",
        "redemption_count",
    ]
    list_filter = ["usage", "status", "source", "pool", "batch"]
    list_select_related = ["pool__program", "batch", "holder"]
    search_fields = ["=code"]
    show_full_result_count = False
    raw_id_fields = ["holder", "redeemed_by", "batch"]

    def get_search_results(self, request, queryset, search_term):
        # Codes are stored upper-case: an exact match on the canonical form uses the index.
        return super().get_search_results(request, queryset, search_term.strip().upper())

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(StockAlert)
class StockAlertAdmin(ProgramScopedAdminMixin, admin.ModelAdmin):
    program_path = "pool__program"
    list_display = [
        "created_at",
        "pool",
        "kind",
        "available",
        "threshold",
        "used_last_7_days",
        "days_left",
        "recipients",
        "sent_at",
    ]
    list_filter = ["kind", "pool__program"]
    list_select_related = ["pool__program"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False
