import secrets
import zoneinfo
from functools import cache

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models
from django.db.models import F, Q
from django.utils import translation
from django.utils.translation import gettext_lazy as _
from django.utils.translation import gettext_noop

from .validators import validate_single_line

MAX_CODES_PER_ADVOCATE = 25


class CodeUsage(models.TextChoices):
    MULTI = "multi", _("Multi-use")
    SINGLE = "single", _("Single-use")


class RewardKind(models.TextChoices):
    CREDIT = "credit", _("Credit (amount and currency)")
    PERCENT = "percent", _("Percent discount")
    FUEL_TANK = "fuel_tank", _("Fuel tank code")


# The code quota (docs/architecture.md, Where each rule lives): how many codes an advocate should
# hold, and which of their held codes count toward it. Written once here, in Python and in SQL
# side by side (the claim engine's statements and the database functions take the SQL; a test
# holds the two equal).


def code_quota_of(code_usage: str, codes_per_advocate: int) -> int:
    """Single-use programs: `codes_per_advocate` codes; multi-use: one."""
    return codes_per_advocate if code_usage == CodeUsage.SINGLE else 1


def quota_usages_of(code_usage: str) -> tuple[str, ...]:
    """The usages of held codes that count toward the quota: in a single-use program only
    single-use codes (a multi-use code kept from before the switch still attributes but does
    not fill the quota)."""
    return (CodeUsage.SINGLE,) if code_usage == CodeUsage.SINGLE else tuple(CodeUsage.values)


def code_quota_sql(code_usage: str, codes_per_advocate: str) -> str:
    """code_quota_of as SQL over two column expressions."""
    return f"(CASE WHEN {code_usage} = '{CodeUsage.SINGLE}' THEN {codes_per_advocate} ELSE 1 END)"


def counts_toward_quota_sql(program_usage: str, code_usage: str) -> str:
    """quota_usages_of as SQL: whether a code of usage `code_usage` counts in a program of
    usage `program_usage` (column expressions)."""
    single = f"'{CodeUsage.SINGLE}'"
    return f"({program_usage} <> {single} OR {code_usage} = {single})"


class ReviewPolicy(models.TextChoices):
    OFF = "off", _("Off: approve every referral")
    RELAXED = "relaxed", _("Relaxed")
    MODERATE = "moderate", _("Moderate")
    STRICT = "strict", _("Strict")
    CUSTOM = "custom", _("Custom thresholds")


# Each policy's thresholds on the review score (0-100): (hold at or above, deny at or above).
# README, "Reviewing referrals", lists them; conversions.review computes the score.
REVIEW_THRESHOLDS = {
    ReviewPolicy.RELAXED: (70, 100),
    ReviewPolicy.MODERATE: (40, 80),
    ReviewPolicy.STRICT: (20, 40),
}
DEFAULT_VELOCITY_PER_HOUR = 10


def offered_languages():
    """settings.LANGUAGES, read when a form asks: adding a language needs no migration."""
    return settings.LANGUAGES


# The offer a new program starts with; the catalogues (locale/) hold it in every language.
DEFAULT_FRIEND_OFFER_TEXT = gettext_noop("Give your friends 20% off their first order.")


def default_friend_offer_translations():
    """A new program's offer in every offered language but the default one (LANGUAGE_CODE)."""
    texts = {}
    for code, _name in settings.LANGUAGES:
        if code != settings.LANGUAGE_CODE:
            with translation.override(code):
                texts[code] = translation.gettext(DEFAULT_FRIEND_OFFER_TEXT)
    return texts


def new_widget_secret():
    return secrets.token_urlsafe(48)


class Program(models.Model):
    """One advocate program of a brand, with its promo-code, reward and widget settings.

    Two settings only ever move one way (promo codes on; single-use codes); the service layer
    (programs.services) is the only writer and refuses to undo them.
    """

    slug = models.SlugField(_("slug"), max_length=50, unique=True)
    # Reaches e-mail subjects (low-stock alerts): one line, no control characters.
    name = models.CharField(_("name"), max_length=200, validators=[validate_single_line])

    promo_codes_enabled = models.BooleanField(
        _("referral promo codes"),
        default=False,
        help_text=_("Once turned on for a program it can never be turned off."),
    )
    code_usage = models.CharField(
        _("usage"),
        max_length=6,
        choices=CodeUsage.choices,
        default=CodeUsage.MULTI,
        help_text=_("Once saved as single-use a program can never go back to multi-use."),
    )
    codes_per_advocate = models.PositiveSmallIntegerField(
        _("codes per advocate"),
        default=1,
        validators=[MinValueValidator(1), MaxValueValidator(MAX_CODES_PER_ADVOCATE)],
        help_text=_("Single-use only (1–25). With multi-use codes each advocate holds one code."),
    )
    low_stock_threshold = models.PositiveIntegerField(
        _("low-stock threshold"),
        default=100,
        help_text=_("Email the recipients when this many available codes or fewer are left."),
    )
    low_stock_recipients = models.TextField(
        _("low-stock recipients"),
        blank=True,
        help_text=_("Who is emailed about low stock: one address per line (or comma-separated)."),
    )

    reward_kind = models.CharField(
        _("reward kind"),
        max_length=10,
        choices=RewardKind.choices,
        default=RewardKind.CREDIT,
    )
    reward_amount = models.DecimalField(
        _("reward amount"),
        max_digits=12,
        decimal_places=2,
        default=10,
    )
    reward_currency = models.CharField(_("reward currency"), max_length=3, default="USD")
    reward_percent = models.DecimalField(
        _("reward percent"),
        max_digits=5,
        decimal_places=2,
        default=10,
    )
    reward_review_days = models.PositiveSmallIntegerField(
        _("review period (days)"),
        default=0,
        help_text=_("A reward stays pending this many days before it becomes available."),
    )
    reward_code_valid_days = models.PositiveSmallIntegerField(
        _("reward codes valid for (days)"),
        null=True,
        blank=True,
        help_text=_(
            "A fuel-tank reward code expires this many days after it is revealed to its "
            "advocate (empty: it keeps the expiry its batch gave it)."
        ),
    )

    review_policy = models.CharField(
        _("review policy"),
        max_length=8,
        choices=ReviewPolicy.choices,
        default=ReviewPolicy.OFF,
        help_text=_(
            "How referrals are checked at attribution: relaxed holds at a score of 70 and "
            "denies at 100, moderate 40 and 80, strict 20 and 40; custom uses the thresholds "
            "below."
        ),
    )
    review_hold_at = models.PositiveSmallIntegerField(
        _("hold at score"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("Custom policy: a referral scoring this or more is held for review."),
    )
    review_deny_at = models.PositiveSmallIntegerField(
        _("deny at score"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1), MaxValueValidator(100)],
        help_text=_("Custom policy: a referral scoring this or more is denied."),
    )
    review_velocity_per_hour = models.PositiveSmallIntegerField(
        _("velocity limit (orders per hour)"),
        default=DEFAULT_VELOCITY_PER_HOUR,
        validators=[MinValueValidator(1)],
        help_text=_("More referred orders than this for one advocate within an hour is flagged."),
    )
    # A multi-use code used by more customers than this within 24 hours has leaked
    # (docs/architecture.md, Review and caps at attribution).
    review_leak_customers_per_day = models.PositiveIntegerField(
        _("leaked code: customers per day"),
        null=True,
        blank=True,
        help_text=_(
            "A multi-use code used by more customers than this within 24 hours is flagged as "
            "leaked and e-mailed once to the alert recipients; blank or 0: off."
        ),
    )
    reward_cap_advocate_month = models.PositiveIntegerField(
        _("rewards per advocate per month"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_(
            "At most this many rewards per advocate per calendar month (UTC); blank: none."
        ),
    )
    reward_cap_advocate_total = models.PositiveIntegerField(
        _("rewards per advocate in total"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("At most this many rewards per advocate ever; blank: no cap."),
    )
    reward_cap_program_day = models.PositiveIntegerField(
        _("rewards per program per day"),
        null=True,
        blank=True,
        validators=[MinValueValidator(1)],
        help_text=_("At most this many rewards in the program per day (UTC); blank: no cap."),
    )

    friend_offer_text = models.CharField(
        _("friend offer text"),
        max_length=300,
        default=DEFAULT_FRIEND_OFFER_TEXT,
        help_text=_(
            "Shown in the widget above the advocate's code, to advocates whose language has "
            "no version of its own below."
        ),
    )
    friend_offer_translations = models.JSONField(
        _("friend offer text in other languages"),
        default=default_friend_offer_translations,
        blank=True,
        help_text=_("The offer per language: {language code: text}."),
    )
    default_language = models.CharField(
        _("widget's default language"),
        max_length=15,
        choices=offered_languages,
        default="en",
        help_text=_(
            "The widget's language for an advocate whose own language is unknown or not "
            "offered (after their locale, the page's ?lang= and their browser's languages)."
        ),
    )
    alert_language = models.CharField(
        _("alert e-mails' language"),
        max_length=15,
        choices=offered_languages,
        default="en",
        help_text=_(
            "The language of the alert e-mails (low stock, leaked codes) sent to the recipients."
        ),
    )
    widget_secret = models.CharField(
        max_length=100, default=new_widget_secret, editable=False, verbose_name=_("widget secret")
    )
    widget_allowed_origins = models.TextField(
        _("widget allowed origins"),
        blank=True,
        help_text=_("Origins that may embed the widget, one per line (https://shop.example)."),
    )

    managers = models.ManyToManyField(
        settings.AUTH_USER_MODEL,
        through="ProgramManager",
        related_name="managed_programs",
        blank=True,
        verbose_name=_("managers"),
    )

    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    updated_at = models.DateTimeField(auto_now=True, verbose_name=_("updated at"))

    class Meta:
        verbose_name = _("program")
        verbose_name_plural = _("programs")
        ordering = ["name"]
        constraints = [
            models.CheckConstraint(
                condition=Q(codes_per_advocate__gte=1)
                & Q(codes_per_advocate__lte=MAX_CODES_PER_ADVOCATE),
                name="program_codes_per_advocate_1_to_25",
            ),
            models.CheckConstraint(
                condition=Q(code_usage__in=CodeUsage.values), name="program_code_usage_valid"
            ),
            models.CheckConstraint(
                condition=Q(reward_kind__in=RewardKind.values), name="program_reward_kind_valid"
            ),
            models.CheckConstraint(
                condition=Q(reward_amount__gte=0)
                & Q(reward_percent__gte=0)
                & Q(reward_percent__lte=100),
                name="program_reward_values_in_range",
            ),
            models.CheckConstraint(
                condition=Q(review_policy__in=ReviewPolicy.values),
                name="program_review_policy_valid",
            ),
            models.CheckConstraint(
                condition=~Q(review_policy=ReviewPolicy.CUSTOM)
                | (
                    Q(review_hold_at__gte=1)
                    & Q(review_hold_at__lte=F("review_deny_at"))
                    & Q(review_deny_at__lte=100)
                ),
                name="program_review_custom_thresholds",
            ),
        ]

    def __str__(self):
        return self.name

    def clean(self):
        super().clean()
        if self.review_policy == ReviewPolicy.CUSTOM:
            hold, deny = self.review_hold_at, self.review_deny_at
            if hold is None or deny is None:
                raise ValidationError(
                    {"review_policy": "A custom policy needs both a hold and a deny score."}
                )
            if hold > deny:
                raise ValidationError(
                    {"review_hold_at": f"The hold score ({hold}) is above the deny score ({deny})."}
                )

    def friend_offer_text_in(self, language):
        """The offer as an advocate reading `language` sees it: that language's version, else
        the program's own text."""
        return (self.friend_offer_translations or {}).get(language) or self.friend_offer_text

    @property
    def is_single_use(self):
        return self.code_usage == CodeUsage.SINGLE

    @property
    def code_quota(self):
        """How many unredeemed codes each advocate should hold (code_quota_of)."""
        return code_quota_of(self.code_usage, self.codes_per_advocate)

    @property
    def quota_usages(self):
        """The usages of held codes that count toward the quota (quota_usages_of)."""
        return quota_usages_of(self.code_usage)

    @property
    def review_thresholds(self) -> tuple[int, int] | None:
        """(hold at, deny at) on the review score; None when the policy is off."""
        if self.review_policy == ReviewPolicy.OFF:
            return None
        if self.review_policy == ReviewPolicy.CUSTOM:
            return self.review_hold_at, self.review_deny_at
        return REVIEW_THRESHOLDS[self.review_policy]

    @property
    def has_reward_caps(self) -> bool:
        return any(
            (
                self.reward_cap_advocate_month,
                self.reward_cap_advocate_total,
                self.reward_cap_program_day,
            )
        )

    @property
    def recipient_list(self):
        return split_addresses(self.low_stock_recipients)

    @property
    def allowed_origin_list(self):
        return [o.strip().rstrip("/") for o in self.widget_allowed_origins.split() if o.strip()]


def split_addresses(text):
    return [part.strip() for part in text.replace(",", "\n").splitlines() if part.strip()]


class ProgramManager(models.Model):
    """A staff user who may manage one program in the admin."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, verbose_name=_("program"))
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, verbose_name=_("user")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("program manager")
        verbose_name_plural = _("program managers")
        constraints = [
            models.UniqueConstraint(fields=["program", "user"], name="program_manager_unique")
        ]

    def __str__(self):
        return f"{self.user} manages {self.program}"


@cache
def time_zone_names() -> tuple[str, ...]:
    """The time zones a manager may choose: zoneinfo's available zones (IANA names), sorted."""
    return tuple(sorted(zoneinfo.available_timezones()))


def validate_time_zone(value):
    """A time zone is one of zoneinfo's available zones, named as IANA names it."""
    if value not in time_zone_names():
        raise ValidationError(
            _("“%(value)s” is not a time zone: choose one from the list, such as Europe/Paris."),
            code="unknown_time_zone",
            params={"value": value},
        )


class ConsoleSettings(models.Model):
    """A console user's own settings: the time zone the console shows times in (the language
    is the console's language cookie). No row: UTC."""

    DEFAULT_TIME_ZONE = "UTC"

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="console_settings"
    )
    time_zone = models.CharField(
        _("time zone"),
        max_length=64,
        default=DEFAULT_TIME_ZONE,
        validators=[validate_time_zone],
        help_text=_("Every date and time in the console is shown in this zone."),
    )

    class Meta:
        verbose_name = _("console settings")
        verbose_name_plural = _("console settings")

    def __str__(self):
        return f"{self.user}: {self.time_zone}"


class ApiKey(models.Model):
    """A program's server-API key. Only its SHA-256 digest is stored; the key is shown once."""

    program = models.ForeignKey(
        Program, on_delete=models.CASCADE, related_name="api_keys", verbose_name=_("program")
    )
    name = models.CharField(max_length=100, verbose_name=_("name"))
    prefix = models.CharField(
        max_length=16,
        help_text=_("The first characters, to recognise it."),
        verbose_name=_("prefix"),
    )
    digest = models.CharField(max_length=64, unique=True, verbose_name=_("digest"))
    requests_per_minute = models.PositiveIntegerField(
        default=10_000, verbose_name=_("requests per minute")
    )
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))
    last_used_at = models.DateTimeField(null=True, blank=True, verbose_name=_("last used at"))
    revoked_at = models.DateTimeField(null=True, blank=True, verbose_name=_("revoked at"))

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(requests_per_minute__gte=1), name="apikey_rate_positive"
            )
        ]

    def __str__(self):
        return f"{self.name} ({self.prefix}…)"


class WidgetComponentKind(models.TextChoices):
    REFERRAL_PROMO_CODE = "referral_promo_code", _("Referral promo code")
    REFERRAL_LINK = "referral_link", _("Referral link")
    REWARDS_SUMMARY = "rewards_summary", _("Referrals and rewards summary")


class Widget(models.Model):
    """A widget the brand shows advocates; made of components."""

    program = models.ForeignKey(
        Program, on_delete=models.CASCADE, related_name="widgets", verbose_name=_("program")
    )
    name = models.CharField(max_length=100, verbose_name=_("name"))
    created_at = models.DateTimeField(auto_now_add=True, verbose_name=_("created at"))

    class Meta:
        verbose_name = _("widget")
        verbose_name_plural = _("widgets")
        ordering = ["program", "name"]
        constraints = [
            models.UniqueConstraint(fields=["program", "name"], name="widget_unique_name")
        ]

    def __str__(self):
        return self.name


class WidgetComponent(models.Model):
    widget = models.ForeignKey(
        Widget, on_delete=models.CASCADE, related_name="components", verbose_name=_("widget")
    )
    kind = models.CharField(
        max_length=30, choices=WidgetComponentKind.choices, verbose_name=_("kind")
    )
    position = models.PositiveSmallIntegerField(default=0, verbose_name=_("position"))

    class Meta:
        verbose_name = _("widget component")
        verbose_name_plural = _("widget components")
        ordering = ["widget", "position", "id"]
        constraints = [
            models.UniqueConstraint(fields=["widget", "kind"], name="widget_component_once"),
            models.CheckConstraint(
                condition=Q(kind__in=WidgetComponentKind.values), name="widget_component_kind"
            ),
        ]

    def __str__(self):
        return self.get_kind_display()
