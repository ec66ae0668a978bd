"""The business events of the conversions app (foundation.events; docs/webhooks.md)."""

from foundation.events import (
    CODE_REDEEMED,
    CONVERSION_REVERSED,
    REFERRAL_CONVERTED,
    REFERRAL_HELD_FOR_REVIEW,
    REWARD_AVAILABLE,
    REWARD_CREATED,
    event_emit,
    events_emit,
)
from participants.events import reward_data
from participants.models import Participant, RewardStatus

from .models import Conversion, ConversionStatus
from .review import review_body

_OUTCOME_TYPES = (
    CODE_REDEEMED,
    REFERRAL_CONVERTED,
    REFERRAL_HELD_FOR_REVIEW,
    REWARD_CREATED,
    REWARD_AVAILABLE,
)


def conversion_outcome_emit(*, conversion: Conversion, reward) -> None:
    """What an attributed order did: its code redeemed (one use), and when it converted the
    referral, the referral converted and the reward created (and available, without review;
    the referral held for review when the review policy withheld its reward)."""
    if conversion.status != ConversionStatus.ATTRIBUTED or conversion.code_id is None:
        return

    def build():
        # Both paths leave the advocate (participant id and e-mail) and the friend (participant
        # id) on the conversion; read them again only when they are not.
        people = {
            person.pk: person
            for person in (_cached(conversion, "advocate"), _cached(conversion, "friend"))
            if person is not None
        }
        missing = {conversion.advocate_id, conversion.friend_id} - set(people) - {None}
        if missing:
            people.update(Participant.objects.only("participant_id", "email").in_bulk(missing))
        advocate = people[conversion.advocate_id]
        order = {
            "conversion_id": conversion.pk,
            "order_id": conversion.order_id,
            "participant_id": advocate.participant_id,
        }
        events = [
            (
                CODE_REDEEMED,
                {"code_id": conversion.code_id, "code": conversion.code.code, **order},
                advocate.email,
            )
        ]
        if reward is not None:
            referral = {
                "referral_id": conversion.referral_id,
                **order,
                "friend_id": people[conversion.friend_id].participant_id,
                "order_subtotal": str(conversion.order_subtotal),
                "currency": conversion.currency_code,
                "reward_id": reward.pk,
            }
            events.append((REFERRAL_CONVERTED, referral, advocate.email))
            if reward.status == RewardStatus.PENDING_REVIEW:
                events.append(
                    (
                        REFERRAL_HELD_FOR_REVIEW,
                        {**referral, "review": review_body(conversion)},
                        advocate.email,
                    )
                )
            data = reward_data(reward, advocate)
            events.append((REWARD_CREATED, data, advocate.email))
            if reward.status == RewardStatus.AVAILABLE:
                events.append((REWARD_AVAILABLE, data, advocate.email))
        return events

    events_emit(program_id=conversion.program_id, types=_OUTCOME_TYPES, build=build)


def _cached(conversion, name):
    """The conversion's related participant `name` when already in memory, else None."""
    field = Conversion._meta.get_field(name)
    return field.get_cached_value(conversion) if field.is_cached(conversion) else None


def conversion_reversed_emit(*, conversion: Conversion) -> None:
    event_emit(
        program_id=conversion.program_id,
        type=CONVERSION_REVERSED,
        data={
            "conversion_id": conversion.pk,
            "order_id": conversion.order_id,
            "status": conversion.status,
            "referral_id": conversion.referral_id,
            "reward_id": conversion.reward_id,
            "reason": conversion.reversal_reason,
        },
    )
