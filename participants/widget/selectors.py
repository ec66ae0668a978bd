"""Reads behind the widget API."""

from collections import Counter
from decimal import Decimal

from foundation.compiled_query import CompiledQuery
from programs.models import Program, RewardKind, WidgetComponentKind
from programs.selectors import program_widget_components

from ..models import Participant, Referral, ReferralStatus, Reward, RewardStatus
from ..selectors import referral_codes, reward_codes
from .tokens import WidgetIdentity


def participant_for_widget(*, identity: WidgetIdentity) -> Participant | None:
    """The token's participant if they exist yet, else None."""
    return Participant.objects.filter(
        program=identity.program, participant_id=identity.participant_id
    ).first()


# Compiled once per connection (foundation.compiled_query): /me runs them on every widget load.
_REFERRAL_STATUSES = CompiledQuery(
    Referral,
    lambda participant_id: (
        Referral.objects.filter(advocate_id=participant_id).order_by().values_list("status")
    ),
)
_REWARD_ROWS = CompiledQuery(
    Reward,
    lambda participant_id: (
        Reward.objects.filter(advocate_id=participant_id)
        .order_by()
        .values_list("status", "kind", "amount", "currency")
    ),
)


def referrals_summary(*, participant: Participant) -> dict:
    counts = Counter(status for (status,) in _REFERRAL_STATUSES.rows(participant.pk))
    return {
        "total": sum(counts.values()),
        **{status: counts.get(status, 0) for status in ReferralStatus.values},
    }


def rewards_summary(*, participant: Participant) -> dict:
    """Counts by status, and credit earned per currency (cancelled rewards left out)."""
    rows = _REWARD_ROWS.rows(participant.pk)
    counts = Counter(status for status, *_ in rows)
    credit = {}
    for status, kind, amount, currency in rows:
        if kind == RewardKind.CREDIT and status != RewardStatus.CANCELLED and amount is not None:
            credit[currency] = credit.get(currency, Decimal(0)) + amount
    return {
        "total": len(rows),
        **{status: counts.get(status, 0) for status in RewardStatus.values},
        "credit": [
            {"currency": currency, "amount": f"{amount:.2f}"}
            for currency, amount in sorted(credit.items())
        ],
    }


def widget_state(*, participant: Participant, program: Program) -> dict:
    """Everything `GET /api/v1/widget/me` answers (`program` is the participant's). The
    referral codes only when one of the program's widgets holds the referral-code component."""
    components = program_widget_components(program=program)
    shows_codes = WidgetComponentKind.REFERRAL_PROMO_CODE in components
    return {
        "participant": {
            "participant_id": participant.participant_id,
            "first_name": participant.first_name,
            "last_name": participant.last_name,
        },
        "program": {"slug": program.slug, "name": program.name},
        "friend_offer_text": program.friend_offer_text,
        "components": components,
        "referral_codes": referral_codes(participant=participant) if shows_codes else [],
        "reward_codes": reward_codes(participant=participant),
        "referrals": referrals_summary(participant=participant),
        "rewards": rewards_summary(participant=participant),
    }
