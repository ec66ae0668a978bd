"""Refusals of the codes app's services: each message says why, for a person."""


class PromoCodesOff(ValueError):
    """The program has referral promo codes turned off."""


class CodeSpaceTooSmall(ValueError):
    """The requested count cannot fit in the codes the prefix and length allow."""


class CannotAddCode(ValueError):
    """The participant cannot be given a code by hand; the message says why."""


class CodeNotRedeemable(ValueError):
    """A referral code that cannot attribute an order; `reason` says why, for the shop."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


class CodeNotHeld(LookupError):
    """The code is not one the participant holds now."""
