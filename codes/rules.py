"""What a valid code is, its canonical form (docs/architecture.md, Codes), and what a code may be
used for.

`canonical_code` is the one canonical form: uploads, the APIs, the widget and the conversions
all go through it. `code_verdict` is the one eligibility check: whether a code may refer a
friend, attribute an order or be copied by a participant, and if not, why: a refusal code
(codes.refusals) and the sentence derived from it, for the person who asked. The states it
reads are `codes.models.CodeState`'s.
"""

import re
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from django.db.models import Q
from django.utils.translation import gettext_noop as N_

from foundation.predicates import matches
from foundation.wording import said_later
from programs.models import CodeUsage

from .models import CODE_CHAR_CLASS, CODE_MAX_LENGTH, CodeState, CodeStatus, PoolKind, PromoCode
from .refusals import Refusal, code_sentence, order_sentence

# The characters of a code; a canonical code is upper case (the database refuses anything else).
# It begins with a letter or digit, so that no code reads as a formula in a spreadsheet (`-A1`,
# `_X`) and exports can write codes verbatim (docs/architecture.md, Exports).
CODE_CHARACTERS = "A–Z, a–z, 0–9, - and _"
_ALLOWED = re.compile(rf"[{CODE_CHAR_CLASS}]+")
CODE_PATTERN = re.compile(rf"[A-Za-z0-9][{CODE_CHAR_CLASS}]{{0,{CODE_MAX_LENGTH - 1}}}")


# Header cells that name the code column of a file, compared without case, spaces, "_" or "-",
# in order of priority: when several cells of a header row name codes, the one earliest here
# holds them (`code` over `coupon`: Stripe's `coupon` is the coupon's id, its `code` the codes).
HEADER_NAMES = (
    "code",
    "codes",
    "promo code",
    "promo_code",
    "promocode",
    "discount code",
    "discount_code",
    "coupon code",
    "voucher code",
    "redeem code",
    "voucher",
    "coupon",
)


class InvalidCode(ValueError):
    """A code that breaks the rules; the message says why, for a person."""


def canonical_code(raw: object) -> str:
    """Strip surrounding whitespace and upper-case; raise InvalidCode naming the problem."""
    if not isinstance(raw, str):
        raise InvalidCode(said_later(N_("not text (%(type)s)"), type=type(raw).__name__))
    text = raw.strip()
    if CODE_PATTERN.fullmatch(text):  # the common case, without building a message
        return text.upper()
    if not text:
        raise InvalidCode(said_later(N_("blank")))
    if len(text) > CODE_MAX_LENGTH:
        raise InvalidCode(
            said_later(
                N_("too long (%(length)s characters, at most %(limit)s)"),
                length=len(text),
                limit=CODE_MAX_LENGTH,
            )
        )
    bad = sorted({ch for ch in text if not _ALLOWED.fullmatch(ch)})
    if not bad:
        raise InvalidCode(
            said_later(
                N_("begins with %(value)s: a code begins with a letter or digit"),
                value=repr(text[0]),
            )
        )
    shown = ", ".join(repr(ch) for ch in bad[:10])
    raise InvalidCode(
        said_later(
            N_("invalid characters %(value)s (only %(allowed)s)"),
            value=shown,
            allowed=CODE_CHARACTERS,
        )
    )


def canonical_or_none(raw: object) -> str | None:
    """The canonical form, or None for anything that cannot be a code (no exception)."""
    try:
        return canonical_code(raw)
    except InvalidCode:
        return None


# A field that may carry several codes (an order's OrderPromoCode: a shop's own coupon beside
# the referral code) separates them by commas, semicolons or spaces.
_CODE_SEPARATORS = re.compile(r"[,;\s]+")


def promo_codes_split(text: str) -> list[str]:
    """The codes of a field that may list several, in the order sent, each once (as sent: the
    caller canonicalises)."""
    codes = []
    for part in _CODE_SEPARATORS.split(text or ""):
        if part and part not in codes:
            codes.append(part)
    return codes


class CodeUse(StrEnum):
    REFER = "refer"  # `referred_by_code` of an upsert, a participant import or a widget token
    ATTRIBUTE = "attribute"  # `OrderPromoCode` of a conversion
    COPY = "copy"  # the participant copies it in the widget


@dataclass(frozen=True)
class Verdict:
    allowed: bool
    # Why not (None when allowed): a stable code; the sentence is derived from it (`reason`).
    refusal: Refusal | None = None
    # For ATTRIBUTE: a refusal of a code that is one of the program's referral codes makes the
    # order `rejected`; of anything else (an ordinary shop promo, a fuel-tank code),
    # `unattributed`.
    is_referral_code: bool = False
    use: CodeUse = CodeUse.ATTRIBUTE
    shown: str = ""  # the code as named, for the sentences that name it
    when: datetime | None = None  # the date the sentence names: when a code was voided…

    @property
    def reason(self) -> str:
        """The refusal in words, for the person who asked ("" when allowed)."""
        if self.refusal is None:
            return ""
        if self.use == CodeUse.ATTRIBUTE:
            return order_sentence(self.refusal, when=self.when)
        return code_sentence(self.refusal, code=self.shown, when=self.when)


ALLOWED = Verdict(True, is_referral_code=True)


# Why a code may not attribute an order, in the order the rules are checked: the first that
# holds is the refusal. Each is a predicate on the code (a Q over `CodeState`'s states): the
# Python path reads it on the loaded code (foundation.predicates.matches) and the attribution
# function is generated from it (conversions.sql). None: the holder may not hold codes, the
# participants app's rule (`can_hold_codes`, participants.models.MAY_HOLD_CODES). A code absent
# from the program is NOT_REFERRAL_CODE before any of these.
ATTRIBUTE_REFUSALS: tuple[tuple[Refusal, Q | None], ...] = (
    (Refusal.NOT_REFERRAL_CODE, ~CodeState.IN_REFERRAL_POOL),
    (Refusal.CODE_VOIDED, CodeState.VOIDED),
    (Refusal.CODE_EXPIRED, CodeState.EXPIRED),
    (Refusal.CODE_NOT_YET_VALID, CodeState.NOT_YET_VALID),
    (Refusal.CODE_UNHELD, Q(holder__isnull=True) | CodeState.AVAILABLE),
    (Refusal.CODE_ALREADY_REDEEMED, CodeState.REDEEMED & Q(usage=CodeUsage.SINGLE)),
    (Refusal.ADVOCATE_BLOCKED, None),
)
# Refusals that leave an order `unattributed` rather than `rejected`: the code is not (or not
# now) a referral code the shop would take.
UNATTRIBUTED_REFUSALS = frozenset(
    {Refusal.NOT_REFERRAL_CODE, Refusal.CODE_EXPIRED, Refusal.CODE_NOT_YET_VALID}
)
# A friend may be linked to the holder of a code already redeemed (the friend may sign up after
# their order); the other refusals apply to a referral link as to an order.
_REFER_SKIPS = {Refusal.CODE_ALREADY_REDEEMED}


def code_verdict(
    code: PromoCode | None, *, use: CodeUse, text: str = "", participant_id: int | None = None
) -> Verdict:
    """May `code` (None: no such code in the program) be used for `use`?

    `text` is the code as the caller named it, for the messages. `participant_id` is who asks:
    the friend being referred (REFER: their own code refuses) or the participant copying
    (COPY: only a code they hold, or a reward code revealed to them). The holder's own
    standing comes from the participants app (`holder.can_hold_codes`); load the code with
    select_related("pool", "holder").
    """
    shown = code.code if code is not None else (text or "").strip().upper()[:CODE_MAX_LENGTH]

    def refused(refusal, *, referral=True, when=None):
        return Verdict(False, refusal, referral, use, shown, when)

    if use == CodeUse.COPY:
        return _copy_verdict(code, participant_id, refused)
    if code is None:
        return refused(Refusal.NOT_REFERRAL_CODE, referral=False)
    for refusal, predicate in ATTRIBUTE_REFUSALS:
        if use == CodeUse.REFER and refusal in _REFER_SKIPS:
            continue
        holder_refused = predicate is None and not code.holder.can_hold_codes
        if holder_refused or (predicate is not None and matches(predicate, code)):
            return refused(
                refusal,
                referral=refusal not in UNATTRIBUTED_REFUSALS,
                when=refusal_when(refusal, code.voided_at, code.expires_at, code.valid_from),
            )
    if use == CodeUse.REFER and participant_id is not None and code.holder_id == participant_id:
        return refused(Refusal.SELF_REFERRAL)
    return ALLOWED


def refusal_when(refusal, voided_at, expires_at, valid_from) -> datetime | None:
    """The moment a refusal's sentence names as a date (None for none)."""
    return {
        Refusal.CODE_VOIDED: voided_at,
        Refusal.CODE_EXPIRED: expires_at,
        Refusal.CODE_NOT_YET_VALID: valid_from,
    }.get(refusal)


def _copy_verdict(code, participant_id, refused):
    if code is None or participant_id is None or code.holder_id != participant_id:
        return refused(Refusal.NOT_YOUR_CODE, referral=False)
    if code.status != CodeStatus.ASSIGNED:
        return refused(Refusal.NOT_YOUR_CODE, referral=False)
    if code.pool.kind == PoolKind.FUEL_TANK and code.revealed_at is None:
        # reserved for a reward still in its review period: not shown yet
        return refused(Refusal.NOT_YOUR_CODE, referral=False)
    return Verdict(True, is_referral_code=code.pool.kind == PoolKind.REFERRAL, use=CodeUse.COPY)
