"""Reads over participants that are more than one ORM call."""

from codes.selectors import codes_held

from .models import Participant, Referral


def participant_get(*, program, participant_id):
    return Participant.objects.filter(program=program, participant_id=participant_id).first()


def referral_codes(*, participant):
    """`referral_codes` of the APIs: the codes held now, in the order they were assigned."""
    return [
        {
            "code": code.code,
            "usage": code.usage,
            "status": code.status,
            "assigned_at": code.assigned_at,
            "copied_before": code.first_copied_at is not None,
            "first_copied_at": code.first_copied_at,
        }
        for code in codes_held(participant=participant)
    ]


def participant_detail(*, participant):
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
        "referred_by": None
        if referral is None
        else {
            "participant_id": referral.advocate.participant_id,
            "code": referral.code.code if referral.code else None,
            "status": referral.status,
            "referred_at": referral.created_at,
        },
    }
