"""The review of a referral at attribution (README, "Reviewing referrals"): each check is a
named rule with its code and weight, the score is their weights' sum (at most 100), and the
program's policy turns the score into approved, held or denied.

The checks are pure functions of `ReviewFacts`; `conversions.selectors.review_facts` reads
the facts in one statement, and `referral_review` is the one call the attribution makes.
"""

import unicodedata
from collections.abc import Callable
from dataclasses import dataclass

from disposable_email_domains import blocklist as DISPOSABLE_DOMAINS
from django.utils.translation import gettext_lazy as _

from .models import ReviewStatus

# Gmail ignores dots in the local part, and every provider here ignores a +tag.
_DOTLESS_DOMAINS = {"gmail.com": "gmail.com", "googlemail.com": "gmail.com"}
EXISTING_CUSTOMER_STATUSES = {"returning", "existing"}


@dataclass(frozen=True)
class ReviewFacts:
    """What the checks look at: the order as sent, and what the program knows of the
    advocate and the friend."""

    customer_email: str  # lower case: an address, or a SHA-1/SHA-256 digest
    customer_id: str
    customer_status: str  # impact's CustomerStatus, as sent
    ip_hash: str  # the order's IpAddress, hashed ("" when not sent)
    advocate_participant_id: str
    advocate_email: str
    advocate_name: str
    friend_name: str
    # The advocate was seen at the order's address: their widget load or their own orders.
    advocate_seen_at_ip: bool
    friend_ordered_before: bool
    advocate_orders_last_hour: int  # other referred orders of the advocate in the last hour
    velocity_limit: int


def normalise_email(address: str) -> str:
    """Lower case, without a +tag, and without dots in a Gmail local part; "" for no
    address."""
    address = (address or "").strip().lower()
    local, at, domain = address.rpartition("@")
    if not at or not local:
        return ""
    local = local.split("+", 1)[0]
    if domain in _DOTLESS_DOMAINS:
        local, domain = local.replace(".", ""), _DOTLESS_DOMAINS[domain]
    return f"{local}@{domain}"


def normalise_name(name: str) -> str:
    """Case, accents, punctuation and spacing do not matter: "Anna-Lind " is "anna lind"."""
    text = unicodedata.normalize("NFKD", name or "")
    text = "".join(ch for ch in text if not unicodedata.combining(ch))
    words = "".join(ch if ch.isalnum() else " " for ch in text.casefold()).split()
    return " ".join(words)


def email_domain(address: str) -> str:
    return address.rpartition("@")[2].strip().lower() if "@" in (address or "") else ""


def _same_normalised_email(facts: ReviewFacts) -> bool:
    customer = normalise_email(facts.customer_email)
    return bool(customer) and customer == normalise_email(facts.advocate_email)


def _same_customer_id(facts: ReviewFacts) -> bool:
    customer = facts.customer_id.strip().casefold()
    return bool(customer) and customer == facts.advocate_participant_id.strip().casefold()


def _same_name(facts: ReviewFacts) -> bool:
    friend = normalise_name(facts.friend_name)
    return bool(friend) and friend == normalise_name(facts.advocate_name)


def _same_ip(facts: ReviewFacts) -> bool:
    return bool(facts.ip_hash) and facts.advocate_seen_at_ip


def _disposable_email(facts: ReviewFacts) -> bool:
    domain = email_domain(facts.customer_email)
    if domain in DISPOSABLE_DOMAINS:
        return True
    # A subdomain of a listed domain (x.mailinator.com) is as disposable.
    parts = domain.split(".")
    return any(".".join(parts[i:]) in DISPOSABLE_DOMAINS for i in range(1, len(parts) - 1))


def _existing_customer(facts: ReviewFacts) -> bool:
    status = facts.customer_status.strip().lower()
    return status in EXISTING_CUSTOMER_STATUSES or facts.friend_ordered_before


def _velocity(facts: ReviewFacts) -> bool:
    # This order included: more than the limit within the hour.
    return facts.advocate_orders_last_hour + 1 > facts.velocity_limit


@dataclass(frozen=True)
class Check:
    code: str
    weight: int
    label: str  # its name, for the manager: in the review queue's column
    words: str  # what it found, for the manager: on the held referral's page
    applies: Callable[[ReviewFacts], bool]


CHECKS = (
    Check(
        "self_referral_email",
        80,
        _("Self-referral (e-mail)"),
        _("The customer's e-mail is the advocate's once case, dots and +tags are ignored."),
        _same_normalised_email,
    ),
    Check(
        "self_referral_id",
        80,
        _("Self-referral (customer id)"),
        _("The customer id is the advocate's, but for case or spaces."),
        _same_customer_id,
    ),
    Check(
        "self_referral_name",
        40,
        _("Self-referral (name)"),
        _("The customer has the advocate's name."),
        _same_name,
    ),
    Check(
        "same_ip",
        50,
        _("Same IP address"),
        _("The order came from an IP address the advocate used (their widget or own orders)."),
        _same_ip,
    ),
    Check(
        "disposable_email",
        40,
        _("Disposable e-mail"),
        _("The customer's e-mail is at a disposable (throwaway) domain."),
        _disposable_email,
    ),
    Check(
        "existing_customer",
        30,
        _("Existing customer"),
        _("The customer had ordered before (or the shop says they are returning)."),
        _existing_customer,
    ),
    Check(
        "velocity",
        30,
        _("Velocity"),
        _("The advocate's code brought more orders within the hour than the program allows."),
        _velocity,
    ),
)
CHECKS_BY_CODE = {check.code: check for check in CHECKS}


@dataclass(frozen=True)
class Review:
    status: str  # ReviewStatus
    score: int
    reasons: tuple[str, ...]

    def body(self) -> dict:
        return {"status": self.status, "score": self.score, "reasons": list(self.reasons)}


def review_score(facts: ReviewFacts) -> tuple[int, tuple[str, ...]]:
    """The score (0-100) and the codes of the checks that applied, in CHECKS order."""
    reasons = tuple(check.code for check in CHECKS if check.applies(facts))
    weights = {check.code: check.weight for check in CHECKS}
    return min(100, sum(weights[code] for code in reasons)), reasons


def review_decide(score: int, thresholds: tuple[int, int]) -> str:
    hold_at, deny_at = thresholds
    if score >= deny_at:
        return ReviewStatus.DENIED
    if score >= hold_at:
        return ReviewStatus.HELD
    return ReviewStatus.APPROVED


def review_of(facts: ReviewFacts, thresholds: tuple[int, int]) -> Review:
    score, reasons = review_score(facts)
    return Review(review_decide(score, thresholds), score, reasons)


def review_body(conversion) -> dict | None:
    """The review made at attribution as the conversion's answer and the
    referral.held_for_review event show it: {status, score, reasons}; None when none was made
    (the policy is off, or the order rewarded nobody)."""
    if not conversion.review_status:
        return None
    reasons = conversion.review_reasons.split(",") if conversion.review_reasons else []
    return {
        "status": conversion.review_status,
        "score": conversion.review_score,
        "reasons": reasons,
    }
