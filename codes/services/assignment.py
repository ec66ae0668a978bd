"""Assignment: advocates brought to their code quota from the program's referral pool, and the
codes app's queue of advocates short of codes (CodeShortfall).

The participants app says who may hold codes (`holder.can_hold_codes`); this module never reads
a participant column. Every change to one holder's codes runs under that holder's lock
(sql.lock_holder), so two top-ups of one advocate never both fill the same gap.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from foundation.events import events_listening
from programs.models import Program

from .. import sql
from ..events import codes_assigned_emit
from ..models import CodeShortfall, CodeState, PromoCode
from .pools import pool_get_or_create_referral

TOP_UP_CHUNK = 200


class CodeHolder(Protocol):
    """Who can hold codes: a participants.Participant, as far as the codes app needs to know."""

    pk: int
    program_id: int

    @property
    def can_hold_codes(self) -> bool: ...


@dataclass(frozen=True)
class TopUpResult:
    claimed: int
    # The pool could not fill the quota: the holder is (still) in the queue of the short.
    short: bool
    # The codes claimed, (id, code) in claim order, and their holder's participant id and
    # e-mail, when the top-up answered them (code.assigned then reads nothing).
    assigned: tuple[list[tuple[int, str]], str, str] | None = None
    # False when the top-up's own statement found nobody listening to the program's events:
    # code.assigned is then not announced (no read, no payload).
    listened: bool | None = None


_NOTHING = TopUpResult(claimed=0, short=False)

# Per program (one referral pool each): the (batch id, code id) this process claimed last, where
# the next claim starts (see sql.top_up_function_sql). Shared by the process's threads; a stale
# or missing hint costs a longer scan, never a wrong claim.
_claim_hints: dict[int, tuple[int, int]] = {}


def codes_top_up(*, holder: CodeHolder) -> int:
    """Bring an advocate to their code quota from the program's referral pool; return how many
    codes were assigned now.

    One transaction. Idempotent: an advocate at quota gets nothing, and concurrent calls for one
    advocate are serialised on the holder lock. When the pool runs short the advocate joins the
    queue of the short, so a later batch tops them up in the order they fell short. After the
    commit, the pool's stock is checked for low-stock alerts. A participant who may not hold
    codes (a friend not yet an advocate, a blocked advocate) gets none.
    """
    if not holder.can_hold_codes:
        return 0
    return _top_up(holder_id=holder.pk, program_id=holder.program_id).claimed


def _top_up(*, holder_id: int, program_id: int, only_if_queued: bool = False) -> TopUpResult:
    top_up = _top_up_in_one_call if connection.vendor == "postgresql" else _top_up_in_statements
    result = top_up(holder_id=holder_id, program_id=program_id, only_if_queued=only_if_queued)
    if result.listened is False:
        return result
    codes_assigned_emit(
        program_id=program_id,
        holder_id=holder_id,
        claimed=result.claimed,
        assigned=result.assigned,
    )
    return result


def _top_up_in_one_call(*, holder_id: int, program_id: int, only_if_queued: bool) -> TopUpResult:
    """PostgreSQL: the whole top-up is one function call, so one round trip; outside a
    transaction the call is a transaction of its own (no BEGIN and COMMIT trips)."""
    for _ in range(2):
        call = sql.top_up_call(
            holder_id=holder_id,
            program_id=program_id,
            only_if_queued=only_if_queued,
            now=timezone.now(),
            after=_claim_hints.get(program_id),
        )
        if call.outcome != "no pool":
            break
        pool_get_or_create_referral(program=Program(pk=program_id))
    if call.outcome != "topped up":
        return _NOTHING
    if call.listened is not None:
        events_listening(program_id=program_id, listening=call.listened)
    if call.last_claimed is not None:
        # Only once committed: a rolled-back claim leaves its codes first in line again.
        last = call.last_claimed
        transaction.on_commit(lambda: _claim_hints.__setitem__(program_id, last))
    elif call.short:
        _claim_hints.pop(program_id, None)  # the pool is empty: the next batch starts anew
    if call.claimed:
        _check_stock_on_commit(
            pool_id=call.pool_id,
            usage=call.usage,
            threshold=call.threshold,
            after=call.last_claimed,
        )
    return TopUpResult(
        claimed=call.claimed,
        short=call.short,
        assigned=(call.codes, call.holder_participant_id, call.holder_email),
        listened=call.listened,
    )


@transaction.atomic
def _top_up_in_statements(
    *, holder_id: int, program_id: int, only_if_queued: bool = False
) -> TopUpResult:
    """SQLite (one writer at a time): the same steps as the PostgreSQL function, one statement
    each."""
    sql.lock_holder(holder_id)
    program, held, queued_since = sql.holder_state(holder_id=holder_id, program_id=program_id)
    if program is None or not program.promo_codes_enabled:
        return _NOTHING
    pool_id = program.referral_pool_id
    if pool_id is None:  # no referral pool yet: nothing is held from it
        pool_id = pool_get_or_create_referral(program=Program(pk=program_id)).pk
    usage = program.code_usage
    if only_if_queued and queued_since is None:
        return _NOTHING  # served meanwhile, or taken out of the queue (blocked)
    missing = program.code_quota - held
    if missing <= 0:
        if queued_since is not None:
            _dequeue(holder_id)
        return _NOTHING
    now = timezone.now()
    claimed = sql.claim(pool_id=pool_id, usage=usage, holder_id=holder_id, count=missing, now=now)
    short = claimed < missing
    if short and queued_since is None:
        CodeShortfall.objects.create(holder_id=holder_id, program_id=program_id, since=now)
    elif not short and queued_since is not None:
        _dequeue(holder_id)
    if claimed:
        _check_stock_on_commit(pool_id=pool_id, usage=usage, threshold=program.low_stock_threshold)
    return TopUpResult(claimed=claimed, short=short)


def _dequeue(holder_id: int) -> None:
    CodeShortfall.objects.filter(holder_id=holder_id).delete()


def _check_stock_on_commit(
    *, pool_id: int, usage: str | None, threshold: int, after: tuple[int, int] | None = None
) -> None:
    # Claims only ever lower stock, so nothing re-arms here: one cheap capped count after the
    # commit, and the full (locking, alert-claiming) check only at or below the threshold.
    # `after`: the last code claimed; more than `threshold` codes past it settle the question
    # without walking the claimed codes' dead index entries before it.
    def check():
        if after is not None:
            past = sql.available_at_most(pool_id=pool_id, usage=usage, limit=threshold, after=after)
            if past > threshold:
                return
        if sql.available_at_most(pool_id=pool_id, usage=usage, limit=threshold) <= threshold:
            from .stock import pool_stock_check

            pool_stock_check(pool_id=pool_id)

    transaction.on_commit(check)


@transaction.atomic
def codes_holder_withdraw(*, holder_id: int) -> None:
    """Take a holder out of the queue of the short (the participants app calls it when the
    holder may no longer hold codes, e.g. blocked)."""
    sql.lock_holder(holder_id)
    _dequeue(holder_id)


def codes_holder_dequeue_if_at_quota(*, holder_id: int, held: int, quota: int) -> None:
    """After codes were added to a holder by other means (by hand): leave the queue at quota.
    Call under the holder lock."""
    if held >= quota:
        _dequeue(holder_id)


# --- Runs over the queue ------------------------------------------------------------------------


@dataclass
class TopUpRun:
    """What one run over a program's advocates did."""

    advocates_seen: int = 0
    advocates_topped_up: int = 0
    codes_assigned: int = 0
    # The pool ran dry during the run (a short run stops there; the rest wait for a batch).
    pool_empty: bool = False

    def add(self, result: TopUpResult) -> None:
        self.advocates_seen += 1
        self.codes_assigned += result.claimed
        self.advocates_topped_up += bool(result.claimed)
        self.pool_empty = self.pool_empty or result.short


def codes_top_up_short(
    *,
    program: Program,
    chunk_size: int = TOP_UP_CHUNK,
    progress: Callable[[TopUpRun], None] | None = None,
) -> TopUpRun:
    """Top up the program's advocates short of codes, in the order they fell short.

    The queue is walked in (since, holder) order, a chunk at a time, each advocate topped up in
    their own short transaction, never one long one. An advocate who may no longer hold codes
    (their `can_hold_codes`, the participants app's word) leaves the queue. Safe to re-run and
    to run twice at once: each top-up takes the holder lock and re-reads the queue under it.
    Stops at the first advocate the pool cannot fill: the pool is empty, so the rest keep
    their place.
    `progress(run)` is called after each chunk.
    """
    run = TopUpRun()
    if not program.promo_codes_enabled:
        return run
    queue = CodeShortfall.objects.filter(program=program)
    after: tuple[datetime, int] | None = None
    while True:
        chunk_query = queue
        if after is not None:
            since, holder_id = after
            chunk_query = queue.filter(Q(since__gt=since) | Q(since=since, holder_id__gt=holder_id))
        chunk = list(
            chunk_query.select_related("holder").order_by("since", "holder_id")[:chunk_size]
        )
        for entry in chunk:
            if not entry.holder.can_hold_codes:
                # Blocked (or no longer an advocate) without being taken out: out now.
                codes_holder_withdraw(holder_id=entry.holder_id)
                continue
            result = _top_up(holder_id=entry.holder_id, program_id=program.pk, only_if_queued=True)
            run.add(result)
            if result.short:
                break
        if progress is not None and chunk:
            progress(run)
        if run.pool_empty or len(chunk) < chunk_size:
            return run
        after = (chunk[-1].since, chunk[-1].holder_id)


def codes_top_up_expired(*, since: datetime, now: datetime | None = None) -> TopUpRun:
    """Top up the advocates holding a referral code that expired between `since` and `now`:
    an expired code counts toward no quota (CodeState.VALID_NOW), so each gets a fresh one
    without waiting for a page load. Each in their own transaction; safe to re-run (an advocate
    at quota gets nothing), so overlapping windows cost little."""
    now = now or timezone.now()
    expired = (
        PromoCode.objects.filter(CodeState.ASSIGNED & CodeState.IN_REFERRAL_POOL)
        .filter(expires_at__gt=since, expires_at__lte=now)
        .values("holder_id")
    )
    holders = PromoCode._meta.get_field("holder").related_model.objects.filter(pk__in=expired)
    run = TopUpRun()
    after = 0
    while chunk := list(holders.filter(pk__gt=after).order_by("pk")[:TOP_UP_CHUNK]):
        codes_top_up_holders(holders=chunk, run=run)
        after = chunk[-1].pk
    return run


def codes_top_up_holders(
    *,
    holders: list[CodeHolder],
    run: TopUpRun | None = None,
) -> TopUpRun:
    """Top up each of these holders (a chunk the participants app chose), each in its own
    transaction; an empty pool marks the rest short so a batch serves them later."""
    run = run or TopUpRun()
    for holder in holders:
        if holder.can_hold_codes:
            run.add(_top_up(holder_id=holder.pk, program_id=holder.program_id))
    return run
