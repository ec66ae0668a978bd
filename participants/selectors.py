"""Reads over participants that are more than one ORM call."""

import json
from dataclasses import dataclass
from datetime import datetime

from django.db.models import Count, F, OuterRef, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce, NullIf
from django.utils.translation import gettext, ngettext, pgettext

from codes.models import PromoCode
from foundation.compiled_query import CompiledQuery
from foundation.keyset import DEFAULT_PAGE_SIZE, Page, keyset_page
from programs.models import Program

from .models import (
    Participant,
    Referral,
    ReferralStatus,
    Reward,
    RewardStatus,
    is_reserved_participant_id,
)


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
        .values_list("code", "usage", "status", "assigned_at", "first_copied_at", "expires_at")
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
            "code__code",
            "pk",
            "status",
            "created_at",
            "available_at",
            "code__first_copied_at",
            "code__expires_at",
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
            "expires_at": expires_at,
        }
        for code, usage, status, assigned_at, first_copied_at, expires_at in (
            _REFERRAL_CODES.rows(participant.pk)
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
            "expires_at": expires_at,
        }
        for code, reward_id, status, earned_at, available_at, first_copied_at, expires_at in (
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
        "locale": participant.locale,
        "is_advocate": participant.is_advocate,
        "is_blocked": participant.is_blocked,
        "created_at": participant.created_at,
        "updated_at": participant.updated_at,
        "referral_codes": referral_codes(participant=participant),
        "reward_codes": reward_codes(participant=participant),
        "rewards": participant_rewards(participant=participant),
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
        # the friend by e-mail when known, else by participant id (Participant.shown_name)
        referral_friend=Subquery(
            latest.annotate(
                friend_shown=Coalesce(NullIf("friend__email", Value("")), "friend__participant_id")
            ).values("friend_shown")[:1]
        ),
        referrals_count=Subquery(count[:1]),
    )


# The read API (GET …/rewards, …/referrals, a participant's `rewards`). Each list is a keyset
# page in (created_at, id) order over the program's rows (foundation.keyset), served by the
# (program, [status,] created_at, id) indexes. Reads that tolerate a second's lag: a read replica
# router can send these to a replica from here.

# A participant's answer carries their latest rewards; GET …/rewards?participant_id= pages
# through all of them.
PARTICIPANT_REWARDS_SHOWN = 100


def _reward_rows(rewards: QuerySet[Reward]) -> QuerySet:
    return rewards.values(
        "id",
        "kind",
        "status",
        "amount",
        "currency",
        "percent",
        "needs_review",
        "created_at",
        "available_at",
        "paid_at",
        "cancelled_at",
        "referral_id",
        advocate_ref=F("advocate__participant_id"),
        friend_ref=F("referral__friend__participant_id"),
        order_ref=F("referral__order_id"),
        code_text=F("code__code"),
        code_revealed_at=F("code__revealed_at"),
    )


def reward_item(row: dict) -> dict:
    """A reward as the server API lists it. A fuel-tank reward's code shows once it was
    revealed (the reward became available); a reserved code is never shown."""
    return {
        "id": row["id"],
        "kind": row["kind"],
        "status": row["status"],
        "amount": row["amount"],
        "currency": row["currency"] or None,
        "percent": row["percent"],
        "code": row["code_text"] if row["code_revealed_at"] is not None else None,
        "advocate_id": row["advocate_ref"],
        "friend_id": row["friend_ref"],
        "order_id": row["order_ref"] or None,
        "referral_id": row["referral_id"],
        "earned_at": row["created_at"],
        "available_at": row["available_at"],
        "paid_at": row["paid_at"],
        "cancelled_at": row["cancelled_at"],
        "needs_review": row["needs_review"],
    }


def reward_get(*, program: Program, reward_id: int) -> dict | None:
    """One reward of the program, as the API lists it; None for another program's or none."""
    row = _reward_rows(Reward.objects.filter(program=program, pk=reward_id)).first()
    return None if row is None else reward_item(row)


def participant_rewards(*, participant: Participant) -> list[dict]:
    """The advocate's latest rewards (PARTICIPANT_REWARDS_SHOWN at most), newest first."""
    rows = _reward_rows(Reward.objects.filter(advocate=participant)).order_by("-created_at", "-id")
    return [reward_item(row) for row in rows[:PARTICIPANT_REWARDS_SHOWN]]


def _list_scope(name: str, program: Program, **filters) -> str:
    """What a cursor is bound to: the list, the program and the filters."""
    return json.dumps([name, program.pk, {k: str(v) for k, v in filters.items() if v}])


def _of_advocate(rows: QuerySet, program: Program, participant_id: str) -> QuerySet:
    """Rows of this advocate (by the brand's id); none for an id the program does not know."""
    participant = participant_get(program=program, participant_id=participant_id)
    return rows.none() if participant is None else rows.filter(advocate=participant)


def rewards_page(
    *,
    program: Program,
    status: str | None = None,
    since: datetime | None = None,
    participant_id: str | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> Page:
    """The program's rewards, oldest first, filtered by status, earned since, advocate."""
    rewards = Reward.objects.filter(program=program)
    if status:
        rewards = rewards.filter(status=status)
    if since:
        rewards = rewards.filter(created_at__gte=since)
    if participant_id:
        rewards = _of_advocate(rewards, program, participant_id)
    scope = _list_scope(
        "rewards", program, status=status, since=since, participant_id=participant_id
    )
    page = keyset_page(_reward_rows(rewards), scope=scope, cursor=cursor, limit=limit)
    return Page(rows=[reward_item(row) for row in page.rows], next_cursor=page.next_cursor)


def referral_item(row: dict) -> dict:
    return {
        "id": row["id"],
        "status": row["status"],
        "advocate_id": row["advocate_ref"],
        "friend_id": row["friend_ref"],
        "code": row["code_text"],
        "order_id": row["order_id"] or None,
        "referred_at": row["created_at"],
        "converted_at": row["converted_at"],
        "cancelled_at": row["cancelled_at"],
    }


# The referrals list's filter for the review queue: not a referral state (the referral is
# converted) but its reward's.
REFERRALS_PENDING_REVIEW = "pending_review"


def referrals_page(
    *,
    program: Program,
    status: str | None = None,
    since: datetime | None = None,
    participant_id: str | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> Page:
    """The program's referrals, oldest first, filtered by status, referred since, advocate."""
    referrals = Referral.objects.filter(program=program)
    if status == REFERRALS_PENDING_REVIEW:
        # Referrals whose reward the review holds (the console's and the API's queue).
        referrals = referrals.filter(reward__status=RewardStatus.PENDING_REVIEW)
    elif status:
        referrals = referrals.filter(status=status)
    if since:
        referrals = referrals.filter(created_at__gte=since)
    if participant_id:
        referrals = _of_advocate(referrals, program, participant_id)
    rows = referrals.values(
        "id",
        "status",
        "order_id",
        "created_at",
        "converted_at",
        "cancelled_at",
        advocate_ref=F("advocate__participant_id"),
        friend_ref=F("friend__participant_id"),
        code_text=F("code__code"),
    )
    scope = _list_scope(
        "referrals", program, status=status, since=since, participant_id=participant_id
    )
    page = keyset_page(rows, scope=scope, cursor=cursor, limit=limit)
    return Page(rows=[referral_item(row) for row in page.rows], next_cursor=page.next_cursor)


def advocates_to_top_up(*, program):
    """The advocates a program-wide top-up visits: not blocked, not erased."""
    return Participant.objects.filter(program=program).may_hold_codes()


# --- An advocate's history, for the manager deciding on a held referral --------------------


@dataclass(frozen=True)
class AdvocateHistory:
    """What the program knows of an advocate's referrals and rewards, and their other flags."""

    referrals: int = 0
    converted: int = 0
    granted: int = 0  # waiting for stock, in the review period, available or paid
    held: int = 0  # held by the review, waiting for a manager
    capped: int = 0
    denied: int = 0  # cancelled by the review, at attribution or by a manager
    cancelled: int = 0  # cancelled otherwise (a reversal, a manager)
    paid_flagged: int = 0  # paid, then its order reversed
    blocked: bool = False
    leaked_codes: int = 0  # codes they hold or held, found used by too many customers in a day

    def words(self) -> list[str]:
        """The history as short phrases, in the manager's language."""
        said = [
            ngettext(
                "%(n)s referral (%(converted)s converted)",
                "%(n)s referrals (%(converted)s converted)",
                self.referrals,
            )
            % {"n": f"{self.referrals:,}", "converted": f"{self.converted:,}"}
        ]
        rewards = [
            (self.granted, gettext("%(n)s granted")),
            (self.held, gettext("%(n)s held")),
            (self.capped, gettext("%(n)s capped")),
            (self.denied, gettext("%(n)s denied")),
            (self.cancelled, gettext("%(n)s cancelled")),
        ]
        shown = [text % {"n": f"{n:,}"} for n, text in rewards if n]
        said.append(
            gettext("rewards: %(list)s") % {"list": pgettext("list separator", ", ").join(shown)}
            if shown
            else gettext("no rewards")
        )
        if self.paid_flagged:
            said.append(
                ngettext(
                    "%(n)s paid reward whose order was reversed",
                    "%(n)s paid rewards whose orders were reversed",
                    self.paid_flagged,
                )
                % {"n": f"{self.paid_flagged:,}"}
            )
        if self.leaked_codes:
            said.append(
                ngettext("%(n)s leaked code", "%(n)s leaked codes", self.leaked_codes)
                % {"n": f"{self.leaked_codes:,}"}
            )
        if self.blocked:
            said.append(gettext("blocked"))
        return said


_GRANTED = (
    RewardStatus.WAITING_FOR_STOCK,
    RewardStatus.PENDING,
    RewardStatus.AVAILABLE,
    RewardStatus.PAID,
)


def advocate_histories(*, advocate_ids) -> dict[int, AdvocateHistory]:
    """The AdvocateHistory of each advocate, in four grouped queries whatever their number
    (the review queue's page of rows, or one held referral's page)."""
    ids = list(set(advocate_ids))
    if not ids:
        return {}
    counts = {pk: {} for pk in ids}
    for row in (
        Referral.objects.filter(advocate_id__in=ids)
        .values("advocate_id")
        .annotate(n=Count("id"), converted=Count("id", filter=Q(status=ReferralStatus.CONVERTED)))
        .order_by()
    ):
        counts[row["advocate_id"]].update(referrals=row["n"], converted=row["converted"])
    for row in (
        Reward.objects.filter(advocate_id__in=ids)
        .values("advocate_id", "status", "reason_code", "needs_review")
        .annotate(n=Count("id"))
        .order_by()
    ):
        mine = counts[row["advocate_id"]]
        status = row["status"]
        if status in _GRANTED:
            key = "granted"
        elif status == RewardStatus.PENDING_REVIEW:
            key = "held"
        elif status == RewardStatus.CAPPED:
            key = "capped"
        elif row["reason_code"] == "review_denied":
            key = "denied"
        else:
            key = "cancelled"
        mine[key] = mine.get(key, 0) + row["n"]
        if status == RewardStatus.PAID and row["needs_review"]:
            mine["paid_flagged"] = mine.get("paid_flagged", 0) + row["n"]
    for pk in Participant.objects.filter(pk__in=ids, is_blocked=True).values_list("pk", flat=True):
        counts[pk]["blocked"] = True
    for row in (
        PromoCode.objects.filter(holder_id__in=ids, leaked_at__isnull=False)
        .values("holder_id")
        .annotate(n=Count("id"))
        .order_by()
    ):
        counts[row["holder_id"]]["leaked_codes"] = row["n"]
    return {pk: AdvocateHistory(**values) for pk, values in counts.items()}
