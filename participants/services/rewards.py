"""Rewards: what an advocate earns for a converted referral, and every change of its state.

States (docs/architecture.md, Rewards): waiting → pending → available → paid, and cancelled from
any of the
first three. Nothing leaves cancelled; a paid reward stays paid (a reversal flags it for
review). Every status write goes through this module, which refuses a move the rules forbid.

A fuel-tank reward takes its code from the program's reward tank when it is granted; with the
tank empty it waits, and waiting rewards are filled oldest first when a tank batch lands (and by
the periodic task). The code is revealed only once the reward is available.
"""

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import QuerySet
from django.utils import timezone
from django.utils.translation import gettext, gettext_noop

from audit.services import audit_record
from codes.services import (
    reward_tank_of,
    tank_code_claim,
    tank_code_release,
    tank_codes_reveal,
)
from foundation.events import REWARD_AVAILABLE, REWARD_CANCELLED, REWARD_PAID
from foundation.tasks import enqueue_on_commit
from programs.models import Program, RewardKind

from ..events import reward_emit, rewards_available_emit
from ..models import Referral, Reward, RewardStatus

# Every change of a reward's status goes through this table (_move for one reward, _moved for
# many at once); docs/architecture.md draws it. A pending reward goes back to waiting when the
# fuel-tank code it was reserved was voided (reward_codes_voided).
ALLOWED_MOVES: dict[str, frozenset[str]] = {
    RewardStatus.WAITING_FOR_STOCK: frozenset(
        {RewardStatus.PENDING, RewardStatus.AVAILABLE, RewardStatus.CANCELLED}
    ),
    RewardStatus.PENDING: frozenset(
        {RewardStatus.AVAILABLE, RewardStatus.WAITING_FOR_STOCK, RewardStatus.CANCELLED}
    ),
    RewardStatus.AVAILABLE: frozenset({RewardStatus.PAID, RewardStatus.CANCELLED}),
    RewardStatus.PAID: frozenset(),
    RewardStatus.CANCELLED: frozenset(),
    # Approved by a manager: into the review period (or the tank's queue); denied: cancelled.
    RewardStatus.PENDING_REVIEW: frozenset(
        {
            RewardStatus.WAITING_FOR_STOCK,
            RewardStatus.PENDING,
            RewardStatus.AVAILABLE,
            RewardStatus.CANCELLED,
        }
    ),
    # Past a cap: never granted later by itself.
    RewardStatus.CAPPED: frozenset(),
}
# Statuses a reward is recorded with at attribution instead of being granted.
WITHHELD = (RewardStatus.PENDING_REVIEW, RewardStatus.CANCELLED, RewardStatus.CAPPED)
# Rewards that count toward a cap: every one recorded but the cancelled and the capped.
_UNCOUNTED = (RewardStatus.CANCELLED, RewardStatus.CAPPED)
# pg_advisory_xact_lock(class, id) classes: one advocate's capped rewards, one program's.
_CAP_LOCK_ADVOCATE = 22_001
_CAP_LOCK_PROGRAM = 22_002
_CHUNK = 500


class RewardMoveRefused(ValueError):
    """A reward state change the rules forbid; the message says why, for a manager."""


def _label(status: str) -> str:
    return RewardStatus(status).label.lower()


def _move(reward: Reward, to: str, *, now: datetime) -> None:
    """Set the reward's status (in memory) if the rules allow the move; raise otherwise."""
    if to not in ALLOWED_MOVES[reward.status]:
        raise RewardMoveRefused(
            gettext("Reward %(id)s is %(status)s: it cannot become %(to)s.")
            % {"id": reward.pk, "status": _label(reward.status), "to": _label(to)}
        )
    reward.status = to
    if to == RewardStatus.PAID:
        reward.paid_at = now
    elif to == RewardStatus.CANCELLED:
        reward.cancelled_at = now


def _moved(rewards: QuerySet[Reward], to: str) -> int:
    """Move many rewards to `to` in one UPDATE: only those whose status may move there
    (ALLOWED_MOVES); returns how many moved. For moves that stamp no time."""
    if to in (RewardStatus.PAID, RewardStatus.CANCELLED):
        raise ValueError(f"{to} stamps a time: move those rewards one by one (_move).")
    allowed_from = [status for status, moves in ALLOWED_MOVES.items() if to in moves]
    return rewards.filter(status__in=allowed_from).update(status=to)


def _start_review(reward: Reward, program: Program, *, now: datetime) -> None:
    """A reward that has what it pays (a code, for a fuel-tank reward) enters its review
    period, or becomes available at once without one. A reward back in the queue because its
    code was voided keeps the review period it had."""
    if reward.available_at is not None:
        if reward.available_at > now:
            _move(reward, RewardStatus.PENDING, now=now)
        else:
            _move(reward, RewardStatus.AVAILABLE, now=now)
        return
    if program.reward_review_days:
        _move(reward, RewardStatus.PENDING, now=now)
        reward.available_at = now + timedelta(days=program.reward_review_days)
    else:
        _move(reward, RewardStatus.AVAILABLE, now=now)
        reward.available_at = now


# savepoint=False: inside conversion_record it adds no savepoint round trips.
@transaction.atomic(savepoint=False)
def reward_grant(
    *, referral: Referral, withheld: str | None = None, reason_code: str = ""
) -> Reward:
    """The advocate's reward for a converted referral, per the program's reward rule.

    Credit: amount and currency; percent: the percent; fuel tank: a code claimed from the
    program's reward tank now (never one code for two rewards), or `waiting` while the tank is
    empty or earlier rewards still wait (they are served first). With a review period the
    reward is `pending` until `available_at` (rewards_release_due makes it available and
    reveals its code); with none it is available at once. One reward per referral.

    `withheld` (one of WITHHELD) records the reward in that status instead, claiming no code:
    held for review, denied by it (cancelled) or past a cap (capped, with `reason_code`).
    """
    program = referral.program
    now = timezone.now()
    reward = Reward(
        program=program,
        advocate_id=referral.advocate_id,
        referral=referral,
        kind=program.reward_kind,
        status=RewardStatus.WAITING_FOR_STOCK,
    )
    if program.reward_kind == RewardKind.CREDIT:
        reward.amount = program.reward_amount
        reward.currency = program.reward_currency
    elif program.reward_kind == RewardKind.PERCENT:
        reward.percent = program.reward_percent
    if withheld is not None:
        reward.status = withheld
        reward.reason_code = reason_code
        if withheld == RewardStatus.CANCELLED:
            reward.cancelled_at = now
        reward.save()
        return reward
    if program.reward_kind == RewardKind.FUEL_TANK:
        queue = Reward.objects.filter(program=program, status=RewardStatus.WAITING_FOR_STOCK)
        code = None
        if queue.exists():
            # Earlier rewards wait: queue behind them, and have the queue served after commit
            # in case the tank has codes by now (a batch landed while this order ran).
            rewards_fill_waiting_later(program_id=program.pk)
        else:
            code = tank_code_claim(program=program, holder_id=referral.advocate_id)
        if code is not None:
            reward.code = code
            _start_review(reward, program, now=now)
    else:
        _start_review(reward, program, now=now)
    reward.save()
    if reward.status == RewardStatus.AVAILABLE and reward.code_id:
        tank_codes_reveal(code_ids=[reward.code_id])
    return reward


@transaction.atomic
def reward_review_decide(*, reward: Reward, approve: bool, reason: str = "") -> Reward:
    """A manager's decision on a reward held for review (its referral scored between the
    program's hold and deny thresholds): approved, it enters the review period as if granted
    now (a fuel-tank reward queues for its code); denied, it is cancelled. `reason` goes to
    the audit trail. Raises RewardMoveRefused for a reward not held for review."""
    reward = Reward.objects.select_for_update(of=("self",)).get(pk=reward.pk)
    if reward.status != RewardStatus.PENDING_REVIEW:
        raise RewardMoveRefused(
            gettext(
                "Reward %(id)s is %(status)s, not held for review: there is nothing to approve "
                "or deny."
            )
            % {"id": reward.pk, "status": _label(reward.status)}
        )
    now = timezone.now()
    program = reward.program
    if not approve:
        _move(reward, RewardStatus.CANCELLED, now=now)
        reward.reason_code = "review_denied"
    elif reward.kind == RewardKind.FUEL_TANK:
        _move(reward, RewardStatus.WAITING_FOR_STOCK, now=now)
        rewards_fill_waiting_later(program_id=program.pk)
    else:
        _start_review(reward, program, now=now)
    reward.save(update_fields=["status", "reason_code", "available_at", "cancelled_at"])
    # What a receiver of reward.created (status pending_review) hears next: cancelled when
    # denied, available when approved without a review period (else when it ends, or when a
    # fuel-tank reward gets its code: rewards_release_due, rewards_fill_waiting).
    if reward.status == RewardStatus.CANCELLED:
        reward_emit(reward=reward, type=REWARD_CANCELLED)
    elif reward.status == RewardStatus.AVAILABLE:
        reward_emit(reward=reward, type=REWARD_AVAILABLE)
    audit_record(
        obj=reward,
        event=gettext_noop("reward approved after review")
        if approve
        else gettext_noop("reward denied after review"),
        changes={"status": (RewardStatus.PENDING_REVIEW, reward.status)},
        details={gettext_noop("reason"): reason.strip()},
    )
    return reward


def reward_withhold(*, reward: Reward, status: str, reason_code: str = "") -> Reward:
    """A reward granted a moment ago in this transaction (a credit or a percent: no code) is
    recorded as `status` (one of WITHHELD) instead: what reward_grant(withheld=…) records."""
    if status not in WITHHELD:
        raise ValueError(f"{status!r} is not a withheld status")
    fields = {"status": status, "reason_code": reason_code, "available_at": None}
    if status == RewardStatus.CANCELLED:
        fields["cancelled_at"] = timezone.now()
    Reward.objects.filter(pk=reward.pk).update(**fields)
    for name, value in fields.items():
        setattr(reward, name, value)
    return reward


def reward_cap_reached(*, program: Program, advocate_id: int, exclude_id=None) -> str:
    """The reason code of the program's first reward cap (README, "Reward caps") that one more
    reward of the advocate would pass, or "".

    Counted under transaction advisory locks (the advocate's, and the program's when it caps
    its day), which every order rewarding the advocate takes before it commits: of concurrent
    orders each counts what the earlier ones committed, so a cap of 5 grants exactly 5. Call
    inside the attribution's transaction, after its reward (`exclude_id`, not counted) exists.
    """
    reward_caps_lock(program=program, advocate_id=advocate_id)
    sql, params, decide = reward_cap_counts(
        program=program, advocate_id=advocate_id, exclude_id=exclude_id
    )
    if not sql:
        return ""
    with connection.cursor() as cursor:
        cursor.execute("SELECT " + sql, params)
        return decide(cursor.fetchone())


def reward_caps_lock(*, program: Program, advocate_id: int) -> None:
    """Take the locks the caps are counted under (reward_cap_reached), one statement; on
    PostgreSQL only. The counts must be read by a later statement (one of its own sees what the
    lock's previous holders committed)."""
    sql, params = reward_caps_lock_sql(program=program, advocate_id=advocate_id)
    if sql:
        with connection.cursor() as cursor:
            cursor.execute(sql, params)


def reward_caps_lock_sql(*, program: Program, advocate_id: int) -> tuple[str, list]:
    """reward_caps_lock's statement and parameters ("" off PostgreSQL), for a caller that sends
    it in one round trip with the statement that counts (foundation.statements)."""
    if connection.vendor != "postgresql":
        return "", []
    locks = [(_CAP_LOCK_ADVOCATE, advocate_id)]
    if program.reward_cap_program_day:
        locks.append((_CAP_LOCK_PROGRAM, program.pk))
    return (
        "SELECT " + ", ".join("pg_advisory_xact_lock(%s, %s)" for _ in locks),
        [value for lock in locks for value in lock],
    )


def reward_cap_counts(*, program: Program, advocate_id: int, exclude_id=None):
    """The counts of the program's caps as a SQL select list (so a statement that reads other
    things can count them too, after reward_caps_lock): (sql, params, decide), `decide` taking
    the counts in their order and answering reward_cap_reached's reason code; sql is "" when
    the program sets no cap."""
    now = timezone.now()
    today = now.replace(hour=0, minute=0, second=0, microsecond=0)
    month = today.replace(day=1)
    # Each count stops at its cap: past it, the number does not matter.
    counted = "status NOT IN (%s, %s) AND id <> %s"
    base = [*_UNCOUNTED, -1 if exclude_id is None else exclude_id]
    caps = (
        (
            "reward_cap_month",
            program.reward_cap_advocate_month,
            "advocate_id = %s AND created_at >= %s",
            [advocate_id, month],
        ),
        ("reward_cap_total", program.reward_cap_advocate_total, "advocate_id = %s", [advocate_id]),
        (
            "reward_cap_program_day",
            program.reward_cap_program_day,
            "program_id = %s AND created_at >= %s",
            [program.pk, today],
        ),
    )
    caps = [cap for cap in caps if cap[1]]
    table = Reward._meta.db_table
    sql = ", ".join(
        f"(SELECT count(*) FROM (SELECT 1 FROM {table} WHERE {where} AND {counted} LIMIT %s) c)"
        for _, _, where, _ in caps
    )
    params = [value for _, cap, _, values in caps for value in (*values, *base, cap)]

    def decide(counts) -> str:
        for (code, cap, _, _), count in zip(caps, counts, strict=True):
            if count >= cap:
                return code
        return ""

    return sql, params, decide


def rewards_fill_waiting(*, program: Program) -> int:
    """Give rewards waiting for a fuel-tank code their code, oldest first, until the tank runs
    out. Each reward in its own short transaction, locked (SKIP LOCKED, so two fillers share
    the work) and re-checked. Returns how many were filled."""
    if reward_tank_of(program) is None:
        return 0
    filled = 0
    while True:
        with transaction.atomic():
            reward = (
                Reward.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(program=program, status=RewardStatus.WAITING_FOR_STOCK)
                .order_by("created_at", "id")
                .first()
            )
            if reward is None:
                return filled
            code = tank_code_claim(program=program, holder_id=reward.advocate_id)
            if code is None:
                return filled
            now = timezone.now()
            reward.code = code
            _start_review(reward, program, now=now)
            reward.save(update_fields=["code", "status", "available_at"])
            if reward.status == RewardStatus.AVAILABLE:
                tank_codes_reveal(code_ids=[code.pk])
                reward_emit(reward=reward, type=REWARD_AVAILABLE)
            filled += 1


def rewards_fill_waiting_later(*, program_id: int) -> None:
    """Enqueue, on commit, a fill of the program's waiting rewards (a code went back to the
    tank, or a tank batch landed)."""
    from ..tasks import rewards_fill_waiting_task

    enqueue_on_commit(rewards_fill_waiting_task, program_id)


def rewards_release_due(*, now: datetime | None = None) -> int:
    """Make pending rewards whose review period is over available, revealing their codes;
    return how many. In chunks, each its own transaction."""
    now = now or timezone.now()
    released = 0
    while True:
        with transaction.atomic():
            due = list(
                Reward.objects.select_for_update(skip_locked=True, of=("self",))
                .filter(status=RewardStatus.PENDING, available_at__lte=now)
                .order_by("available_at", "id")
                .values_list("pk", "code_id")[:_CHUNK]
            )
            if not due:
                return released
            ids = [pk for pk, _ in due]
            released += _moved(
                Reward.objects.filter(pk__in=ids, status=RewardStatus.PENDING),
                RewardStatus.AVAILABLE,
            )
            tank_codes_reveal(code_ids=[code_id for _, code_id in due if code_id])
            rewards_available_emit(reward_ids=ids)


@transaction.atomic
def reward_cancel(*, reward: Reward, flag_paid: bool = False) -> Reward:
    """Cancel a reward (its order was reversed, or a manager cancelled it).

    Waiting, pending and available rewards become cancelled. A pending reward's reserved code
    goes back to the tank; a revealed code cannot be taken back, so its reward is flagged for
    review. A paid reward stays paid: with `flag_paid` (a reversal) it is flagged for review,
    otherwise the cancel is refused. Cancelling a cancelled reward changes nothing.
    """
    reward = Reward.objects.select_for_update(of=("self",)).get(pk=reward.pk)
    now = timezone.now()
    if reward.status == RewardStatus.CANCELLED:
        return reward
    if reward.status == RewardStatus.PAID:
        if not flag_paid:
            raise RewardMoveRefused(
                gettext("Reward %(id)s is paid: it cannot be cancelled.") % {"id": reward.pk}
            )
        if not reward.needs_review:
            reward.needs_review = True
            reward.save(update_fields=["needs_review"])
            audit_record(
                obj=reward,
                event=gettext_noop("paid reward flagged for review"),
                changes={"needs_review": (False, True)},
            )
        return reward
    before = reward.status
    _move(reward, RewardStatus.CANCELLED, now=now)
    changes = {"status": (before, RewardStatus.CANCELLED)}
    if reward.code_id is not None:
        if tank_code_release(code_id=reward.code_id):
            changes["code"] = (reward.code.code, "back in the tank")
            reward.code = None  # the code is back in the tank, for another reward
            rewards_fill_waiting_later(program_id=reward.program_id)
        else:
            reward.needs_review = True  # its code was shown to the advocate already
            changes["needs_review"] = (False, True)
    reward.save(update_fields=["status", "cancelled_at", "code", "needs_review"])
    reward_emit(reward=reward, type=REWARD_CANCELLED)
    audit_record(obj=reward, event=gettext_noop("reward cancelled"), changes=changes)
    return reward


@dataclass
class MarkPaidResult:
    paid: int = 0
    refused: list[str] = field(default_factory=list)


@transaction.atomic
def rewards_mark_paid(*, rewards: QuerySet[Reward]) -> MarkPaidResult:
    """Mark available rewards paid (the admin's bulk action). Each reward is locked and
    re-checked; one that is not available is left alone and named in `refused`."""
    result = MarkPaidResult()
    now = timezone.now()
    # The admin's queryset may be DISTINCT (a manager's scope), which FOR UPDATE refuses: lock
    # the rewards by their ids instead.
    ids = list(rewards.values_list("pk", flat=True))
    locked = Reward.objects.select_for_update(of=("self",)).filter(pk__in=ids).order_by("pk")
    for reward in locked:
        before = reward.status
        try:
            _move(reward, RewardStatus.PAID, now=now)
        except RewardMoveRefused as refused:
            result.refused.append(str(refused))
            continue
        reward.save(update_fields=["status", "paid_at"])
        reward_emit(reward=reward, type=REWARD_PAID)
        # One entry per reward: a payout is the brand's money, each one is looked up alone.
        audit_record(
            obj=reward,
            event=gettext_noop("reward marked paid"),
            changes={"status": (before, RewardStatus.PAID)},
        )
        result.paid += 1
    return result


def rewards_lock_for_codes(*, code_ids: list[int]) -> None:
    """Lock the rewards of these fuel-tank codes (before the codes themselves are locked)."""
    list(
        Reward.objects.select_for_update(of=("self",))
        .filter(code_id__in=code_ids)
        .order_by("pk")
        .values_list("pk", flat=True)
    )


@transaction.atomic
def reward_codes_voided(*, program: Program, code_ids: list[int]) -> int:
    """Rewards whose fuel-tank code was voided. A pending reward (its code reserved, never shown)
    goes back to waiting for a code and is served in its turn, oldest first: the one move
    outside waiting → pending → available → paid, because the code it was waiting out its
    review with no longer exists (ALLOWED_MOVES lists it). A reward whose code was revealed is
    flagged for review (the advocate was shown a code that no longer works). Returns how many
    rewards were touched."""
    touched = 0
    rewards = Reward.objects.select_for_update(of=("self",)).filter(code_id__in=code_ids)
    for reward in rewards.order_by("pk"):
        touched += 1
        if reward.status == RewardStatus.PENDING:
            reward.code = None
            # keeps its available_at
            _move(reward, RewardStatus.WAITING_FOR_STOCK, now=timezone.now())
            reward.save(update_fields=["code", "status"])
            rewards_fill_waiting_later(program_id=reward.program_id)
        elif not reward.needs_review:
            reward.needs_review = True
            reward.save(update_fields=["needs_review"])
    return touched
