"""Business events, announced by the services that cause them (docs/architecture.md, Events).

A service calls `event_emit(...)` inside its own transaction; the signal's receivers run there
and then, in that transaction, so whatever they write (the webhooks app's outbox) commits or
rolls back with the change itself. The apps that cause events never import the apps that listen.
"""

from django.dispatch import Signal

PARTICIPANT_CREATED = "participant.created"
PARTICIPANT_ERASED = "participant.erased"
CODE_ASSIGNED = "code.assigned"
CODE_REDEEMED = "code.redeemed"
CODE_EXPIRED = "code.expired"
REFERRAL_CONVERTED = "referral.converted"
REFERRAL_HELD_FOR_REVIEW = "referral.held_for_review"
REWARD_CREATED = "reward.created"
REWARD_AVAILABLE = "reward.available"
REWARD_PAID = "reward.paid"
REWARD_CANCELLED = "reward.cancelled"
CONVERSION_REVERSED = "conversion.reversed"
STOCK_LOW = "stock.low"
STOCK_EMPTY = "stock.empty"

EVENT_TYPES = (
    PARTICIPANT_CREATED,
    PARTICIPANT_ERASED,
    CODE_ASSIGNED,
    CODE_REDEEMED,
    CODE_EXPIRED,
    REFERRAL_CONVERTED,
    REFERRAL_HELD_FOR_REVIEW,
    REWARD_CREATED,
    REWARD_AVAILABLE,
    REWARD_PAID,
    REWARD_CANCELLED,
    CONVERSION_REVERSED,
    STOCK_LOW,
    STOCK_EMPTY,
)

# Sent with `program_id`, `types` (the event types `build` may return) and `build`: a callable
# returning a list of (type, data, email) — `data` holds ids and amounts only; `email` is the
# advocate's address (or "") that only an endpoint opted in to it receives. A listener calls
# `build` only when someone wants one of `types`, so an event nobody listens to costs no reads.
business_events = Signal()


def event_emit(*, program_id: int, type: str, data: dict, email: str = "") -> None:
    """Announce one event of program `program_id`. Call it inside the transaction of the change."""
    events_emit(program_id=program_id, types=(type,), build=lambda: [(type, data, email)])


def events_emit(*, program_id: int, types: tuple[str, ...], build) -> None:
    """Announce the events `build()` returns (of these `types`), built only if anyone listens."""
    business_events.send(sender=None, program_id=program_id, types=types, build=build)
