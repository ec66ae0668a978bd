"""Refusal codes: why a code (or an order) was refused, as a stable word for an API client or a
test, with the sentence for a person derived from it (docs/architecture.md, Where each rule
lives).

A rule returns a `Refusal`; the words people read are written once, here. The conversion answer
carries both (`reason_code` and `reason`); a refusal of a referral link or a copy raises with
the sentence.
"""

from enum import StrEnum

from django.utils.translation import gettext
from django.utils.translation import gettext_noop as _


class Refusal(StrEnum):
    # The code itself (codes.rules.code_verdict).
    NOT_REFERRAL_CODE = "not_referral_code"  # unknown in the program, or not a referral code
    CODE_VOIDED = "code_voided"
    CODE_EXPIRED = "code_expired"  # past its expires_at
    CODE_NOT_YET_VALID = "code_not_yet_valid"  # before its valid_from
    CODE_UNHELD = "code_unheld"  # in stock, held by no advocate
    CODE_ALREADY_REDEEMED = "code_already_redeemed"  # a single-use code already used
    ADVOCATE_BLOCKED = "advocate_blocked"  # its holder is blocked or erased
    NOT_YOUR_CODE = "not_your_code"  # a copy of a code the participant does not hold
    # The order or the people (conversions, referrals).
    NO_CODE = "no_code"
    SELF_REFERRAL = "self_referral"
    CODE_NOT_REDEEMABLE = "code_not_redeemable"  # the code changed under the order


# The sentence of each refusal for an order (the conversion answer's `reason`). A refusal that
# names a date has two sentences: without the date, and with it (`%(date)s`, an ISO date, the
# same in every language). Translated when filled, in the language active then.
_ORDER_SENTENCES = {
    Refusal.NOT_REFERRAL_CODE: _("The promo code is not one of the program's referral codes."),
    Refusal.CODE_VOIDED: (
        _("The code was voided: it no longer attributes orders."),
        _("The code was voided on %(date)s: it no longer attributes orders."),
    ),
    Refusal.CODE_EXPIRED: (
        _("The code expired: it no longer attributes orders."),
        _("The code expired on %(date)s: it no longer attributes orders."),
    ),
    Refusal.CODE_NOT_YET_VALID: (
        _("The code is not valid yet."),
        _("The code is not valid yet until %(date)s."),
    ),
    Refusal.CODE_UNHELD: _("The code is held by no advocate."),
    Refusal.CODE_ALREADY_REDEEMED: _("The single-use code was already redeemed."),
    Refusal.ADVOCATE_BLOCKED: _("The advocate is blocked."),
    Refusal.NO_CODE: _("The order carries no promo code."),
    Refusal.SELF_REFERRAL: _("Self-referral: the customer is the advocate."),
    Refusal.CODE_NOT_REDEEMABLE: _("The code cannot attribute: %(detail)s."),
}

# The sentence of each refusal naming the code, for the person who named it (a referral link,
# a copy in the widget).
_CODE_SENTENCES = {
    Refusal.NOT_REFERRAL_CODE: _("%(code)s is not one of this program's referral codes."),
    Refusal.CODE_VOIDED: (_("%(code)s was voided."), _("%(code)s was voided on %(date)s.")),
    Refusal.CODE_EXPIRED: (_("%(code)s expired."), _("%(code)s expired on %(date)s.")),
    Refusal.CODE_NOT_YET_VALID: (
        _("%(code)s is not valid yet."),
        _("%(code)s is not valid yet until %(date)s."),
    ),
    Refusal.CODE_UNHELD: _("%(code)s is not held by any advocate."),
    Refusal.CODE_ALREADY_REDEEMED: _("%(code)s was already redeemed."),
    Refusal.ADVOCATE_BLOCKED: _("The advocate holding %(code)s is blocked."),
    Refusal.SELF_REFERRAL: _("A participant cannot be referred by their own code."),
    Refusal.NOT_YOUR_CODE: _("%(code)s is not one of your codes."),
}


def order_sentence(refusal: Refusal, **context) -> str:
    """The sentence of `refusal` for an order, in the active language; `context` fills its
    blanks (`when`: the date it names, or None; `detail`)."""
    return _fill(_ORDER_SENTENCES[refusal], context)


def code_sentence(refusal: Refusal, **context) -> str:
    """The sentence of `refusal` naming the code (`code`, `when`), in the active language."""
    return _fill(_CODE_SENTENCES[refusal], context)


def _fill(sentence, context):
    when = context.get("when")
    if isinstance(sentence, tuple):
        sentence = sentence[1] if when else sentence[0]
    return gettext(sentence) % {
        "date": f"{when:%Y-%m-%d}" if when else "",
        # A detail marked with gettext_noop is translated with its sentence.
        "detail": gettext(context["detail"]) if context.get("detail") else "",
        "code": context.get("code", ""),
    }
