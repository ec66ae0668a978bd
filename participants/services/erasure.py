"""Erasing a participant's personal data (a privacy request), keeping the brand's books.

E-mail, names and account id are blanked and the participant id is replaced by an opaque
tombstone; the referral codes they hold are voided (the codes app's codes_void); the orders
they placed lose the customer's e-mail and id (the conversions app does it on the
participant_erasing signal: conversions sit above this app). Their referrals, rewards and
redeemed codes stay, linked to the tombstone, so counts and payouts still add up. The audit
trail records the erasure without the erased values, and forgets them where it had kept them.
"""

import hashlib
import secrets
from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop, ngettext

from audit.services import ERASED, audit_forget, audit_forget_text, audit_record
from codes.models import PromoCode
from codes.services import (
    codes_holder_withdraw,
    codes_void,
    codes_void_reasons_forget,
    codes_void_reasons_redact,
)
from foundation.events import PARTICIPANT_ERASED
from programs.models import Program

from ..events import participant_emit
from ..models import ERASED_ID_PREFIX, Participant, Referral, Reward, is_reserved_participant_id
from ..signals import participant_erasing

PERSONAL_FIELDS = ("email", "first_name", "last_name", "account_id")
# Participants created from an order without a CustomerId are named "order:<OrderId>".
ORDER_FRIEND_PREFIX = "order:"


class ParticipantNotFound(LookupError):
    """No such participant in the program: never created, or already erased."""


@dataclass(frozen=True)
class ErasedIdentity:
    """What the person was known by, for the receivers that blank their copies. Held in memory
    during the erasure only; never stored."""

    participant_ids: tuple[str, ...]
    email: str
    # The address as the brand typed it (trimmed), and every personal value (ids, address,
    # names, account id): what free text (an order line's name) may quote.
    typed_email: str = ""
    values: tuple[str, ...] = ()

    @property
    def email_sha1s(self) -> tuple[str, ...]:
        """The SHA-1 hex of the address in lower case and as typed: a client that skipped the
        lower-casing sent the digest of the address as typed."""
        typed = {self.email, self.typed_email} - {""}
        return tuple(sorted(hashlib.sha1(text.encode()).hexdigest() for text in typed))

    @property
    def email_sha256s(self) -> tuple[str, ...]:
        """The same as SHA-256 hex digests (impact.com documents both)."""
        typed = {self.email, self.typed_email} - {""}
        return tuple(sorted(hashlib.sha256(text.encode()).hexdigest() for text in typed))


@dataclass(frozen=True)
class ErasureResult:
    participant: Participant
    codes_voided: int
    rows_blanked_elsewhere: int
    referrals_kept: int
    rewards_kept: int
    redeemed_codes_kept: int
    order_friends_erased: int

    def summary(self) -> str:
        """What was done, in the active language."""

        def filled(text, number):
            return text % {"count": f"{number:,}"}

        codes, orders = self.codes_voided, self.rows_blanked_elsewhere
        referrals, rewards = self.referrals_kept, self.rewards_kept
        redeemed, friends = self.redeemed_codes_kept, self.order_friends_erased
        text = gettext(
            "Erased participant %(participant)s: e-mail, names and account id blanked; "
            "%(codes)s voided; the customer's e-mail removed from %(orders)s; kept "
            "%(referrals)s, %(rewards)s and %(redeemed)s."
        ) % {
            "participant": self.participant.participant_id,
            "codes": filled(ngettext("%(count)s code", "%(count)s codes", codes), codes),
            "orders": filled(ngettext("%(count)s order", "%(count)s orders", orders), orders),
            "referrals": filled(
                ngettext("%(count)s referral", "%(count)s referrals", referrals), referrals
            ),
            "rewards": filled(ngettext("%(count)s reward", "%(count)s rewards", rewards), rewards),
            "redeemed": filled(
                ngettext("%(count)s redeemed code", "%(count)s redeemed codes", redeemed), redeemed
            ),
        }
        if friends:
            text += " " + filled(
                ngettext(
                    "%(count)s customer record made from orders erased too.",
                    "%(count)s customer records made from orders erased too.",
                    friends,
                ),
                friends,
            )
        return text


def new_tombstone() -> str:
    return ERASED_ID_PREFIX + secrets.token_hex(12)


@transaction.atomic
def participant_erase(*, program: Program, participant_id: str) -> ErasureResult:
    """Erase a participant of `program` named by the brand's id (see the module's doc).

    Raises ParticipantNotFound when the program has no such participant: never created, or
    already erased (the old id is forgotten, so erasing twice is "not found"). One
    transaction: an error leaves everything as it was.
    """
    if is_reserved_participant_id(participant_id):
        raise ParticipantNotFound(participant_id)
    # Lock order, as for blocking: the participant row (NO KEY: rows that merely reference it
    # can still be written), then their codes, then the holder lock. The key column (the id)
    # changes last, once every code of theirs is locked.
    participant = (
        Participant.objects.select_for_update(no_key=True, of=("self",))
        .filter(program=program, participant_id=participant_id)
        .first()
    )
    if participant is None:
        raise ParticipantNotFound(participant_id)
    friends = _order_friends(program, participant)
    people = [participant, *friends]
    forgotten = [
        getattr(person, name) for person in people for name in ("participant_id", *PERSONAL_FIELDS)
    ]
    identity = ErasedIdentity(
        participant_ids=tuple(p.participant_id for p in people),
        email=participant.email.strip().lower(),
        typed_email=participant.email.strip(),
        values=tuple(value for value in forgotten if value),
    )
    forgotten += identity.email_sha1s
    erased_fields = _blank(participant)
    for friend in friends:
        _blank(friend)
    codes_voided = 0
    for person in people:
        codes_voided += _void_held(program, person)
        # The holder lock: a top-up of theirs still running (an order redeeming one of their
        # codes, say) finishes first; a code it handed them is voided next.
        codes_holder_withdraw(holder_id=person.pk)
        if PromoCode.objects.held_by(person).exists():
            codes_voided += _void_held(program, person)
        codes_void_reasons_forget(holder_id=person.pk, values=forgotten)
    for person in people:
        person.participant_id = new_tombstone()
        person.save(update_fields=["participant_id"])
    participant_emit(
        participant=participant, type=PARTICIPANT_ERASED, participant_id=participant_id
    )
    blanked = sum(
        count or 0
        for _, count in participant_erasing.send(
            sender=Participant, program=program, participants=people, erased=identity
        )
    )
    result = ErasureResult(
        participant=participant,
        codes_voided=codes_voided,
        rows_blanked_elsewhere=blanked,
        referrals_kept=Referral.objects.filter(
            Q(advocate__in=people) | Q(friend__in=people)
        ).count(),
        rewards_kept=Reward.objects.filter(advocate__in=people).count(),
        redeemed_codes_kept=PromoCode.objects.redeemed().filter(holder__in=people).count(),
        order_friends_erased=len(friends),
    )
    _forget_in_audit_trail(people, forgotten)
    # Texts about other objects that quote them: a batch voided "Leaked by <address>", a
    # change message.
    codes_void_reasons_redact(program=program, values=forgotten)
    audit_forget_text(program_id=program.pk, values=forgotten)
    audit_record(
        obj=participant,
        event=gettext_noop("participant erased"),
        object_repr=participant.participant_id,
        changes={
            "participant_id": (ERASED, participant.participant_id),
            **{name: (ERASED, "") for name in erased_fields},
        },
        details={
            gettext_noop("codes voided"): result.codes_voided,
            gettext_noop("orders whose customer e-mail was removed"): result.rows_blanked_elsewhere,
            gettext_noop("referrals kept"): result.referrals_kept,
            gettext_noop("rewards kept"): result.rewards_kept,
            gettext_noop("redeemed codes kept"): result.redeemed_codes_kept,
            gettext_noop(
                "customer records made from orders erased too"
            ): result.order_friends_erased,
        },
    )
    return result


def _void_held(program, person) -> int:
    return codes_void(
        program=program,
        queryset=PromoCode.objects.held_by(person),
        reason="participant erased",
        audit_object=person,
    ).voided


def _blank(participant: Participant) -> list[str]:
    """Blank the personal fields (non-key columns only); return the names that held a value."""
    held = [name for name in PERSONAL_FIELDS if getattr(participant, name)]
    for name in PERSONAL_FIELDS:
        setattr(participant, name, "")
    participant.erased_at = timezone.now()
    participant.save(update_fields=[*PERSONAL_FIELDS, "erased_at", "updated_at"])
    return held


def _order_friends(program, participant) -> list[Participant]:
    """The customer records the conversions app made from this person's orders (named after the
    order, with their e-mail): the same person, whom the brand cannot name."""
    if not participant.email.strip():
        return []
    return list(
        Participant.objects.select_for_update(no_key=True, of=("self",))
        .filter(
            program=program,
            participant_id__startswith=ORDER_FRIEND_PREFIX,
            email__iexact=participant.email.strip(),
            erased_at__isnull=True,
        )
        .exclude(pk=participant.pk)
        .order_by("pk")
    )


def _forget_in_audit_trail(people, forgotten):
    for person in people:
        related = [
            *Reward.objects.filter(advocate=person).select_related("advocate"),
            *Referral.objects.filter(Q(advocate=person) | Q(friend=person)).select_related(
                "advocate", "friend"
            ),
        ]
        audit_forget(obj=person, values=forgotten, new_repr=person.participant_id, related=related)
