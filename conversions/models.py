from django.db import models
from django.db.models import Q

from codes.models import PromoCode
from codes.refusals import Refusal
from participants.models import Participant, Referral, Reward
from programs.models import Program


class ConversionStatus(models.TextChoices):
    ATTRIBUTED = "attributed", "Attributed"
    UNATTRIBUTED = "unattributed", "Unattributed"
    REJECTED = "rejected", "Rejected"
    # After a reversal (refund/cancel) of an order that was attributed.
    REVERSED = "reversed", "Reversed"


class ConversionReason(models.TextChoices):
    """Why an order got its outcome, as a stable code (the answer's `reason_code`); the
    refusals are codes.refusals.Refusal's, the sentence of each is derived from it."""

    ATTRIBUTED = "attributed", "Attributed to the advocate holding the code"
    REPEAT_ORDER = "repeat_order", "Attributed; the customer's referral was already converted"
    NO_CODE = Refusal.NO_CODE.value, "No promo code"
    NOT_REFERRAL_CODE = Refusal.NOT_REFERRAL_CODE.value, "Not a referral code"
    CODE_VOIDED = Refusal.CODE_VOIDED.value, "Code voided"
    CODE_UNHELD = Refusal.CODE_UNHELD.value, "Code held by no advocate"
    CODE_ALREADY_REDEEMED = Refusal.CODE_ALREADY_REDEEMED.value, "Single-use code already redeemed"
    ADVOCATE_BLOCKED = Refusal.ADVOCATE_BLOCKED.value, "Advocate blocked"
    SELF_REFERRAL = Refusal.SELF_REFERRAL.value, "Self-referral"
    CODE_NOT_REDEEMABLE = Refusal.CODE_NOT_REDEEMABLE.value, "Code changed under the order"


class ReviewStatus(models.TextChoices):
    APPROVED = "approved", "Approved"
    HELD = "held", "Held for review"
    DENIED = "denied", "Denied"


class Conversion(models.Model):
    """An order reported by the brand, stored with its outcome whatever it was.

    Field names follow the impact.com conversions API. One row per (program, OrderId): the
    unique index is what makes a replayed or concurrently repeated order idempotent.
    """

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="conversions")
    order_id = models.CharField(max_length=255)
    status = models.CharField(max_length=12, choices=ConversionStatus.choices)
    reason = models.CharField(max_length=255, blank=True)
    # Blank for orders recorded before reason codes existed.
    reason_code = models.CharField(
        max_length=32, blank=True, default="", db_default="", choices=ConversionReason.choices
    )
    promo_code = models.CharField(
        max_length=255, blank=True, help_text="OrderPromoCode as sent, in canonical case."
    )
    code = models.ForeignKey(
        PromoCode, on_delete=models.PROTECT, related_name="conversions", null=True, blank=True
    )
    customer_id = models.CharField(max_length=255, blank=True)
    customer_email = models.CharField(
        max_length=254,
        blank=True,
        help_text=(
            "CustomerEmail as sent, in lower case: an address, or its SHA-1 or SHA-256 hex digest."
        ),
    )
    event_date = models.DateTimeField(null=True, blank=True)
    order_subtotal = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    order_discount = models.DecimalField(max_digits=14, decimal_places=2, null=True, blank=True)
    currency_code = models.CharField(max_length=3, blank=True)
    # SHA-256 of the parsed payload, to tell a replay (same answer) from a clash (409).
    payload_digest = models.CharField(max_length=64)
    response = models.JSONField(default=dict)
    advocate = models.ForeignKey(
        Participant, on_delete=models.PROTECT, related_name="+", null=True, blank=True
    )
    friend = models.ForeignKey(
        Participant, on_delete=models.PROTECT, related_name="conversions", null=True, blank=True
    )
    referral = models.ForeignKey(
        Referral, on_delete=models.PROTECT, related_name="conversions", null=True, blank=True
    )
    reward = models.ForeignKey(
        Reward, on_delete=models.PROTECT, related_name="conversions", null=True, blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)
    reversed_at = models.DateTimeField(null=True, blank=True)
    reversal_reason = models.TextField(blank=True)
    # Database defaults: the attribution function (migration 0004) inserts rows without them.
    # IpAddress as sent, hashed (conversions.review): compared, never shown.
    ip_hash = models.CharField(max_length=64, blank=True, default="", db_default="")
    # The review at attribution (conversions.review); blank when the policy is off. The
    # reasons are the checks' codes, comma-separated.
    review_status = models.CharField(
        max_length=8, choices=ReviewStatus.choices, blank=True, default="", db_default=""
    )
    review_score = models.PositiveSmallIntegerField(null=True, blank=True)
    review_reasons = models.CharField(max_length=255, blank=True, default="", db_default="")

    class Meta:
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
        Conversion, on_delete=models.CASCADE, related_name="items", db_index=False
    )
    position = models.PositiveIntegerField(help_text="1 for the first line sent, and so on.")
    sku = models.CharField(max_length=255, blank=True)
    name = models.CharField(max_length=255, blank=True)
    category = models.CharField(max_length=255, blank=True)
    quantity = models.PositiveIntegerField(null=True, blank=True)
    price = models.DecimalField(
        max_digits=16, decimal_places=4, null=True, blank=True, help_text="Unit price."
    )
    subtotal = models.DecimalField(
        max_digits=14,
        decimal_places=2,
        null=True,
        blank=True,
        help_text="The line's amount: ItemSubTotal as sent, else price × quantity.",
    )

    class Meta:
        ordering = ["conversion", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["conversion", "position"], name="conversion_item_unique_position"
            ),
        ]

    def __str__(self):
        return f"{self.position}. {self.sku or self.name or 'item'}"
