"""Reads over participants that are more than one ORM call."""

from django.db.models import Count, OuterRef, QuerySet, Subquery

from codes.models import PromoCode
from foundation.compiled_query import CompiledQuery
from programs.models import Program

from .models import Participant, Referral, Reward, RewardStatus, is_reserved_participant_id


def participant_get(*, program: Program, participant_id: str) -> Participant | None:
    """The participant the brand names by this id; None for an unknown id, or an erased
    participant (their old id is forgotten, their tombstone is no id of the brand's)."""
    if is_reserved_participant_id(participant_id):
        return None
    return Participant.objects.filter(program=program, participant_id=participant_id).first()


# Compiled once per connection (foundation.compiled_query): the widget's /me runs them on
# every load.
_REFERRAL_CODES = CompiledQuery(
    PromoCode,
    lambda participant_id: (
        PromoCode.objects.held_by(participant_id)
        .order_by("assigned_at", "id")
        .values_list("code", "usage", "status", "assigned_at", "first_copied_at")
    ),
)
_REWARD_CODES = CompiledQuery(
    Reward,
    lambda participant_id: (
        Reward.objects.filter(
            advocate_id=participant_id,
            status__in=[RewardStatus.AVAILABLE, RewardStatus.PAID],
            code__in=PromoCode.objects.revealed_to(participant_id),
        )
        .order_by("created_at", "id")
        .values_list(
            "code__code", "pk", "status", "created_at", "available_at", "code__first_copied_at"
        )
    ),
)


def referral_codes(*, participant: Participant) -> list[dict]:
    """`referral_codes` of the APIs: the codes held now, in the order they were assigned."""
    return [
        {
            "code": code,
            "usage": usage,
            "status": status,
            "assigned_at": assigned_at,
            "copied_before": first_copied_at is not None,
            "first_copied_at": first_copied_at,
        }
        for code, usage, status, assigned_at, first_copied_at in _REFERRAL_CODES.rows(
            participant.pk
        )
    ]


def reward_codes(*, participant: Participant) -> list[dict]:
    """`reward_codes` of the APIs: the fuel-tank codes the participant earned and may use now
    (rewards available or paid, their code revealed and not voided), oldest first."""
    return [
        {
            "code": code,
            "reward_id": reward_id,
            "status": status,
            "earned_at": earned_at,
            "available_at": available_at,
            "copied_before": first_copied_at is not None,
            "first_copied_at": first_copied_at,
        }
        for code, reward_id, status, earned_at, available_at, first_copied_at in (
            _REWARD_CODES.rows(participant.pk)
        )
    ]


def participant_detail(*, participant: Participant) -> dict:
    """The participant as the server API shows it: profile, held codes and who referred them."""
    referral = (
        Referral.objects.select_related("advocate", "code").filter(friend=participant).first()
    )
    return {
        "participant_id": participant.participant_id,
        "email": participant.email,
        "first_name": participant.first_name,
        "last_name": participant.last_name,
        "account_id": participant.account_id,
        "is_advocate": participant.is_advocate,
        "is_blocked": participant.is_blocked,
        "created_at": participant.created_at,
        "updated_at": participant.updated_at,
        "referral_codes": referral_codes(participant=participant),
        "reward_codes": reward_codes(participant=participant),
        "referred_by": None
        if referral is None
        else {
            "participant_id": referral.advocate.participant_id,
            "code": referral.code.code if referral.code else None,
            "status": referral.status,
            "referred_at": referral.created_at,
        },
    }


def codes_with_latest_referral(codes: QuerySet[PromoCode]) -> QuerySet[PromoCode]:
    """Codes annotated with their latest referral (`referral_pk`, `referral_order`,
    `referral_friend_pk`, `referral_friend`) and `referrals_count`: index probes per code shown
    (the referral's code_id index), evaluated after a page's LIMIT, never a join over the codes."""
    latest = Referral.objects.filter(code=OuterRef("pk")).order_by("-created_at")
    count = (
        Referral.objects.filter(code=OuterRef("pk"))
        .values("code")
        .annotate(n=Count("pk"))
        .values("n")
    )
    return codes.annotate(
        referral_pk=Subquery(latest.values("pk")[:1]),
        referral_order=Subquery(latest.values("order_id")[:1]),
        referral_friend_pk=Subquery(latest.values("friend_id")[:1]),
        referral_friend=Subquery(latest.values("friend__participant_id")[:1]),
        referrals_count=Subquery(count[:1]),
    )
