"""Expiry: each code that expires while available or assigned is announced once (code.expired).

A code expires by the clock alone (CodeState.EXPIRED), so nothing writes at that moment: the
periodic task (codes.tasks.top_up_expired_holders) claims the codes past their expiry that were
not announced yet, a chunk per transaction, marks them (`expired_notified_at`) and writes their
events in that same transaction. The claim locks its chunk with SKIP LOCKED and re-reads the
mark, so two workers running it at once share the codes and never announce one twice; a run
stops after a bounded number of chunks and says whether more are left.
"""

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from ..events import codes_expired_emit
from ..models import CodeState, CodeStatus, PromoCode

EXPIRY_CHUNK = 1000
# Chunks per run: a million codes expiring at once are announced over many short runs, each
# of at most EXPIRY_CHUNK × EXPIRY_CHUNKS_PER_RUN codes, never in one long transaction.
EXPIRY_CHUNKS_PER_RUN = 50

# Past their expiry, still available or assigned (a redeemed or voided code has ended already),
# not announced yet: what the partial index promocode_expiry_unannounced holds, once expired.
_UNANNOUNCED = (
    CodeState.EXPIRED
    & Q(status__in=[CodeStatus.AVAILABLE, CodeStatus.ASSIGNED])
    & Q(expired_notified_at__isnull=True)
)


@dataclass
class ExpiryRun:
    """What one run of codes_expired_announce did."""

    announced: int = 0
    # It stopped at its bound with codes still to announce.
    more: bool = False


def codes_expired_announce(
    *, chunk_size: int = EXPIRY_CHUNK, max_chunks: int = EXPIRY_CHUNKS_PER_RUN
) -> ExpiryRun:
    """Announce the codes that expired while available or held (code.expired), oldest expiry
    first: each chunk of `chunk_size` codes in its own transaction, at most `max_chunks`
    chunks. Safe to run twice at once (SKIP LOCKED on the chunk, the mark re-read under it)."""
    run = ExpiryRun()
    for _ in range(max_chunks):
        announced = _announce_chunk(chunk_size=chunk_size)
        run.announced += announced
        if announced < chunk_size:
            return run
    run.more = PromoCode.objects.filter(_UNANNOUNCED).exists()
    return run


def claim_query(*, chunk_size: int):
    """The claim of a chunk: the codes table alone, in the order of the partial index
    promocode_expiry_unannounced, so each chunk walks only the codes it takes (what the
    events say is read after, by id)."""
    return (
        PromoCode.objects.select_for_update(skip_locked=True)
        .filter(_UNANNOUNCED)
        .order_by("expires_at", "id")
        .values_list("pk", "program_id")[:chunk_size]
    )


@transaction.atomic
def _announce_chunk(*, chunk_size: int) -> int:
    claimed = list(claim_query(chunk_size=chunk_size))
    if not claimed:
        return 0
    PromoCode.objects.filter(pk__in=[pk for pk, _ in claimed]).update(
        expired_notified_at=timezone.now()
    )
    codes_expired_emit(codes=claimed)
    return len(claimed)
