from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from codes.models import PromoCode
from codes.refusals import Refusal
from participants.models import Participant, Referral, Reward
from programs.models import Program


class ConversionStatus(models.TextChoices):
    ATTRIBUTED = "attributed", _("Attributed")
    UNATTRIBUTED = "unattributed", _("Unattributed")
    REJECTED = "rejected", _("Rejected")
    # After a reversal (refund/cancel) of an order that was attributed.
    REVERSED = "reversed", _("Reversed")


class ConversionReason(models.TextChoices):
    """Why an order got its outcome, as a stable code (the answer's `reason_code`); the
    refusals are codes.refusals.Refusal's, the sentence of each is derived from it."""

    ATTRIBUTED = "attributed", _("Attributed to the advocate holding the code")
    REPEAT_ORDER = "repeat_order", _("Attributed; the customer's referral was already converted")
    NO_CODE = Refusal.NO_CODE.value, _("No promo code")
    NOT_REFERRAL_CODE = Refusal.NOT_REFERRAL_CODE.value, _("Not a referral code")
    CODE_VOIDED = Refusal.CODE_VOIDED.value, _("Code voided")
    CODE_EXPIRED = Refusal.CODE_EXPIRED.value, _("Code expired")
    CODE_NOT_YET_VALID = Refusal.CODE_NOT_YET_VALID.value, _("Code not valid yet")
    CODE_UNHELD = Refusal.CODE_UNHELD.value, _("Code held by no advocate")
    CODE_ALREADY_REDEEMED = (
        Refusal.CODE_ALREADY_REDEEMED.value,
        _("Single-use code already redeemed"),
    )
    ADVOCATE_BLOCKED = Refusal.ADVOCATE_BLOCKED.value, _("Advocate blocked")
    SELF_REFERRAL = Refusal.SELF_REFERRAL.value, _("Self-referral")
    CODE_NOT_REDEEMABLE = Refusal.CODE_NOT_REDEEMABLE.value, _("Code changed under the order")


class ReviewStatus(models.TextChoices):
    APPROVED = "approved", _("Approved")
    HELD = "held", _("Held for review")
    DENIED = "denied", _("Denied")


class Conversion(models.Model):
    """An order reported by the brand, stored with its outcome whatever it was.

    Field names follow the impact.com conversions API. One row per (program, OrderId): the
    unique index is what makes a replayed or concurrently repeated order idempotent.
    """

    program = models.ForeignKey(
        Program, on_delete=models.CASCADE, related_name="conversions", verbose_name=_("program")
    )
    order_id = models.CharField(max_length=255, verbose_name=_("order id"))
    status = models.CharField(
        max_length=12, choices=ConversionStatus.choices, verbose_name=_("status")
    )
    reason = models.CharField(max_length=255, blank=True, verbose_name=_("reason"))
    # Blank for orders recorded before reason codes existed.
    reason_code = models.CharField(
        max_length=32,
        blank=True,
        default="",
        db_default="",
        choices=ConversionReason.choices,
        verbose_name=_("reason code"),
    )
    promo_code = models.CharField(
        max_length=255,
        blank=True,
        help_text=_("OrderPromoCode as sent, in canonical case."),
        verbose_name=_("promo code"),
    )
    code = models.ForeignKey(
        PromoCode,
        on_delete=models.PROTECT,
        related_name="conversions",
        null=True,
        blank=True,
        verbose_name=_("code"),
    )
    customer_id = models.CharField(max_length=255, blank=True, verbose_name=_("customer id"))
    customer_email = models.CharField(
        max_length=254,
        blank=True,
        help_text=_(
            "CustomerEmail as sent, in lower case: an address, or its SHA-1 or SHA-256 hex digest."
        ),
        verbose_name=_("customer email"),
    )
    event_date = models.DateTimeField(null=True, blank=True, verbose_name=_("event date"))
    order_subtotal = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True, verbose_name=_("order subtotal")
    )
    order_discount = models.DecimalField(
        max_digits=14, decimal_places=2, null=True, blank=True, verbose_name=_("order discount")
    )
    currency_code = models.CharField(max_length=3, blank=True, verbose_name=_("currency code"))
    # SHA-256 of the parsed payload, to tell a replay (same answer) from a clash (409).
    payload_digest = models.CharField(max_length=64, verbose_name=_("payload digest"))
    response = models.JSONField(default=dict, verbose_name=_("response"))
    advocate = models.ForeignKey(
        Participant,
        on_delete=models.PROTECT,
        related_name="+",
        null=True,
        blank=True,
        verbose_name=_("advocate"),
    )
    friend = models.ForeignKey(
        Participant,
        on_delete=models.PROTECT,
        related_name="conversions",
        null=True,
        blank=True,
        verbose_name=_("friend"),
    )
    referral = models.ForeignKey(
        Referral,
        on_delete=models.PROTECT,
        related_name="conversions",
        null=True,
        blank=True,
        verbose_name=_("referral"),
    )
    reward = models.ForeignKey(
        Reward,
        on_delete=models.PROTECT,
        related_name="conversions",
        null=True,
        blank=True,
        verbose_name=_("reward"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    reversed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("reversed at"))
    reversal_reason = models.TextField(blank=True, verbose_name=_("reversal reason"))
    # Database defaults: the attribution function (migration 0004) inserts rows without them.
    # IpAddress as sent, hashed (conversions.review): compared, never shown.
    ip_hash = models.CharField(
        max_length=64, blank=True, default="", db_default="", verbose_name=_("ip hash")
    )
    # The review at attribution (conversions.review); blank when the policy is off. The
    # reasons are the checks' codes, comma-separated.
    review_status = models.CharField(
        max_length=8,
        choices=ReviewStatus.choices,
        blank=True,
        default="",
        db_default="",
        verbose_name=_("review status"),
    )
    review_score = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name=_("review score")
    )
    review_reasons = models.CharField(
        max_length=255, blank=True, default="", db_default="", verbose_name=_("review reasons")
    )

    class Meta:
        verbose_name = _("conversion")
        verbose_name_plural = _("conversions")
        ordering = ["-created_at"]
        constraints = [
            models.UniqueConstraint(fields=["program", "order_id"], name="conversion_unique_order"),
            models.CheckConstraint(
                condition=Q(status__in=ConversionStatus.values), name="conversion_status_valid"
            ),
        ]
        indexes = [
            # The last hour's orders (ops metrics), the admin's newest-first list (scanned
            # backwards) and the read API's keyset pages (conversions.selectors): id breaks
            # ties between orders received in the same microsecond.
            models.Index(fields=["program", "created_at", "id"], name="conversion_recent"),
            # The review's checks (conversions.selectors.review_facts): a customer's earlier
            # orders by CustomerId, the advocate's own orders from an address.
            models.Index(
                fields=["program", "customer_id", "created_at"],
                condition=~Q(customer_id=""),
                name="conversion_by_customer",
            ),
        ]

    def __str__(self):
        return f"{self.order_id} ({self.status})"


class ConversionItem(models.Model):
    """One line of an order (impact.com's `ItemSku{n}`, `ItemName{n}`, … fields), kept with
    its conversion in the order it was sent.

    A table rather than a JSON list on Conversion: the database holds typed amounts and the
    rules below, the admin shows the lines as a table, and a line can carry its own state when
    item-level reversals arrive. Written once, with the conversion, in one INSERT.
    """

    # The unique (conversion, position) index serves the lookups: no second index on the key.
    conversion = models.ForeignKey(
        Conversion,
        on_delete=models.CASCADE,
        related_name="items",
        db_index=False,
        verbose_name=_("conversion"),
    )
    position = models.PositiveIntegerField(
        help_text=_("1 for the first line sent, and so on."), verbose_name=_("position")
    )
    sku = models.CharField(max_length=255, blank=True, verbose_name=_("sku"))
    name = models.CharField(max_length=255, blank=True, verbose_name=_("name"))
    category = models.CharField(max_length=255, blank=True, verbose_name=_("category"))
    quantity = models.PositiveIntegerField(null=True, blank=True, verbose_name=_("quantity"))
    price = models.DecimalField(
        max_digits=16,
        decimal_places=4,
        null=True,
        blank=True,
        help_text=_("Unit price."),
        verbose_name=_("price"),
    )
    subtotal = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text=_("The line's amount: ItemSubTotal as sent, else price × quantity."),
        verbose_name=_("subtotal"),
    )

    class Meta:
        verbose_name = _("conversion item")
        verbose_name_plural = _("conversion items")
        ordering = ["conversion", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversion", "position"], name="conversion_item_unique_position"
            ),
        ]

    def __str__(self):
        return f"{self.position}. {self.sku or self.name or 'item'}"
