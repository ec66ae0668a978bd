from django.contrib import admin
from django.db.models import OuterRef, Subquery
from django.urls import reverse
from django.utils.html import format_html, format_html_join
from django.utils.translation import get_language, ngettext
from django.utils.translation import gettext_lazy as _
from unfold.admin import ModelAdmin, TabularInline

from codes.admin import CodeManagerColumns, code_manager_add_columns
from foundation.admin_links import admin_link
from foundation.wording import console_time
from participants.admin import RewardColumns, reward_admin_add_columns
from participants.selectors import codes_with_latest_referral
from programs.admin_scoping import ProgramScopedAdminMixin

from .models import Conversion, ConversionItem, ConversionStatus
from .review import CHECKS_BY_CODE


def participant_link(participant, text=None):
    if participant is None:
        return "—"
    return admin_link(
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


def reason_shown(conversion):
    """The outcome's reason: the sentence stored with the order (English, as the API answered
    it), or for a reader of another language the label of its reason code."""
    if conversion.reason_code and not (get_language() or "en").startswith("en"):
        return conversion.get_reason_code_display()
    return conversion.reason


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

    def get_fields(self, request, obj=None):
        return [
            "reason_shown" if name == "reason" else name
            for name in super().get_fields(request, obj)
        ]

    def get_readonly_fields(self, request, obj=None):
        return [*super().get_readonly_fields(request, obj), "reason_shown"]

    @admin.display(description=_("reason"))
    def reason_shown(self, conversion):
        return reason_shown(conversion)

    @admin.display(description=_("Outcome"), ordering="status")
    def outcome(self, conversion):
        # A reversed order says so, with its reason; the reason it was attributed is history.
        if conversion.status == ConversionStatus.REVERSED:
            reason = conversion.reversal_reason or _("no reason given")
            if conversion.reversed_at:
                return _("Reversed on %(when)s: %(reason)s") % {
                    "when": console_time(conversion.reversed_at),
                    "reason": reason,
                }
            return _("Reversed: %(reason)s") % {"reason": reason}
        label = conversion.get_status_display()
        reason = reason_shown(conversion)
        if not reason or reason.lower().startswith(label.lower()):
            return reason or label  # "Attributed to the advocate…" says it already
        return _("%(outcome)s: %(reason)s") % {"outcome": label, "reason": reason}

    @admin.display(description=_("Advocate"), ordering="advocate__participant_id")
    def advocate_shown(self, conversion):
        return participant_link(conversion.advocate)

    @admin.display(description=_("Friend"), ordering="friend__participant_id")
    def friend_shown(self, conversion):
        if conversion.friend is None:
            return "—"
        return participant_link(conversion.friend, conversion.friend.shown_name)

    @admin.display(description=_("Amount"), ordering="order_subtotal")
    def amount(self, conversion):
        return amount_text(conversion.order_subtotal, conversion.currency_code)

    @admin.display(description=_("Date"), ordering="created_at")
    def date(self, conversion):
        return console_time(conversion.event_date or conversion.created_at)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False


# The code manager with the order and the friend each code was used for, linked to the conversion
# and the referral: columns this app adds to the codes app's one code manager through its hook
# (codes knows nothing of orders or referrals; apps depend conversions → participants → codes).


def _with_orders_and_referrals(codes):
    # Index probes per row shown (conversion_code, referral code_id indexes), evaluated after
    # the page's LIMIT: a multi-use code shows its latest order and friend and counts.
    conversions = Conversion.objects.filter(code=OuterRef("pk")).order_by("-created_at")
    return codes_with_latest_referral(codes).annotate(
        conversion_pk=Subquery(conversions.values("pk")[:1]),
        conversion_order=Subquery(conversions.values("order_id")[:1]),
        conversion_status=Subquery(conversions.values("status")[:1]),
    )


@admin.display(description=_("Order"))
def code_order(code):
    if code.conversion_pk is None:
        return code.redeemed_order_id or "—"
    if code.redemption_count > 1:
        url = reverse("admin:conversions_conversion_changelist")
        return admin_link(
            f"{url}?code__id__exact={code.pk}",
            ngettext("%(count)s order", "%(count)s orders", code.redemption_count)
            % {"count": f"{code.redemption_count:,}"},
        )
    reversed_note = ""
    if code.conversion_status == ConversionStatus.REVERSED:
        reversed_note = " " + _("(reversed)")
    link = admin_link(
        reverse("admin:conversions_conversion_change", args=[code.conversion_pk]),
        code.conversion_order,
    )
    return format_html("{}{}", link, reversed_note)


@admin.display(description=_("Friend"))
def code_friend(code):
    if code.referral_pk is None:
        return "—"
    if (code.referrals_count or 0) > 1:
        url = reverse("admin:participants_referral_changelist")
        return admin_link(
            f"{url}?code__id__exact={code.pk}",
            ngettext("%(count)s friend", "%(count)s friends", code.referrals_count)
            % {"count": f"{code.referrals_count:,}"},
        )
    return admin_link(
        reverse("admin:participants_referral_change", args=[code.referral_pk]),
        code.referral_friend,
    )


code_manager_add_columns(
    CodeManagerColumns(columns=(code_order, code_friend), annotate=_with_orders_and_referrals)
)


# The review queue (the rewards list, held ones) with each referral's score and the checks that
# applied, in words: columns this app adds to the participants app's one rewards list through
# its hook (participants knows nothing of orders).


def _with_review(rewards):
    # The order that granted the reward: one probe of the reward key's index per row shown,
    # after the page's LIMIT.
    conversions = Conversion.objects.filter(reward=OuterRef("pk")).order_by("created_at")
    return rewards.annotate(
        review_score=Subquery(conversions.values("review_score")[:1]),
        review_reasons=Subquery(conversions.values("review_reasons")[:1]),
    )


def _checks(reward):
    codes = (reward.review_reasons or "").split(",")
    return [CHECKS_BY_CODE[code] for code in codes if code in CHECKS_BY_CODE]


@admin.display(description=_("Review"))
def reward_review(reward):
    if reward.review_score is None:
        return "—"
    checks = _checks(reward)
    reasons = format_html_join(
        "",
        '<div class="text-xs review-reason" title="{}">{} (+{})</div>',
        ((check.words, check.label, check.weight) for check in checks),
    )
    return format_html(
        '<span class="font-semibold review-score">{}</span>{}',
        _("Score %(score)s") % {"score": reward.review_score},
        reasons,
    )


@admin.display(description=_("Review at attribution"))
def reward_review_details(reward):
    if reward.review_score is None:
        return _("Not reviewed (the program's review policy was off).")
    checks = _checks(reward)
    if not checks:
        return _("Score %(score)s: no check applied.") % {"score": reward.review_score}
    return format_html(
        '<p class="font-semibold review-score">{}</p><ul class="list-disc ml-4">{}</ul>',
        _("Score %(score)s of 100, from:") % {"score": reward.review_score},
        format_html_join(
            "",
            '<li class="review-reason">{} (+{}): {}</li>',
            ((check.label, check.weight, check.words) for check in checks),
        ),
    )


reward_admin_add_columns(
    RewardColumns(columns=(reward_review,), details=(reward_review_details,), annotate=_with_review)
)
