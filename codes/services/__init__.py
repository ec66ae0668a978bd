"""Writes with business meaning for pools, batches and codes (keyword-only arguments, one
transaction each), split by job:

- pools: the referral pool; tanks: fuel tanks, the reward tank and reward codes;
- batches: importing a code file as one batch; generation: generated and hand-made codes;
- assignment: topping advocates up to quota, the queue of the short;
- redemption: a code used in an order, or copied; voiding: codes taken out of use;
- stock: low-stock alerts, and what a landed batch sets off;
- leaks: leaked multi-use codes flagged and e-mailed once.

Admin, API, tasks and commands import the public names from here.
"""

from ..errors import (
    CannotAddCode,
    CodeNotHeld,
    CodeNotRedeemable,
    CodeSpaceTooSmall,
    PromoCodesOff,
)
from .assignment import (
    CodeHolder,
    TopUpRun,
    codes_holder_withdraw,
    codes_top_up,
    codes_top_up_expired,
    codes_top_up_holders,
    codes_top_up_short,
)
from .batches import (
    InvalidValidity,
    batch_import,
    batch_process_upload,
    batch_resume_stalled,
    batch_upload_enqueue,
    import_staging_sweep,
    validity_moment,
)
from .expiry import ExpiryRun, codes_expired_announce
from .generation import (
    DEFAULT_GENERATED_LENGTH,
    GENERATED_ALPHABET,
    batch_generate,
    code_add_manual,
)
from .leaks import code_leak_flag, leak_alert_send, leak_alerts_resend_unsent
from .pools import REFERRAL_POOL_NAME, pool_get_or_create_referral, referral_pool_of
from .redemption import CodeCopy, code_record_copy, code_redeem
from .stock import pool_batch_landed, pool_stock_check, stock_alert_send
from .tanks import (
    pool_create_fuel_tank,
    pool_set_reward_tank,
    pool_update_settings,
    program_reward_rule_set,
    reward_tank_of,
    tank_code_claim,
    tank_code_release,
    tank_codes_reveal,
    validate_pool_name,
    validate_recipients,
)
from .voiding import (
    VoidPreview,
    VoidResult,
    codes_void,
    codes_void_preview,
    codes_void_reasons_forget,
    codes_void_reasons_redact,
)

__all__ = [
    "DEFAULT_GENERATED_LENGTH",
    "GENERATED_ALPHABET",
    "REFERRAL_POOL_NAME",
    "CannotAddCode",
    "CodeCopy",
    "CodeHolder",
    "CodeNotHeld",
    "CodeNotRedeemable",
    "CodeSpaceTooSmall",
    "ExpiryRun",
    "InvalidValidity",
    "PromoCodesOff",
    "TopUpRun",
    "VoidPreview",
    "VoidResult",
    "batch_generate",
    "batch_import",
    "batch_process_upload",
    "batch_resume_stalled",
    "batch_upload_enqueue",
    "code_add_manual",
    "code_leak_flag",
    "code_record_copy",
    "code_redeem",
    "codes_expired_announce",
    "codes_holder_withdraw",
    "codes_top_up",
    "codes_top_up_expired",
    "codes_top_up_holders",
    "codes_top_up_short",
    "codes_void",
    "codes_void_preview",
    "codes_void_reasons_forget",
    "codes_void_reasons_redact",
    "import_staging_sweep",
    "leak_alert_send",
    "leak_alerts_resend_unsent",
    "pool_batch_landed",
    "pool_create_fuel_tank",
    "pool_get_or_create_referral",
    "pool_set_reward_tank",
    "pool_stock_check",
    "pool_update_settings",
    "program_reward_rule_set",
    "referral_pool_of",
    "reward_tank_of",
    "stock_alert_send",
    "tank_code_claim",
    "tank_code_release",
    "tank_codes_reveal",
    "validate_pool_name",
    "validate_recipients",
    "validity_moment",
]
