"""Writes behind the widget API. Keyword-only arguments, one transaction each."""

from django.db import transaction

from ..models import Participant
from ..services import participant_upsert, referral_link_from_code
from .tokens import WidgetIdentity


@transaction.atomic
def widget_participant_load(*, identity: WidgetIdentity, ip_hash: str = "") -> Participant:
    """Widget load: upsert the token's participant (topping their codes up) and, when the
    signed token names the code that referred them, link them to that code's advocate.

    `referred_by_code` comes only from the verified token, never from the request.
    `ip_hash` is the keyed digest of the address the widget was loaded from
    (foundation.hashing): kept on the participant for the review's same-IP check, written only
    when it changed. Returns the participant.
    """
    participant, _ = participant_upsert(
        program=identity.program, participant_id=identity.participant_id, **identity.profile
    )
    if ip_hash and participant.ip_hash != ip_hash:
        Participant.objects.filter(pk=participant.pk).update(ip_hash=ip_hash)
        participant.ip_hash = ip_hash
    if identity.referred_by_code:
        referral_link_from_code(friend=participant, code_text=identity.referred_by_code)
    return participant
