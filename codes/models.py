"""Pools of codes, upload batches, the codes themselves and low-stock alerts.

A code's holder is a participants.Participant, named by string: codes never imports the
participants app (apps depend conversions → participants → codes → programs).
"""

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Now

from programs.models import CodeUsage, Program, split_addresses

CODE_MAX_LENGTH = 64
# Canonical form: upper case. The database refuses anything else, so a lower-case copy of an
# existing code can never sneak past the unique index.
CANONICAL_CODE_REGEX = r"^[A-Z0-9_-]{1,64}$"


class PoolKind(models.TextChoices):
    REFERRAL = "referral", "Referral codes"
    FUEL_TANK = "fuel_tank", "Fuel tank (reward codes)"


class Pool(models.Model):
    """A program's stock of codes for one purpose.

    A program has one referral pool (codes that attribute orders) and any number of fuel tanks
    (reward codes that never attribute). The referral pool takes its low-stock threshold and
    recipients from the program; a fuel tank has its own.
    """

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="pools")
    kind = models.CharField(max_length=10, choices=PoolKind.choices, default=PoolKind.REFERRAL)
    name = models.CharField(max_length=100)
    low_stock_threshold = models.PositiveIntegerField(
        null=True, blank=True, help_text="Fuel tanks only; the referral pool uses the program's."
    )
    low_stock_recipients = models.TextField(blank=True, help_text="Fuel tanks only.")
    # Alert state: a conditional UPDATE … WHERE armed flips these, so exactly one of many
    # concurrent claimers sends an alert; they re-arm when stock rises above the threshold.
    low_alert_armed = models.BooleanField(default=True)
    empty_alert_armed = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["program", "kind", "name"]
        constraints = [
            models.UniqueConstraint(fields=["program", "name"], name="pool_unique_name"),
            models.UniqueConstraint(
                fields=["program"],
                condition=Q(kind=PoolKind.REFERRAL),
                name="pool_one_referral_pool_per_program",
            ),
            # Target of the codes' composite foreign key (pool_id, program_id).
            models.UniqueConstraint(fields=["id", "program"], name="pool_id_program_unique"),
            models.CheckConstraint(condition=Q(kind__in=PoolKind.values), name="pool_kind_valid"),
        ]

    def __str__(self):
        return f"{self.program} · {self.name}"

    @property
    def threshold(self):
        if self.kind == PoolKind.REFERRAL:
            return self.program.low_stock_threshold
        return self.low_stock_threshold or 0

    @property
    def recipient_list(self):
        if self.kind == PoolKind.REFERRAL:
            return self.program.recipient_list
        return split_addresses(self.low_stock_recipients)


class BatchSource(models.TextChoices):
    UPLOAD = "upload", "Admin upload"
    IMPORT = "import", "import_codes command"
    GENERATED = "generated", "Generated"


class BatchStatus(models.TextChoices):
    PENDING = "pending", "Waiting"
    PROCESSING = "processing", "Processing"
    COMPLETED = "completed", "Completed"
    FAILED = "failed", "Failed"


class Batch(models.Model):
    """One upload of codes into a pool, with its counts.

    Codes land together with the batch's final counts in one transaction: a failed batch keeps
    its row (status failed, with the reason) and no codes.
    """

    pool = models.ForeignKey(Pool, on_delete=models.PROTECT, related_name="batches")
    source = models.CharField(max_length=10, choices=BatchSource.choices)
    file_name = models.CharField(max_length=255, blank=True)
    usage = models.CharField(
        max_length=6, choices=CodeUsage.choices, help_text="The program's usage at upload time."
    )
    status = models.CharField(
        max_length=10, choices=BatchStatus.choices, default=BatchStatus.PENDING
    )
    rows_read = models.PositiveIntegerField(default=0)
    codes_added = models.PositiveIntegerField(default=0)
    duplicates_in_file = models.PositiveIntegerField(default=0)
    already_in_program = models.PositiveIntegerField(default=0)
    invalid_rows = models.PositiveIntegerField(default=0)
    # The refused rows, [{"line": n, "value": "...", "reason": "..."}], capped in length.
    errors = models.JSONField(default=list, blank=True)
    failure_reason = models.TextField(blank=True)
    progress_rows = models.PositiveIntegerField(default=0)
    # An admin upload processed in the background waits here (any worker can read it) and is
    # cleared once imported or failed.
    upload_data = models.BinaryField(null=True, blank=True, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL
    )
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name_plural = "batches"
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(source__in=BatchSource.values), name="batch_source_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=BatchStatus.values), name="batch_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(usage__in=CodeUsage.values), name="batch_usage_valid"
            ),
        ]

    def __str__(self):
        return f"Batch {self.pk} ({self.file_name or self.get_source_display()})"


class CodeSource(models.TextChoices):
    POOL = "pool", "From the pool"
    MANUAL = "manual", "Added by hand"


class CodeStatus(models.TextChoices):
    AVAILABLE = "available", "Available"
    ASSIGNED = "assigned", "Assigned"
    REDEEMED = "redeemed", "Redeemed"


class PromoCode(models.Model):
    """One discount code. Stored in canonical (upper) case, unique per program.

    A code is `available` (in its pool, held by nobody), `assigned` (held by one advocate) or
    `redeemed` (a single-use code used in an order; still linked to the advocate who held it).
    A multi-use code stays `assigned` and counts its redemptions.
    """

    # No index of its own: the unique (program, code) index leads with program.
    # program and pool are checked together by one composite foreign key (pool_id, program_id)
    # → codes_pool (id, program_id), added by migration 0005 on PostgreSQL: one check per row
    # instead of two (a bulk import pays per row for each), and it also proves the code's
    # program is its pool's. No index of its own: the unique (program, code) index leads with
    # program, the claim index with pool.
    program = models.ForeignKey(
        Program,
        on_delete=models.CASCADE,
        related_name="codes",
        db_index=False,
        db_constraint=False,
    )
    pool = models.ForeignKey(
        Pool, on_delete=models.PROTECT, related_name="codes", db_index=False, db_constraint=False
    )
    batch = models.ForeignKey(
        Batch, on_delete=models.PROTECT, related_name="codes", null=True, blank=True
    )
    code = models.CharField(max_length=CODE_MAX_LENGTH)
    usage = models.CharField(max_length=6, choices=CodeUsage.choices)
    source = models.CharField(max_length=6, choices=CodeSource.choices, default=CodeSource.POOL)
    status = models.CharField(
        max_length=10, choices=CodeStatus.choices, default=CodeStatus.AVAILABLE
    )
    holder = models.ForeignKey(
        "participants.Participant",
        on_delete=models.PROTECT,
        related_name="promo_codes",
        null=True,
        blank=True,
        db_index=False,
    )
    created_at = models.DateTimeField(db_default=Now())
    assigned_at = models.DateTimeField(null=True, blank=True)
    first_copied_at = models.DateTimeField(null=True, blank=True)
    redeemed_at = models.DateTimeField(null=True, blank=True)
    redemption_count = models.PositiveIntegerField(default=0)
    redeemed_order_id = models.CharField(max_length=255, blank=True)
    redeemed_by = models.ForeignKey(
        "participants.Participant",
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # a partial index below: most codes are never redeemed
        null=True,
        blank=True,
        help_text="The friend whose order used the code (single-use).",
    )

    class Meta:
        verbose_name = "promo code"
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "code"], name="promocode_unique_per_program"
            ),
            models.CheckConstraint(
                condition=Q(code__regex=CANONICAL_CODE_REGEX), name="promocode_canonical_form"
            ),
            models.CheckConstraint(
                condition=Q(usage__in=CodeUsage.values), name="promocode_usage_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=CodeStatus.values), name="promocode_status_valid"
            ),
            models.CheckConstraint(
                condition=Q(source__in=CodeSource.values), name="promocode_source_valid"
            ),
            # Available ⇔ held by nobody: a held code can never be claimed again.
            models.CheckConstraint(
                condition=(Q(status=CodeStatus.AVAILABLE) & Q(holder__isnull=True))
                | (~Q(status=CodeStatus.AVAILABLE) & Q(holder__isnull=False)),
                name="promocode_available_iff_unheld",
            ),
            # Only single-use codes end up redeemed; multi-use ones count uses.
            models.CheckConstraint(
                condition=Q(usage=CodeUsage.SINGLE) | ~Q(status=CodeStatus.REDEEMED),
                name="promocode_only_single_use_redeemed",
            ),
        ]
        indexes = [
            # The claim query: next available code of a pool in the program's usage, oldest
            # batch first, file order. Usage leads batch so that multi-use codes left in a pool
            # after the switch to single-use are never scanned past on each claim.
            models.Index(
                fields=["pool", "usage", "batch", "id"],
                condition=Q(status=CodeStatus.AVAILABLE),
                name="promocode_next_available",
            ),
            # Stock counts per pool and status.
            # Stock counts of codes taken out of a pool (available ones are counted on the claim
            # index). Partial, like the others on columns that are empty at upload, so a bulk
            # import of a million new codes does not pay for them.
            models.Index(
                fields=["pool", "status", "usage"],
                condition=~Q(status=CodeStatus.AVAILABLE),
                name="promocode_pool_used",
            ),
            models.Index(
                fields=["redeemed_by"],
                condition=Q(redeemed_by__isnull=False),
                name="promocode_redeemed_by",
            ),
            # Use over the last days (stock forecast), per pool.
            models.Index(
                fields=["pool", "assigned_at"],
                condition=Q(assigned_at__isnull=False),
                name="promocode_pool_assigned",
            ),
            # An advocate's codes in the order they were assigned.
            models.Index(
                fields=["holder", "assigned_at", "id"],
                condition=Q(holder__isnull=False),
                name="promocode_by_holder",
            ),
        ]

    def __str__(self):
        return self.code

    @staticmethod
    def canonical(text):
        return text.strip().upper()


class AlertKind(models.TextChoices):
    LOW = "low", "Low stock"
    EMPTY = "empty", "Out of stock"


class StockAlert(models.Model):
    """A low-stock or empty-pool e-mail, recorded when it is decided and stamped when sent."""

    pool = models.ForeignKey(Pool, on_delete=models.CASCADE, related_name="alerts")
    kind = models.CharField(max_length=5, choices=AlertKind.choices)
    available = models.PositiveIntegerField()
    threshold = models.PositiveIntegerField()
    recipients = models.TextField(blank=True)
    used_last_7_days = models.PositiveIntegerField(default=0)
    days_left = models.DecimalField(max_digits=10, decimal_places=1, null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["pool", "-created_at"], name="stockalert_pool_recent")]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=AlertKind.values), name="alert_kind_valid")
        ]

    def __str__(self):
        return f"{self.get_kind_display()} · {self.pool} · {self.available} left"
