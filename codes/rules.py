"""What a valid code is, its canonical form (docs/architecture.md, Codes), and what a code may be
used for.

`canonical_code` is the one canonical form: uploads, the APIs, the widget and the conversions
all go through it. `code_verdict` is the one eligibility check: whether a code may refer a
friend, attribute an order or be copied by a participant, and if not, why, in words for the
person who asked. The states it reads are `codes.models.CodeState`'s.
"""

import re
from dataclasses import dataclass
from enum import StrEnum

from programs.models import CodeUsage

from .models import CODE_MAX_LENGTH, CodeStatus, PoolKind, PromoCode

# The characters of a code; a canonical code is upper case (the database refuses anything else).
CODE_CHARACTERS = "A–Z, a–z, 0–9, - and _"
_ALLOWED = re.compile(r"[A-Za-z0-9_-]+")
CODE_PATTERN = re.compile(rf"[A-Za-z0-9_-]{{1,{CODE_MAX_LENGTH}}}")


class InvalidCode(ValueError):
    """A code that breaks the rules; the message says why, for a person."""


def canonical_code(raw: object) -> str:
    """Strip surrounding whitespace and upper-case; raise InvalidCode naming the problem."""
    if not isinstance(raw, str):
        raise InvalidCode(f"not text ({type(raw).__name__})")
    text = raw.strip()
    if CODE_PATTERN.fullmatch(text):  # the common case, without building a message
        return text.upper()
    if not text:
        raise InvalidCode("blank")
    if len(text) > CODE_MAX_LENGTH:
        raise InvalidCode(f"too long ({len(text)} characters, at most {CODE_MAX_LENGTH})")
    bad = sorted({ch for ch in text if not _ALLOWED.fullmatch(ch)})
    shown = ", ".join(repr(ch) for ch in bad[:10])
    raise InvalidCode(f"invalid characters {shown} (only {CODE_CHARACTERS})")


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
    reason: str = ""
    # For ATTRIBUTE: a refusal of a code that is one of the program's referral codes makes the
    # order `rejected`; of anything else (an ordinary shop promo, a fuel-tank code),
    # `unattributed`.
    is_referral_code: bool = False


ALLOWED = Verdict(True, is_referral_code=True)


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
    shown = code.code if code is not None else (text or "").strip().upper()[:64]
    if use == CodeUse.COPY:
        return _copy_verdict(code, shown, participant_id)
    if code is None or code.pool.kind != PoolKind.REFERRAL:
        if use == CodeUse.ATTRIBUTE:
            return Verdict(False, "The promo code is not one of the program's referral codes.")
        return Verdict(False, f"{shown} is not one of this program's referral codes.")
    if code.status == CodeStatus.VOIDED:
        when = f" on {code.voided_at:%Y-%m-%d}" if code.voided_at else ""
        if use == CodeUse.ATTRIBUTE:
            return Verdict(
                False,
                f"The code was voided{when}: it no longer attributes orders.",
                is_referral_code=True,
            )
        return Verdict(False, f"{shown} was voided{when}.", is_referral_code=True)
    if code.holder_id is None or code.status == CodeStatus.AVAILABLE:
        if use == CodeUse.ATTRIBUTE:
            return Verdict(False, "The code is held by no advocate.", is_referral_code=True)
        return Verdict(False, f"{shown} is not held by any advocate.", is_referral_code=True)
    if use == CodeUse.ATTRIBUTE:
        if code.usage == CodeUsage.SINGLE and code.status == CodeStatus.REDEEMED:
            return Verdict(
                False, "The single-use code was already redeemed.", is_referral_code=True
            )
        if not code.holder.can_hold_codes:
            return Verdict(False, "The advocate is blocked.", is_referral_code=True)
        return ALLOWED
    # REFER: a friend may be linked to the holder of a code already redeemed (the friend may
    # sign up after their order), but not to a blocked advocate, nor to themselves.
    if not code.holder.can_hold_codes:
        return Verdict(False, f"The advocate holding {shown} is blocked.", is_referral_code=True)
    if participant_id is not None and code.holder_id == participant_id:
        return Verdict(
            False, "A participant cannot be referred by their own code.", is_referral_code=True
        )
    return ALLOWED


def _copy_verdict(code, shown, participant_id):
    refused = Verdict(False, f"{shown} is not one of your codes.")
    if code is None or participant_id is None or code.holder_id != participant_id:
        return refused
    if code.status != CodeStatus.ASSIGNED:
        return refused
    if code.pool.kind == PoolKind.FUEL_TANK and code.revealed_at is None:
        return refused  # reserved for a reward still in its review period: not shown yet
    return Verdict(True, is_referral_code=code.pool.kind == PoolKind.REFERRAL)
