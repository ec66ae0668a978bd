"""Pools of codes, upload batches, the codes themselves and low-stock alerts.

A code's holder is a participants.Participant, named by string: codes never imports the
participants app (apps depend conversions → participants → codes → programs). Whether a
participant may hold codes is the participants app's to say (`can_hold_codes`); the codes app
keeps its own queue of advocates short of codes (CodeShortfall).

A code's states live here, once: `CodeState` holds the predicate of each state, the
`PromoCode.objects` queryset methods use them, and the claim engine's SQL (codes.sql) is built
from the same predicates.
"""

import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.db.models.functions import Length, Now
from django.db.models.lookups import LessThanOrEqual
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from programs.models import CodeUsage, Program, quota_usages_of, split_addresses
from programs.validators import validate_single_line

# The canonical form of a code, one constant each (docs/architecture.md, Where each rule lives):
# the uploads, the APIs, the search, the generator, the staging table and the database's check
# all take them from here.
CODE_MAX_LENGTH = 64
# The characters a code may be written with, as a regex character class (any case) …
CODE_CHAR_CLASS = "A-Za-z0-9_-"
# … and as stored: canonical form is upper case. The database refuses anything else, so a
# lower-case copy of an existing code can never sneak past the unique index.
CANONICAL_CHAR_CLASS = "A-Z0-9_-"
CANONICAL_CODE_REGEX = rf"^[{CANONICAL_CHAR_CLASS}]{{1,{CODE_MAX_LENGTH}}}$"
# The same rule as the database checks it: characters by a regex without a bounded repeat, the
# length apart. PostgreSQL's regex engine spends about three times as long on `{1,64}` as on
# `+`, on every row an import inserts.
CODE_CHARS_REGEX = rf"^[{CANONICAL_CHAR_CLASS}]+$"


# A pool's pattern for codes made by hand: a prefix of A-Z, 0-9, - or _, then 4 or more "?".
CODE_PATTERN_REGEX = r"^([A-Z0-9_-]*)(\?{4,})$"


def validate_code_pattern(value: str) -> None:
    if value and not re.fullmatch(CODE_PATTERN_REGEX, value):
        raise ValidationError(
            "Write the pattern as a prefix of A–Z, 0–9, - or _ followed by one ? per random "
            "character, at least four (e.g. DEMO-????????)."
        )


class PoolKind(models.TextChoices):
    REFERRAL = "referral", _("Referral codes")
    FUEL_TANK = "fuel_tank", _("Fuel tank (reward codes)")


class Pool(models.Model):
    """A program's stock of codes for one purpose.

    A program has one referral pool (codes that attribute orders) and any number of fuel tanks
    (reward codes that never attribute). The referral pool takes its low-stock threshold and
    recipients from the program; a fuel tank has its own.
    """

    program = models.ForeignKey(
        Program, on_delete=models.CASCADE, related_name="pools", verbose_name=_("program")
    )
    kind = models.CharField(
        max_length=10, choices=PoolKind.choices, default=PoolKind.REFERRAL, verbose_name=_("kind")
    )
    # Pool names reach low-stock e-mail subjects: one line (programs.validators).
    name = models.CharField(
        max_length=100, validators=[validate_single_line], verbose_name=_("name")
    )
    low_stock_threshold = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("Fuel tanks only; the referral pool uses the program's."),
        verbose_name=_("low stock threshold"),
    )
    low_stock_recipients = models.TextField(
        blank=True, help_text=_("Fuel tanks only."), verbose_name=_("low stock recipients")
    )
    # Alert state: a conditional UPDATE … WHERE armed flips these, so exactly one of many
    # concurrent claimers sends an alert; they re-arm when stock rises above the threshold.
    low_alert_armed = models.BooleanField(default=True, verbose_name=_("low alert armed"))
    empty_alert_armed = models.BooleanField(default=True, verbose_name=_("empty alert armed"))
    # How codes made here by hand look ("DEMO-????????": the prefix, then one ? per random
    # character); blank: like the pool's generated or uploaded codes (codes.selectors).
    code_pattern = models.CharField(
        max_length=CODE_MAX_LENGTH,
        blank=True,
        validators=[validate_code_pattern],
        help_text=_(
            "How codes added by hand look: a prefix, then one ? per random character "
            "(e.g. DEMO-????????). Blank: like the codes already in the pool."
        ),
        verbose_name=_("code pattern"),
    )
    pays_rewards = models.BooleanField(
        _("pays the program's fuel-tank rewards"),
        default=False,
        help_text=_("Fuel tanks only: rewards of kind “fuel tank code” take their code from here."),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("pool")
        verbose_name_plural = _("pools")
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
            # One tank pays a program's fuel-tank rewards, and it is a fuel tank.
            models.UniqueConstraint(
                fields=["program"], condition=Q(pays_rewards=True), name="pool_one_reward_tank"
            ),
            models.CheckConstraint(
                condition=Q(pays_rewards=False) | Q(kind=PoolKind.FUEL_TANK),
                name="pool_reward_tank_is_fuel_tank",
            ),
        ]

    def __str__(self):
        return f"{self.program} · {self.name}"

    @property
    def is_fuel_tank(self):
        return self.kind == PoolKind.FUEL_TANK

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
    UPLOAD = "upload", _("Admin upload")
    IMPORT = "import", _("import_codes command")
    GENERATED = "generated", _("Generated")


class BatchStatus(models.TextChoices):
    PENDING = "pending", _("Waiting")
    PROCESSING = "processing", _("Processing")
    COMPLETED = "completed", _("Completed")
    FAILED = "failed", _("Failed")


class Batch(models.Model):
    """One upload of codes into a pool, with its counts.

    Codes land together with the batch's final counts in one transaction: a failed batch keeps
    its row (status failed, with the reason) and no codes.
    """

    pool = models.ForeignKey(
        Pool, on_delete=models.PROTECT, related_name="batches", verbose_name=_("pool")
    )
    source = models.CharField(max_length=10, choices=BatchSource.choices, verbose_name=_("source"))
    file_name = models.CharField(max_length=255, blank=True, verbose_name=_("file name"))
    usage = models.CharField(
        max_length=6,
        choices=CodeUsage.choices,
        help_text=_("The program's usage at upload time."),
        verbose_name=_("usage"),
    )
    status = models.CharField(
        max_length=10,
        choices=BatchStatus.choices,
        default=BatchStatus.PENDING,
        verbose_name=_("status"),
    )
    rows_read = models.PositiveIntegerField(default=0, verbose_name=_("rows read"))
    codes_added = models.PositiveIntegerField(default=0, verbose_name=_("codes added"))
    duplicates_in_file = models.PositiveIntegerField(
        default=0, verbose_name=_("duplicates in file")
    )
    already_in_program = models.PositiveIntegerField(
        default=0, verbose_name=_("already in program")
    )
    invalid_rows = models.PositiveIntegerField(default=0, verbose_name=_("invalid rows"))
    # The refused rows, [{"line": n, "value": "...", "reason": "..."}], capped in length.
    errors = models.JSONField(default=list, blank=True, verbose_name=_("errors"))
    # Rows of a platform export skipped, by reason (codes.parsing.Skip): {"expired": 12, …}.
    skipped = models.JSONField(default=dict, blank=True, verbose_name=_("skipped rows"))
    # The codes' column the manager chose at the preview (0-based; None: the header rule's).
    code_column = models.PositiveSmallIntegerField(
        null=True, blank=True, verbose_name=_("code column")
    )
    failure_reason = models.TextField(blank=True, verbose_name=_("failure reason"))
    progress_rows = models.PositiveIntegerField(default=0, verbose_name=_("progress rows"))
    # A background import holds its batch by a lease (docs/architecture.md, Resilience): the
    # worker running it bumps `attempts` when it takes the batch and refreshes `heartbeat_at`
    # as it goes; a batch still processing with an old heartbeat lost its worker and is taken
    # again by the periodic task, and a worker whose attempt is no longer the batch's stops.
    attempts = models.PositiveSmallIntegerField(default=0, verbose_name=_("attempts"))
    heartbeat_at = models.DateTimeField(null=True, blank=True, verbose_name=_("heartbeat at"))
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        verbose_name=_("created by"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    completed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("completed at"))
    # The validity given to the batch's codes (a code's own dates win: PromoCode).
    valid_from = models.DateTimeField(null=True, blank=True, verbose_name=_("valid from"))
    expires_at = models.DateTimeField(null=True, blank=True, verbose_name=_("expires at"))

    class Meta:
        verbose_name = _("batch")
        verbose_name_plural = _("batches")
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
        return _("Batch %(id)s (%(file)s)") % {
            "id": self.pk,
            "file": self.file_name or self.get_source_display(),
        }

    @staticmethod
    def stalled(since):
        """Background uploads still processing whose worker has not been heard of since
        `since` (a batch from before heartbeats counts from its creation)."""
        quiet = Q(heartbeat_at__lt=since) | Q(heartbeat_at__isnull=True, created_at__lt=since)
        return Q(source=BatchSource.UPLOAD, status=BatchStatus.PROCESSING) & quiet


class BatchUploadPart(models.Model):
    """A piece of an admin upload imported in the background, kept in the database (so any
    worker can read it) in pieces of a few MB (so no process holds the file whole) until its
    batch completes or fails."""

    batch = models.ForeignKey(Batch, on_delete=models.CASCADE, related_name="upload_parts")
    index = models.PositiveIntegerField()
    data = models.BinaryField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=("batch", "index"), name="batchuploadpart_unique")
        ]

    def __str__(self):
        return f"Part {self.index} of batch {self.batch_id}"


class CodeSource(models.TextChoices):
    POOL = "pool", _("From the pool")
    MANUAL = "manual", _("Added by hand")


class CodeStatus(models.TextChoices):
    AVAILABLE = "available", _("Available")
    ASSIGNED = "assigned", _("Assigned")
    REDEEMED = "redeemed", _("Redeemed")
    VOIDED = "voided", _("Voided")


class CodeState:
    """The predicate of each state a code can be in: the one definition the queryset methods,
    the eligibility rules (codes.rules) and the claim engine's SQL (codes.sql) all use.

    available: in its pool, held by nobody, can be claimed (never once voided).
    held: a referral code an advocate holds and can still share (assigned, not redeemed, not
        voided); in a referral pool.
    reserved / revealed: a fuel-tank code claimed for a reward, before / after the reward
        became available (only a revealed code is ever shown to its advocate).
    redeemed: a single-use code used in an order. voided: taken out of use for good.
    expired / not yet valid: past its `expires_at` / before its `valid_from`, at the time the
    statement runs (`Now()`: the database's clock in SQL; `foundation.predicates.matches`
    reads it as the `now` it is given). VALID_NOW: neither.
    """

    EXPIRED = Q(expires_at__lte=Now())
    NOT_YET_VALID = Q(valid_from__gt=Now())
    VALID_NOW = (Q(expires_at__isnull=True) | Q(expires_at__gt=Now())) & (
        Q(valid_from__isnull=True) | Q(valid_from__lte=Now())
    )

    AVAILABLE = Q(status=CodeStatus.AVAILABLE)
    ASSIGNED = Q(status=CodeStatus.ASSIGNED)
    REDEEMED = Q(status=CodeStatus.REDEEMED)
    VOIDED = Q(status=CodeStatus.VOIDED)
    IN_REFERRAL_POOL = Q(pool__kind=PoolKind.REFERRAL)
    IN_FUEL_TANK = Q(pool__kind=PoolKind.FUEL_TANK)
    HELD = ASSIGNED & IN_REFERRAL_POOL & VALID_NOW
    # What a claim may take: available, and usable now.
    CLAIMABLE = AVAILABLE & VALID_NOW
    # What counts toward a holder's quota, on the codes table's own columns (the pool apart).
    ASSIGNED_VALID = ASSIGNED & VALID_NOW
    RESERVED = ASSIGNED & IN_FUEL_TANK & Q(revealed_at__isnull=True)
    REVEALED = ASSIGNED & IN_FUEL_TANK & Q(revealed_at__isnull=False)


class PromoCodeQuerySet(models.QuerySet):
    def available(self):
        return self.filter(CodeState.AVAILABLE)

    def assigned(self):
        return self.filter(CodeState.ASSIGNED)

    def redeemed(self):
        return self.filter(CodeState.REDEEMED)

    def voided(self):
        return self.filter(CodeState.VOIDED)

    def referral(self):
        """Codes of referral pools: the only ones that attribute orders."""
        return self.filter(CodeState.IN_REFERRAL_POOL)

    def reward(self):
        """Codes of fuel tanks: they reward advocates and never attribute."""
        return self.filter(CodeState.IN_FUEL_TANK)

    def held(self):
        return self.filter(CodeState.HELD)

    def held_by(self, holder):
        """The referral codes `holder` holds now, i.e. can still share."""
        return self.filter(CodeState.HELD, holder=holder)

    def held_by_any(self, holders):
        """The referral codes held now by any of `holders` (ids, objects or a subquery)."""
        return self.filter(CodeState.HELD, holder__in=holders)

    def toward_quota(self, *, usage):
        """Held codes that count toward the quota of a program with this usage
        (programs.models.quota_usages_of)."""
        return self.held().filter(usage__in=quota_usages_of(usage))

    def revealed_to(self, holder):
        """The fuel-tank codes `holder` has earned and may be shown."""
        return self.filter(CodeState.REVEALED, holder=holder)


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
        verbose_name=_("program"),
    )
    pool = models.ForeignKey(
        Pool,
        on_delete=models.PROTECT,
        related_name="codes",
        db_index=False,
        db_constraint=False,
        verbose_name=_("pool"),
    )
    batch = models.ForeignKey(
        Batch,
        on_delete=models.PROTECT,
        related_name="codes",
        null=True,
        blank=True,
        verbose_name=_("batch"),
    )
    code = models.CharField(max_length=CODE_MAX_LENGTH, verbose_name=_("code"))
    usage = models.CharField(max_length=6, choices=CodeUsage.choices, verbose_name=_("usage"))
    source = models.CharField(
        max_length=6, choices=CodeSource.choices, default=CodeSource.POOL, verbose_name=_("source")
    )
    status = models.CharField(
        max_length=10,
        choices=CodeStatus.choices,
        default=CodeStatus.AVAILABLE,
        verbose_name=_("status"),
    )
    holder = models.ForeignKey(
        "participants.Participant",
        on_delete=models.PROTECT,
        related_name="promo_codes",
        null=True,
        blank=True,
        db_index=False,
        verbose_name=_("holder"),
    )
    created_at = models.DateTimeField(db_default=Now(), verbose_name=_("created at"))
    assigned_at = models.DateTimeField(null=True, blank=True, verbose_name=_("assigned at"))
    first_copied_at = models.DateTimeField(null=True, blank=True, verbose_name=_("first copied at"))
    redeemed_at = models.DateTimeField(null=True, blank=True, verbose_name=_("redeemed at"))
    redemption_count = models.PositiveIntegerField(default=0, verbose_name=_("redemption count"))
    redeemed_order_id = models.CharField(
        max_length=255, blank=True, verbose_name=_("redeemed order id")
    )
    redeemed_by = models.ForeignKey(
        "participants.Participant",
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,  # a partial index below: most codes are never redeemed
        null=True,
        blank=True,
        help_text=_("The friend whose order used the code (single-use)."),
        verbose_name=_("redeemed by"),
    )
    revealed_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_("Fuel-tank codes: when the reward became available and the code was shown."),
        verbose_name=_("revealed at"),
    )
    # When the code may first be used and when it stops (None: no limit). An expired or
    # not-yet-valid code is never handed out, counts toward no quota and attributes no order
    # (CodeState.VALID_NOW, codes.rules.ATTRIBUTE_REFUSALS).
    valid_from = models.DateTimeField(null=True, blank=True, verbose_name=_("valid from"))
    expires_at = models.DateTimeField(null=True, blank=True, verbose_name=_("expires at"))
    # When its code.expired event was written (codes.services.expiry): set once, by the claim
    # that writes the event, so two workers never announce one code twice.
    expired_notified_at = models.DateTimeField(
        null=True, blank=True, editable=False, verbose_name=_("expiry announced at")
    )
    voided_at = models.DateTimeField(null=True, blank=True, verbose_name=_("voided at"))
    voided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=False,
        null=True,
        blank=True,
        verbose_name=_("voided by"),
    )
    void_reason = models.CharField(
        max_length=255,
        blank=True,
        # A database default: the import's set-based INSERT names only the columns it fills.
        db_default="",
        help_text=_("Why and through what (admin, command) it was voided."),
        verbose_name=_("void reason"),
    )
    # When a multi-use code was found used by more customers in a day than its program allows
    # (docs/architecture.md, Review and caps at attribution): set once, by a conditional UPDATE.
    leaked_at = models.DateTimeField(
        _("leaked"),
        null=True,
        blank=True,
        help_text=_("When the code was found used by more customers in a day than allowed."),
    )

    objects = PromoCodeQuerySet.as_manager()

    class Meta:
        verbose_name = _("promo code")
        verbose_name_plural = _("promo codes")
        ordering = ["id"]
        constraints = [
            # The pattern operator class lets this one index serve both an exact code
            # (program_id, code = …) and the code manager's prefix search (code LIKE 'AB%')
            # whatever the database's collation; no second index on code for imports to pay.
            models.UniqueConstraint(
                fields=["program", "code"],
                name="promocode_unique_per_program",
                opclasses=["int8_ops", "varchar_pattern_ops"],
            ),
            models.CheckConstraint(
                condition=Q(code__regex=CODE_CHARS_REGEX)
                & LessThanOrEqual(Length("code"), CODE_MAX_LENGTH),
                name="promocode_canonical_form",
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
            # Available ⇔ held by nobody: a held code can never be claimed again. A voided code
            # keeps the holder it had, if any, for the record.
            models.CheckConstraint(
                condition=(Q(status=CodeStatus.AVAILABLE) & Q(holder__isnull=True))
                | (
                    Q(status__in=[CodeStatus.ASSIGNED, CodeStatus.REDEEMED])
                    & Q(holder__isnull=False)
                )
                | Q(status=CodeStatus.VOIDED),
                name="promocode_available_iff_unheld",
            ),
            models.CheckConstraint(
                condition=Q(status=CodeStatus.VOIDED) | Q(voided_at__isnull=True),
                name="promocode_voided_at_only_when_voided",
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
            # Codes that expire, by when: the periodic top-up of advocates whose code just
            # expired. Partial: codes without an expiry (most) cost nothing.
            models.Index(
                fields=["expires_at"],
                condition=Q(expires_at__isnull=False),
                name="promocode_expiring",
            ),
            # Codes whose expiry is still to be announced (code.expired), by when: the claim
            # of codes_expired_announce reads it in order. A code leaves it once announced,
            # redeemed or voided, so a million codes announced are never walked again.
            models.Index(
                fields=["expires_at", "id"],
                condition=Q(
                    expires_at__isnull=False,
                    expired_notified_at__isnull=True,
                    status__in=[CodeStatus.AVAILABLE, CodeStatus.ASSIGNED],
                ),
                name="promocode_expiry_unannounced",
            ),
            # Use of the stock per day (the stock page's chart, the forecast), per pool: codes
            # handed out of the pool, by when. Partial on both columns the queries filter on, so
            # they are answered from the index alone (an index-only scan on a vacuumed table).
            models.Index(
                fields=["pool", "assigned_at"],
                condition=Q(assigned_at__isnull=False, source=CodeSource.POOL),
                name="promocode_pool_use",
            ),
            # Leaked codes of a program (the code manager's filter, the stock page). Partial:
            # codes never flagged (nearly all) cost nothing.
            models.Index(
                fields=["program", "leaked_at"],
                condition=Q(leaked_at__isnull=False),
                name="promocode_leaked",
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

    @property
    def is_reward_code(self):
        return self.pool.kind == PoolKind.FUEL_TANK

    @property
    def shown_status(self):
        """The status as the console shows it: a fuel-tank code claimed for a reward still in
        its review period is assigned but reserved (not shown to its advocate yet); an
        available or assigned code past its expiry is expired, one before its start not yet
        valid (the same test as CodeState.EXPIRED / NOT_YET_VALID, at this moment)."""
        if self.status in (CodeStatus.AVAILABLE, CodeStatus.ASSIGNED):
            now = timezone.now()
            if self.expires_at is not None and self.expires_at <= now:
                return "expired"
            if self.valid_from is not None and self.valid_from > now:
                return "not yet valid"
        if self.status == CodeStatus.ASSIGNED and self.revealed_at is None and self.is_reward_code:
            return "assigned (reserved)"
        return self.status


class CodeShortfall(models.Model):
    """An advocate short of codes (the pool could not fill their quota): the codes app's queue.

    A row exists exactly while the advocate is short; a batch landing in the referral pool tops
    up the queue in `since` order. The participants app says who may hold codes: it takes an
    advocate out of the queue when they are blocked (codes.services.codes_holder_withdraw).
    """

    holder = models.OneToOneField(
        "participants.Participant",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="code_shortfall",
        verbose_name=_("holder"),
    )
    program = models.ForeignKey(
        Program, on_delete=models.CASCADE, db_index=False, verbose_name=_("program")
    )
    since = models.DateTimeField(
        help_text=_("When the advocate fell short of their quota."), verbose_name=_("since")
    )

    class Meta:
        verbose_name = _("advocate short of codes")
        verbose_name_plural = _("advocates short of codes")
        indexes = [models.Index(fields=["program", "since", "holder"], name="shortfall_queue")]

    def __str__(self):
        return f"{self.holder_id} short since {self.since:%Y-%m-%d %H:%M}"


class AlertKind(models.TextChoices):
    LOW = "low", _("Low stock")
    EMPTY = "empty", _("Out of stock")


class StockAlert(models.Model):
    """A low-stock or empty-pool e-mail, recorded when it is decided and stamped when sent."""

    pool = models.ForeignKey(
        Pool, on_delete=models.CASCADE, related_name="alerts", verbose_name=_("pool")
    )
    kind = models.CharField(max_length=5, choices=AlertKind.choices, verbose_name=_("kind"))
    available = models.PositiveIntegerField(verbose_name=_("available"))
    threshold = models.PositiveIntegerField(verbose_name=_("threshold"))
    recipients = models.TextField(blank=True, verbose_name=_("recipients"))
    used_last_7_days = models.PositiveIntegerField(default=0, verbose_name=_("used last 7 days"))
    days_left = models.DecimalField(
        max_digits=10, decimal_places=1, null=True, blank=True, verbose_name=_("days left")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    sent_at = models.DateTimeField(null=True, blank=True, verbose_name=_("sent at"))

    class Meta:
        verbose_name = _("stock alert")
        verbose_name_plural = _("stock alerts")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["pool", "-created_at"], name="stockalert_pool_recent")]
        constraints = [
            models.CheckConstraint(condition=Q(kind__in=AlertKind.values), name="alert_kind_valid")
        ]

    def __str__(self):
        return f"{self.get_kind_display()} · {self.pool} · {self.available} left"

    @property
    def delivery(self) -> str:
        """ "sent", "unsent" (its e-mail has not gone out yet) or "no recipients" (the pool names
        nobody: recorded for the stock page, never e-mailed, not counted as unsent)."""
        if self.sent_at:
            return "sent"
        return "unsent" if self.recipients.strip() else "no recipients"


class LeakAlert(models.Model):
    """A leaked multi-use code's e-mail to the program's alert recipients: recorded by whoever
    flagged the code (one per code) and stamped when sent."""

    code = models.OneToOneField(PromoCode, on_delete=models.CASCADE, related_name="leak_alert")
    program = models.ForeignKey(Program, on_delete=models.CASCADE, db_index=False)
    customers = models.PositiveIntegerField(help_text=_("Customers within 24 hours."))
    threshold = models.PositiveIntegerField()
    recipients = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    sent_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("leaked code alert")
        verbose_name_plural = _("leaked code alerts")
        ordering = ["-created_at"]
        indexes = [models.Index(fields=["program", "-created_at"], name="leakalert_recent")]

    def __str__(self):
        return f"{self.code_id}: {self.customers} customers in a day"

    @property
    def delivery(self) -> str:
        """ "sent", "unsent" or "no recipients", as StockAlert.delivery says it."""
        if self.sent_at:
            return "sent"
        return "unsent" if self.recipients.strip() else "no recipients"
