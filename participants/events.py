"""The business events of the participants app (foundation.events; docs/webhooks.md)."""

from foundation.events import (
    PARTICIPANT_CREATED,
    PARTICIPANT_ERASED,
    REWARD_AVAILABLE,
    event_emit,
    events_emit,
)

from .models import Participant, Reward, RewardStatus


def participant_emit(*, participant: Participant, type: str, participant_id: str = "") -> None:
    """participant.created (or .erased, naming the id it had: `participant_id`)."""
    event_emit(
        program_id=participant.program_id,
        type=type,
        data={
            "participant_id": participant_id or participant.participant_id,
            "is_advocate": participant.is_advocate,
        },
        email=participant.email if type == PARTICIPANT_CREATED else "",
    )


def reward_data(reward: Reward, advocate: Participant) -> dict:
    revealed = reward.code_id and reward.status in (RewardStatus.AVAILABLE, RewardStatus.PAID)
    return {
        "reward_id": reward.pk,
        "referral_id": reward.referral_id,
        "participant_id": advocate.participant_id,
        "kind": reward.kind,
        "status": reward.status,
        "amount": None if reward.amount is None else str(reward.amount),
        "currency": reward.currency or None,
        "percent": None if reward.percent is None else str(reward.percent),
        "code": reward.code.code if revealed else None,
        "available_at": reward.available_at,
    }


def reward_emit(*, reward: Reward, type: str) -> None:
    """reward.created, .available, .paid or .cancelled, with the reward as it now stands."""

    def build():
        advocate = Participant.objects.only("participant_id", "email").get(pk=reward.advocate_id)
        return [(type, reward_data(reward, advocate), advocate.email)]

    events_emit(program_id=reward.program_id, types=(type,), build=build)


def rewards_available_emit(*, reward_ids: list[int]) -> None:
    """reward.available for rewards made available together (their review period over)."""
    programs = {}
    for pk, program_id in Reward.objects.filter(pk__in=reward_ids).values_list("pk", "program_id"):
        programs.setdefault(program_id, []).append(pk)
    for program_id, ids in programs.items():

        def build(ids=ids):
            rewards = Reward.objects.filter(pk__in=ids).select_related("advocate", "code")
            return [
                (REWARD_AVAILABLE, reward_data(reward, reward.advocate), reward.advocate.email)
                for reward in rewards.order_by("pk")
            ]

        events_emit(program_id=program_id, types=(REWARD_AVAILABLE,), build=build)


__all__ = ["PARTICIPANT_ERASED", "participant_emit", "reward_emit", "rewards_available_emit"]
