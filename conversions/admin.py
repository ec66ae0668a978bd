from django.contrib import admin
from django.db.models import OuterRef, Subquery
from django.urls import reverse
from django.utils.html import format_html
from unfold.admin import ModelAdmin, TabularInline

from codes.admin import PromoCodeAdmin
from codes.models import PromoCode
from foundation.wording import console_time
from participants.selectors import codes_with_latest_referral
from programs.admin_scoping import ProgramScopedAdminMixin

from .models import Conversion, ConversionItem, ConversionStatus

# Links in lists and tables, coloured like the console's other links.
LINK_CLASS = "text-primary-600 dark:text-primary-500"


def participant_link(participant, text=None):
    if participant is None:
        return "—"
    return format_html(
        '<a class="{}" href="{}">{}</a>',
        LINK_CLASS,
        reverse("admin:participants_participant_change", args=[participant.pk]),
        text or participant.participant_id,
    )


def amount_text(amount, currency):
    if amount is None:
        return "—"
    return f"{amount:,.2f} {currency}".strip()


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
        "outcome",
        "advocate_shown",
        "friend_shown",
        "amount",
        "date",
        "program",
    ]
    list_filter = ["status", "program"]
    list_select_related = ["program", "advocate", "friend"]
    search_fields = ["order_id", "promo_code", "customer_id"]
    inlines = [ConversionItemInline]

    @admin.display(description="Outcome", ordering="status")
    def outcome(self, conversion):
        # A reversed order says so, with its reason; the reason it was attributed is history.
        if conversion.status == ConversionStatus.REVERSED:
            reason = conversion.reversal_reason or "no reason given"
            when = f" on {console_time(conversion.reversed_at)}" if conversion.reversed_at else ""
            return f"Reversed{when}: {reason}"
        label = conversion.get_status_display()
        reason = conversion.reason
        if not reason or reason.lower().startswith(label.lower()):
            return reason or label  # "Attributed to the advocate…" says it already
        return f"{label}: {reason}"

    @admin.display(description="Advocate", ordering="advocate__participant_id")
    def advocate_shown(self, conversion):
        return participant_link(conversion.advocate)

    @admin.display(description="Friend", ordering="friend__participant_id")
    def friend_shown(self, conversion):
        if conversion.friend is None:
            return "—"
        return participant_link(conversion.friend, conversion.friend.shown_name)

    @admin.display(description="Amount", ordering="order_subtotal")
    def amount(self, conversion):
        return amount_text(conversion.order_subtotal, conversion.currency_code)

    @admin.display(description="Date", ordering="created_at")
    def date(self, conversion):
        return console_time(conversion.event_date or conversion.created_at)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


class CodeManagerAdmin(PromoCodeAdmin):
    """The code manager with the order and the friend each code was used for, linked to the
    conversion and the referral. The conversions app adds them: codes knows nothing of orders
    or referrals (apps depend conversions → participants → codes → programs)."""

    list_display = ["code", "shown_status", "advocate", "order", "friend", "pool", "assigned"]

    def get_queryset(self, request):
        # Index probes per row shown (conversion_code, referral code_id indexes), evaluated
        # after the page's LIMIT: a multi-use code shows its latest order and friend and counts.
        conversions = Conversion.objects.filter(code=OuterRef("pk")).order_by("-created_at")
        return codes_with_latest_referral(super().get_queryset(request)).annotate(
            conversion_pk=Subquery(conversions.values("pk")[:1]),
            conversion_order=Subquery(conversions.values("order_id")[:1]),
            conversion_status=Subquery(conversions.values("status")[:1]),
        )

    @admin.display(description="Order")
    def order(self, code):
        if code.conversion_pk is None:
            return code.redeemed_order_id or "—"
        if code.redemption_count > 1:
            return format_html(
                '<a class="{}" href="{}?code__id__exact={}">{} orders</a>',
                LINK_CLASS,
                reverse("admin:conversions_conversion_changelist"),
                code.pk,
                code.redemption_count,
            )
        reversed_note = " (reversed)" if code.conversion_status == ConversionStatus.REVERSED else ""
        return format_html(
            '<a class="{}" href="{}">{}</a>{}',
            LINK_CLASS,
            reverse("admin:conversions_conversion_change", args=[code.conversion_pk]),
            code.conversion_order,
            reversed_note,
        )

    @admin.display(description="Friend")
    def friend(self, code):
        if code.referral_pk is None:
            return "—"
        if (code.referrals_count or 0) > 1:
            return format_html(
                '<a class="{}" href="{}?code__id__exact={}">{} friends</a>',
                LINK_CLASS,
                reverse("admin:participants_referral_changelist"),
                code.pk,
                code.referrals_count,
            )
        return format_html(
            '<a class="{}" href="{}">{}</a>',
            LINK_CLASS,
            reverse("admin:participants_referral_change", args=[code.referral_pk]),
            code.referral_friend,
        )


admin.site.unregister(PromoCode)
admin.site.register(PromoCode, CodeManagerAdmin)
