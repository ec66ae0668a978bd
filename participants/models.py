import re

from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper
from django.utils.translation import gettext_lazy as _

from codes.models import PromoCode
from foundation.predicates import matches
from programs.models import Program, RewardKind

# An erased participant's id is replaced by ERASED_ID_PREFIX + random hex (an opaque
# tombstone); ids with this prefix are refused from the brand, so one can never be reused.
ERASED_ID_PREFIX = "erased:"


def is_reserved_participant_id(participant_id: str) -> bool:
    return participant_id.startswith(ERASED_ID_PREFIX)


# Who may hold referral codes (and be topped up): an advocate (a friend seen only in an order is
# not one yet) who is not blocked and was not erased. The one definition: the queryset
# (`Participant.objects.may_hold_codes()`), the instance (`can_hold_codes`) and the SQL of the
# attribution function (conversions.sql) all take it from here.
MAY_HOLD_CODES = Q(is_advocate=True, is_blocked=False, erased_at__isnull=True)


class ParticipantQuerySet(models.QuerySet):
    def may_hold_codes(self):
        return self.filter(MAY_HOLD_CODES)


LOCALE_MAX_LENGTH = 35
# A language tag (BCP 47's shape: "zh-Hans", "en-US", "pt_BR"), checked by its form only: a
# participant may carry a language not offered yet; the widget then falls back.
_LOCALE_TAG = re.compile(r"[A-Za-z]{2,3}(?:[-_][A-Za-z0-9]{1,8})*")


def is_locale_tag(value: str) -> bool:
    return len(value) <= LOCALE_MAX_LENGTH and _LOCALE_TAG.fullmatch(value) is not None


class Participant(models.Model):
    """A person in a program: an advocate, a referred friend, or both.

    `participant_id` is the brand's own id for the person. A friend first seen in a conversion
    is a participant but not yet an advocate: codes come when they are upserted themselves.
    """

    program = models.ForeignKey(
        Program, on_delete=models.CASCADE, related_name="participants", verbose_name=_("program")
    )
    participant_id = models.CharField(max_length=255, verbose_name=_("participant id"))
    email = models.EmailField(blank=True, verbose_name=_("email"))
    first_name = models.CharField(max_length=150, blank=True, verbose_name=_("first name"))
    last_name = models.CharField(max_length=150, blank=True, verbose_name=_("last name"))
    account_id = models.CharField(max_length=255, blank=True, verbose_name=_("account id"))
    # A BCP 47 tag as the brand sent it (upsert API, widget token); the widget shows the
    # offered language closest to it (participants.widget.language).
    # A database default too: the attribution function (conversions.sql) inserts friends
    # without naming it.
    locale = models.CharField(
        max_length=LOCALE_MAX_LENGTH,
        blank=True,
        default="",
        db_default="",
        help_text=_(
            "The advocate's language (e.g. zh-Hans, en-US): the widget speaks it when "
            "it is offered."
        ),
        verbose_name=_("locale"),
    )
    is_advocate = models.BooleanField(default=False, verbose_name=_("is advocate"))
    is_blocked = models.BooleanField(default=False, verbose_name=_("is blocked"))
    blocked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("blocked at"))
    ip_hash = models.CharField(
        max_length=64,
        blank=True,
        default="",
        db_default="",
        help_text=_("The address the widget was last loaded from, hashed (never shown)."),
        verbose_name=_("ip hash"),
    )
    erased_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text=_(
            "When their personal data was erased (a privacy request): the id is a "
            "tombstone, e-mail and names are blank, their referrals and rewards are kept."
        ),
        verbose_name=_("erased at"),
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    objects = ParticipantQuerySet.as_manager()

    class Meta:
        verbose_name = _("participant")
        verbose_name_plural = _("participants")
        ordering = ["program", "participant_id"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "participant_id"], name="participant_unique_id"
            ),
        ]
        indexes = [
            # The console's search by e-mail, any case (email__iexact is UPPER(email) = UPPER(…)).
            models.Index(F("program"), Upper("email"), name="participant_by_email"),
        ]

    def __str__(self):
        return self.participant_id

    @property
    def shown_name(self) -> str:
        """How the console names a person: their e-mail when known (a friend's order usually
        carries it), else the shop's participant id."""
        return self.email or self.participant_id

    @property
    def can_hold_codes(self):
        """Whether the codes app may hand this participant referral codes (and top them up):
        MAY_HOLD_CODES on this instance, without a query."""
        return matches(MAY_HOLD_CODES, self)

    @property
    def is_erased(self):
        return self.erased_at is not None


class ReferralStatus(models.TextChoices):
    PENDING = "pending", _("Pending")
    CONVERTED = "converted", _("Converted")
    CANCELLED = "cancelled", _("Cancelled")


class Referral(models.Model):
    """The link from a referred friend to the advocate whose code referred them."""

    program = models.ForeignKey(
        Program, on_delete=models.CASCADE, related_name="referrals", verbose_name=_("program")
    )
    advocate = models.ForeignKey(
        Participant,
        on_delete=models.PROTECT,
        related_name="referrals_made",
        verbose_name=_("advocate"),
    )
    # A friend is referred once per program: the first code that reached them wins.
    friend = models.OneToOneField(
        Participant,
        on_delete=models.PROTECT,
        related_name="referral_received",
        verbose_name=_("friend"),
    )
    code = models.ForeignKey(
        PromoCode,
        on_delete=models.PROTECT,
        related_name="referrals",
        null=True,
        blank=True,
        verbose_name=_("code"),
    )
    status = models.CharField(
        max_length=10,
        choices=ReferralStatus.choices,
        default=ReferralStatus.PENDING,
        verbose_name=_("status"),
    )
    order_id = models.CharField(max_length=255, blank=True, verbose_name=_("order id"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    converted_at = models.DateTimeField(null=True, blank=True, verbose_name=_("converted at"))
    cancelled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("cancelled at"))

    class Meta:
        verbose_name = _("referral")
        verbose_name_plural = _("referrals")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(condition=~Q(advocate=F("friend")), name="referral_not_self"),
            models.CheckConstraint(
                condition=Q(status__in=ReferralStatus.values), name="referral_status_valid"
            ),
        ]
        indexes = [
            models.Index(fields=["advocate", "-created_at"], name="referral_by_advocate"),
            # The read API's list (participants.selectors.referrals_page): a keyset page is
            # one range scan, with or without its status filter.
            models.Index(fields=["program", "created_at", "id"], name="referral_page"),
            models.Index(
                fields=["program", "status", "created_at", "id"], name="referral_page_by_status"
            ),
        ]

    def __str__(self):
        return f"{self.friend} ← {self.advocate} ({self.status})"


class RewardStatus(models.TextChoices):
    WAITING_FOR_STOCK = "waiting", _("Waiting for stock")
    PENDING = "pending", _("Pending review period")
    AVAILABLE = "available", _("Available")
    PAID = "paid", _("Paid")
    CANCELLED = "cancelled", _("Cancelled")
    # Held at attribution by the program's review policy, until a manager approves or denies.
    PENDING_REVIEW = "pending_review", _("Pending review")
    # Past one of the program's reward caps: recorded, never granted later by itself.
    CAPPED = "capped", _("Capped")


class Reward(models.Model):
    """What an advocate earns for one converted referral (at most one per referral)."""

    program = models.ForeignKey(
        Program, on_delete=models.CASCADE, related_name="rewards", verbose_name=_("program")
    )
    advocate = models.ForeignKey(
        Participant, on_delete=models.PROTECT, related_name="rewards", verbose_name=_("advocate")
    )
    referral = models.OneToOneField(
        Referral, on_delete=models.PROTECT, related_name="reward", verbose_name=_("referral")
    )
    kind = models.CharField(max_length=10, choices=RewardKind.choices, verbose_name=_("kind"))
    amount = models.DecimalField(
        max_digits=12, decimal_places=2, null=True, blank=True, verbose_name=_("amount")
    )
    currency = models.CharField(max_length=3, blank=True, verbose_name=_("currency"))
    percent = models.DecimalField(
        max_digits=5, decimal_places=2, null=True, blank=True, verbose_name=_("percent")
    )
    code = models.OneToOneField(
        PromoCode,
        on_delete=models.PROTECT,
        related_name="reward",
        null=True,
        blank=True,
        help_text=_("The fuel-tank code given as this reward."),
        verbose_name=_("code"),
    )
    status = models.CharField(
        max_length=16,
        choices=RewardStatus.choices,
        default=RewardStatus.PENDING,
        verbose_name=_("status"),
    )
    reason_code = models.CharField(
        max_length=40,
        blank=True,
        default="",
        db_default="",
        help_text=_("Why a capped reward was not granted (reward_cap_month, …)."),
        verbose_name=_("reason code"),
    )
    needs_review = models.BooleanField(
        default=False,
        help_text=_("Set when an order is reversed after the reward was paid."),
        verbose_name=_("needs review"),
    )
    available_at = models.DateTimeField(null=True, blank=True, verbose_name=_("available at"))
    paid_at = models.DateTimeField(null=True, blank=True, verbose_name=_("paid at"))
    cancelled_at = models.DateTimeField(null=True, blank=True, verbose_name=_("cancelled at"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("reward")
        verbose_name_plural = _("rewards")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(kind__in=RewardKind.values), name="reward_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(status__in=RewardStatus.values), name="reward_status_valid"
            ),
            models.CheckConstraint(
                condition=~Q(kind=RewardKind.CREDIT)
                | (Q(amount__isnull=False) & Q(amount__gte=0) & ~Q(currency="")),
                name="reward_credit_has_amount",
            ),
            models.CheckConstraint(
                condition=~Q(kind=RewardKind.PERCENT)
                | (Q(percent__isnull=False) & Q(percent__gte=0) & Q(percent__lte=100)),
                name="reward_percent_in_range",
            ),
        ]
        indexes = [
            models.Index(fields=["advocate", "-created_at"], name="reward_by_advocate"),
            # The read API's list (participants.selectors.rewards_page): a keyset page is one
            # range scan, with or without its status filter ("what is due": available).
            models.Index(fields=["program", "created_at", "id"], name="reward_page"),
            models.Index(
                fields=["program", "status", "created_at", "id"], name="reward_page_by_status"
            ),
            # The periodic task: pending rewards whose review period is over.
            models.Index(
                fields=["available_at"],
                condition=Q(status=RewardStatus.PENDING),
                name="reward_pending_due",
            ),
            # Fuel-tank rewards waiting for stock, filled in the order they were earned.
            models.Index(
                fields=["program", "created_at", "id"],
                condition=Q(status=RewardStatus.WAITING_FOR_STOCK),
                name="reward_waiting_for_stock",
            ),
        ]

    def __str__(self):
        return f"{self.get_kind_display()} for {self.advocate} ({self.status})"
