"""Refusal codes: why a code (or an order) was refused, as a stable word for an API client or a
test, with the sentence for a person derived from it (docs/architecture.md, Where each rule
lives).

A rule returns a `Refusal`; the words people read are written once, here. The conversion answer
carries both (`reason_code` and `reason`); a refusal of a referral link or a copy raises with
the sentence.
"""

from enum import StrEnum


class Refusal(StrEnum):
    # The code itself (codes.rules.code_verdict).
    NOT_REFERRAL_CODE = "not_referral_code"  # unknown in the program, or not a referral code
    CODE_VOIDED = "code_voided"
    CODE_UNHELD = "code_unheld"  # in stock, held by no advocate
    CODE_ALREADY_REDEEMED = "code_already_redeemed"  # a single-use code already used
    ADVOCATE_BLOCKED = "advocate_blocked"  # its holder is blocked or erased
    NOT_YOUR_CODE = "not_your_code"  # a copy of a code the participant does not hold
    # The order or the people (conversions, referrals).
    NO_CODE = "no_code"
    SELF_REFERRAL = "self_referral"
    CODE_NOT_REDEEMABLE = "code_not_redeemable"  # the code changed under the order


# The sentence of each refusal for an order (the conversion answer's `reason`).
_ORDER_SENTENCES = {
    Refusal.NOT_REFERRAL_CODE: "The promo code is not one of the program's referral codes.",
    Refusal.CODE_VOIDED: "The code was voided{when}: it no longer attributes orders.",
    Refusal.CODE_UNHELD: "The code is held by no advocate.",
    Refusal.CODE_ALREADY_REDEEMED: "The single-use code was already redeemed.",
    Refusal.ADVOCATE_BLOCKED: "The advocate is blocked.",
    Refusal.NO_CODE: "The order carries no promo code.",
    Refusal.SELF_REFERRAL: "Self-referral: the customer is the advocate.",
    Refusal.CODE_NOT_REDEEMABLE: "The code cannot attribute: {detail}.",
}

# The sentence of each refusal naming the code, for the person who named it (a referral link,
# a copy in the widget).
_CODE_SENTENCES = {
    Refusal.NOT_REFERRAL_CODE: "{code} is not one of this program's referral codes.",
    Refusal.CODE_VOIDED: "{code} was voided{when}.",
    Refusal.CODE_UNHELD: "{code} is not held by any advocate.",
    Refusal.CODE_ALREADY_REDEEMED: "{code} was already redeemed.",
    Refusal.ADVOCATE_BLOCKED: "The advocate holding {code} is blocked.",
    Refusal.SELF_REFERRAL: "A participant cannot be referred by their own code.",
    Refusal.NOT_YOUR_CODE: "{code} is not one of your codes.",
}


def order_sentence(refusal: Refusal, **context) -> str:
    """The sentence of `refusal` for an order; `context` fills its blanks (`when`, `detail`)."""
    return _fill(_ORDER_SENTENCES[refusal], context)


def code_sentence(refusal: Refusal, **context) -> str:
    """The sentence of `refusal` naming the code (`code`, `when`)."""
    return _fill(_CODE_SENTENCES[refusal], context)


def _fill(template, context):
    return template.format_map({"when": "", "detail": "", "code": "", **context})
