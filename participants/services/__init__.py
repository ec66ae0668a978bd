"""Writes with business meaning for participants (keyword-only arguments, one transaction
each), split by job: upsert (participants from the API, imports, the widget and orders),
referrals, rewards (every reward state change), advocates (blocking, codes by hand,
program-wide top-ups) and erasure (privacy requests). Admin, API, tasks and commands import the
public names from here."""

from .advocates import (
    BlockResult,
    advocates_top_up_program,
    advocates_top_up_program_later,
    participant_block,
    participant_code_add,
    participant_unblock,
)
from .erasure import ErasureResult, ParticipantNotFound, participant_erase
from .referrals import (
    ReferralRefused,
    referral_code_for_link,
    referral_convert,
    referral_link,
    referral_link_from_code,
    referral_reverse,
)
from .rewards import (
    ALLOWED_MOVES,
    MarkPaidResult,
    RewardMoveRefused,
    reward_cancel,
    reward_cap_reached,
    reward_codes_voided,
    reward_grant,
    reward_withhold,
    rewards_fill_waiting,
    rewards_fill_waiting_later,
    rewards_lock_for_codes,
    rewards_mark_paid,
    rewards_release_due,
)
from .upsert import (
    PROFILE_FIELDS,
    participant_friend_get_or_create,
    participant_upsert,
    participant_upsert_referred,
)

__all__ = [
    "ALLOWED_MOVES",
    "PROFILE_FIELDS",
    "BlockResult",
    "ErasureResult",
    "MarkPaidResult",
    "ParticipantNotFound",
    "ReferralRefused",
    "RewardMoveRefused",
    "advocates_top_up_program",
    "advocates_top_up_program_later",
    "participant_block",
    "participant_code_add",
    "participant_erase",
    "participant_friend_get_or_create",
    "participant_unblock",
    "participant_upsert",
    "participant_upsert_referred",
    "referral_code_for_link",
    "referral_convert",
    "referral_link",
    "referral_link_from_code",
    "referral_reverse",
    "reward_cancel",
    "reward_cap_reached",
    "reward_codes_voided",
    "reward_grant",
    "reward_withhold",
    "rewards_fill_waiting",
    "rewards_fill_waiting_later",
    "rewards_lock_for_codes",
    "rewards_mark_paid",
    "rewards_release_due",
]
