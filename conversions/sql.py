"""The attribution of one order as one PostgreSQL function, generated from the rule definitions
(docs/architecture.md, Database functions).

`conversions.services.conversion_record` calls `conversions_attribute` on PostgreSQL: one round
trip instead of a dozen. Its text is built here, never typed into a migration: the tables are the
models' (`_meta.db_table`), every status and kind is its enum's value, whether a code attributes
is `codes.rules.ATTRIBUTE_REFUSALS` compiled by Django (the same predicates the Python path reads
on the loaded code), who may hold codes is `participants.models.MAY_HOLD_CODES`, and the statuses
a new reward starts in are checked against `ALLOWED_MOVES`. Every `migrate` re-installs it
(conversions.receivers), so a changed rule reaches the database with the next migrate.

The function answers with a refusal code (codes.refusals.Refusal) or what it did, never a
sentence: the caller derives the sentence from the code.
"""

from django.db import connection, transaction

from codes.models import CodeState, CodeStatus, Pool, PromoCode
from codes.refusals import Refusal
from codes.rules import ATTRIBUTE_REFUSALS
from foundation.events import listening_sql
from foundation.predicates import predicate_sql
from participants.models import (
    MAY_HOLD_CODES,
    Participant,
    Referral,
    ReferralStatus,
    Reward,
    RewardStatus,
)
from participants.services.rewards import ALLOWED_MOVES
from programs.models import CodeUsage, Program, RewardKind

from .models import Conversion, ConversionReason, ConversionStatus

ATTRIBUTE_FUNCTION = "conversions_attribute"
# The arguments, in order (the signature is what DROP FUNCTION names).
ARGUMENTS = (
    ("p_program_id", "bigint"),
    ("p_order_id", "text"),
    ("p_promo_code", "text"),  # OrderPromoCode as sent, upper case, at most 255 characters
    ("p_code", "text"),  # its canonical form (codes.rules.canonical_code), NULL if none
    ("p_customer_id", "text"),
    ("p_customer_email", "text"),  # lower case; never a SHA-1 digest (the Python path's)
    ("p_event_date", "timestamptz"),
    ("p_order_subtotal", "numeric"),
    ("p_order_discount", "numeric"),
    ("p_currency_code", "text"),
    ("p_payload_digest", "text"),
    ("p_now", "timestamptz"),
)
# Outcomes that are not refusals (beside Refusal's values and ConversionReason's).
PYTHON = "python"  # a fuel-tank reward program: nothing written, the Python path runs
EXISTING = "existing"  # the OrderId is already recorded (conversion_id): a replay or a 409


def _literal(value) -> str:
    return connection.ops.compose_sql("%s", [str(value)])


def _table(model) -> str:
    return model._meta.db_table


def _verdict_sql() -> str:
    """The CASE naming the first refusal of ATTRIBUTE_REFUSALS that holds for the code `c` (its
    pool `pl`, its holder `h`), NULL when it attributes."""
    aliases = {_table(PromoCode): "c", _table(Pool): "pl", _table(Participant): "h"}
    may_hold = predicate_sql(Participant, MAY_HOLD_CODES, aliases)
    whens = []
    for refusal, predicate in ATTRIBUTE_REFUSALS:
        if predicate is None:
            condition = f"NOT coalesce({may_hold}, false)"
        else:
            condition = f"coalesce({predicate_sql(PromoCode, predicate, aliases)}, false)"
        whens.append(f"WHEN {condition} THEN {_literal(refusal)}")
    # Now() is the order's time, as the Python path reads it.
    case = "CASE " + "\n                    ".join(whens) + " END"
    return case.replace("STATEMENT_TIMESTAMP()", "p_now")


def _reward_start_statuses() -> tuple[str, str]:
    """The statuses a new credit or percent reward starts in: it is created waiting and moves
    at once to pending (a review period) or available (reward_grant's _start_review); both
    moves must be allowed."""
    start = RewardStatus.WAITING_FOR_STOCK
    for to in (RewardStatus.PENDING, RewardStatus.AVAILABLE):
        if to not in ALLOWED_MOVES[start]:
            raise RuntimeError(f"ALLOWED_MOVES no longer lets a new reward become {to}")
    return _literal(RewardStatus.PENDING), _literal(RewardStatus.AVAILABLE)


def attribute_function_sql() -> str:
    """CREATE OR REPLACE the function: the same steps, in the same order and under the same
    locks, as the Python path (conversions.services._attribute), which the parity test
    (tests/conversions/test_paths.py) holds it to."""
    codes, pools, participants = _table(PromoCode), _table(Pool), _table(Participant)
    conversions, referrals, rewards = _table(Conversion), _table(Referral), _table(Reward)
    pending, available = _reward_start_statuses()
    assigned = predicate_sql(PromoCode, CodeState.ASSIGNED, {codes: codes})
    arguments = ",\n    ".join(f"{name} {kind}" for name, kind in ARGUMENTS)
    new_friend_insert = f"""INSERT INTO {participants} (
                program_id, participant_id, email, first_name, last_name, account_id,
                is_advocate, is_blocked, created_at, updated_at)
            VALUES (p_program_id, v_friend_pid, v_email, '', '', '', false, false, p_now, p_now)
            ON CONFLICT (program_id, participant_id) DO NOTHING
            RETURNING id INTO friend_id;"""
    return f"""
CREATE OR REPLACE FUNCTION {ATTRIBUTE_FUNCTION}(
    {arguments},
    OUT outcome text,
    OUT conversion_id bigint,
    OUT code_id bigint,
    OUT code_usage text,
    OUT code_voided_at timestamptz,
    OUT code_expires_at timestamptz,
    OUT code_valid_from timestamptz,
    OUT holder_id bigint,
    OUT holder_participant_id text,
    OUT holder_is_advocate boolean,
    OUT holder_is_blocked boolean,
    OUT holder_erased_at timestamptz,
    OUT holder_email text,
    OUT friend_id bigint,
    OUT friend_participant_id text,
    OUT referral_id bigint,
    OUT referral_advocate_id bigint,
    OUT referral_status text,
    OUT reward_id bigint,
    OUT reward_kind text,
    OUT reward_status text,
    OUT reward_amount numeric,
    OUT reward_currency text,
    OUT reward_percent numeric,
    OUT reward_available_at timestamptz,
    OUT listened boolean
) LANGUAGE plpgsql AS $fn$
-- Generated by conversions.sql.attribute_function_sql: edit the rules, not this text.
#variable_conflict use_column
DECLARE
    v_kind text;
    v_amount numeric;
    v_currency text;
    v_percent numeric;
    v_review_days integer;
    v_refusal text;
    v_new_friend boolean := false;
    v_friend_pid text;
    v_email text := coalesce(p_customer_email, '');
BEGIN
    -- Whether anyone listens to the program's events (foundation.events.listening_sql), so
    -- that the order's events cost nothing more when nobody does.
    SELECT reward_kind, reward_amount, reward_currency, reward_percent, reward_review_days,
           {listening_sql("p_program_id")}
      INTO v_kind, v_amount, v_currency, v_percent, v_review_days, listened
      FROM {_table(Program)} WHERE id = p_program_id;
    IF v_kind = {_literal(RewardKind.FUEL_TANK)} THEN
        outcome := {_literal(PYTHON)};
        RETURN;
    END IF;

    -- Step 1, the order recorded: the unique (program, order_id) index makes a concurrent copy
    -- of the order wait for the first one's commit, then find its row.
    INSERT INTO {conversions} (
        program_id, order_id, status, reason, reason_code, promo_code, customer_id,
        customer_email, event_date, order_subtotal, order_discount, currency_code,
        payload_digest, response, created_at, reversal_reason)
    VALUES (
        p_program_id, p_order_id, {_literal(ConversionStatus.UNATTRIBUTED)}, '', '',
        p_promo_code, p_customer_id, v_email, p_event_date, p_order_subtotal, p_order_discount,
        p_currency_code, p_payload_digest, '{{}}'::jsonb, p_now, '')
    ON CONFLICT (program_id, order_id) DO NOTHING
    RETURNING id INTO conversion_id;
    IF conversion_id IS NULL THEN
        SELECT id INTO conversion_id FROM {conversions}
         WHERE program_id = p_program_id AND order_id = p_order_id;
        outcome := {_literal(EXISTING)};
        RETURN;
    END IF;

    IF p_promo_code = '' THEN
        outcome := {_literal(Refusal.NO_CODE)};
        RETURN;
    END IF;

    -- Step 2, the code's verdict (codes.rules.ATTRIBUTE_REFUSALS), its row locked (of the code
    -- only): concurrent orders for one code are decided one after another.
    IF p_code IS NOT NULL THEN
        SELECT c.id, c.usage, c.voided_at, c.expires_at, c.valid_from, c.holder_id,
               h.participant_id, h.email, h.is_advocate, h.is_blocked, h.erased_at,
               {_verdict_sql()}
          INTO code_id, code_usage, code_voided_at, code_expires_at, code_valid_from, holder_id,
               holder_participant_id,
               holder_email, holder_is_advocate, holder_is_blocked, holder_erased_at,
               v_refusal
          FROM {codes} c
          JOIN {pools} pl ON pl.id = c.pool_id
          LEFT JOIN {participants} h ON h.id = c.holder_id
         WHERE c.program_id = p_program_id AND c.code = p_code
           FOR UPDATE OF c;
    END IF;
    IF code_id IS NULL THEN
        outcome := {_literal(Refusal.NOT_REFERRAL_CODE)};
        RETURN;
    END IF;
    IF v_refusal IS NOT NULL THEN
        outcome := v_refusal;
        RETURN;
    END IF;

    -- Step 3, self-referral by CustomerId or e-mail.
    IF p_customer_id = holder_participant_id
       OR (v_email <> '' AND coalesce(holder_email, '') <> ''
           AND v_email = lower(btrim(holder_email)))
    THEN
        outcome := {_literal(Refusal.SELF_REFERRAL)};
        RETURN;
    END IF;

    -- Step 4, the customer as a participant (locked FOR NO KEY UPDATE, of that row only, so
    -- orders of one customer are decided one after another and inserts referencing them are
    -- not blocked): by CustomerId; else by e-mail; else a new participant named after the order.
    IF p_customer_id <> '' OR v_email = '' THEN
        v_friend_pid := CASE WHEN p_customer_id <> '' THEN p_customer_id
                             ELSE left('order:' || p_order_id, 255) END;
        FOR attempt IN 1..2 LOOP
            SELECT id INTO friend_id FROM {participants}
             WHERE program_id = p_program_id AND participant_id = v_friend_pid
               FOR NO KEY UPDATE;
            EXIT WHEN friend_id IS NOT NULL;
            {new_friend_insert}
            IF friend_id IS NOT NULL THEN
                v_new_friend := true;
                EXIT;
            END IF;
        END LOOP;
        IF friend_id IS NULL THEN
            RAISE EXCEPTION '{ATTRIBUTE_FUNCTION}: could not insert or find the friend';
        END IF;
    ELSE
        SELECT id, participant_id INTO friend_id, v_friend_pid FROM {participants}
         WHERE program_id = p_program_id AND upper(email) = upper(v_email)
         ORDER BY id LIMIT 1
           FOR NO KEY UPDATE;
        IF friend_id IS NULL THEN
            v_friend_pid := left('order:' || p_order_id, 255);
            {new_friend_insert}
            IF friend_id IS NULL THEN
                SELECT id INTO friend_id FROM {participants}
                 WHERE program_id = p_program_id AND participant_id = v_friend_pid
                   FOR NO KEY UPDATE;
            ELSE
                v_new_friend := true;
            END IF;
        END IF;
    END IF;
    friend_participant_id := v_friend_pid;
    IF friend_id = holder_id THEN
        outcome := {_literal(Refusal.SELF_REFERRAL)};
        RETURN;
    END IF;

    IF NOT v_new_friend THEN
        SELECT id, advocate_id, status INTO referral_id, referral_advocate_id, referral_status
          FROM {referrals} WHERE friend_id = {ATTRIBUTE_FUNCTION}.friend_id;
    END IF;

    -- Step 5, the redemption (codes.services.redemption.code_redeem): one conditional UPDATE
    -- of a code still assigned; a single-use code becomes redeemed.
    UPDATE {codes}
       SET redemption_count = redemption_count + 1,
           redeemed_order_id = p_order_id,
           redeemed_by_id = friend_id,
           redeemed_at = p_now,
           status = CASE WHEN usage = {_literal(CodeUsage.SINGLE)}
                         THEN {_literal(CodeStatus.REDEEMED)} ELSE status END
     WHERE id = code_id AND {assigned};
    IF NOT FOUND THEN
        outcome := {_literal(Refusal.CODE_NOT_REDEEMABLE)};
        RETURN;
    END IF;

    -- Step 6, the referral: a repeat order earns nothing more; else the referral converted
    -- (the code used at checkout wins over an earlier pending link to another advocate).
    IF referral_id IS NOT NULL AND referral_status <> {_literal(ReferralStatus.PENDING)} THEN
        outcome := {_literal(ConversionReason.REPEAT_ORDER)};
        RETURN;
    END IF;
    IF referral_id IS NOT NULL THEN
        UPDATE {referrals}
           SET status = {_literal(ReferralStatus.CONVERTED)}, advocate_id = holder_id,
               code_id = {ATTRIBUTE_FUNCTION}.code_id, order_id = p_order_id,
               converted_at = p_now
         WHERE id = referral_id;
    ELSE
        INSERT INTO {referrals} (
            program_id, advocate_id, friend_id, code_id, status, order_id, created_at,
            converted_at)
        VALUES (p_program_id, holder_id, friend_id, code_id,
                {_literal(ReferralStatus.CONVERTED)}, p_order_id, p_now, p_now)
        RETURNING id INTO referral_id;
    END IF;
    referral_advocate_id := holder_id;
    referral_status := {_literal(ReferralStatus.CONVERTED)};

    -- Step 7, the reward (participants.services.rewards.reward_grant): credit or percent;
    -- pending for the review period, else available at once.
    reward_kind := v_kind;
    reward_amount := CASE WHEN v_kind = {_literal(RewardKind.CREDIT)} THEN v_amount END;
    reward_currency := CASE WHEN v_kind = {_literal(RewardKind.CREDIT)} THEN v_currency
                            ELSE '' END;
    reward_percent := CASE WHEN v_kind = {_literal(RewardKind.PERCENT)} THEN v_percent END;
    IF coalesce(v_review_days, 0) > 0 THEN
        reward_status := {pending};
        reward_available_at := p_now + make_interval(days => v_review_days);
    ELSE
        reward_status := {available};
        reward_available_at := p_now;
    END IF;
    INSERT INTO {rewards} (
        program_id, advocate_id, referral_id, kind, amount, currency, percent, status,
        needs_review, available_at, created_at)
    VALUES (p_program_id, holder_id, referral_id, reward_kind, reward_amount, reward_currency,
            reward_percent, reward_status, false, reward_available_at, p_now)
    RETURNING id INTO reward_id;
    outcome := {_literal(ConversionReason.ATTRIBUTED)};
END
$fn$
"""


def attribute_function_drop_sql() -> str:
    types = ", ".join(kind for _, kind in ARGUMENTS)
    return f"DROP FUNCTION IF EXISTS {ATTRIBUTE_FUNCTION}({types})"


def attribute_function_install(*, only_if_present: bool = False) -> None:
    """Install (or replace) the function on PostgreSQL; nothing elsewhere. Dropped first: a
    changed list of OUT columns cannot be replaced in place. `only_if_present`: only if a
    migration installed it (not after migrating back before it)."""
    if connection.vendor != "postgresql":
        return
    # One transaction: a request calling the function meanwhile finds the old one or the new.
    with transaction.atomic(), connection.cursor() as cursor:
        if only_if_present:
            cursor.execute("SELECT to_regproc(%s) IS NOT NULL", [ATTRIBUTE_FUNCTION])
            if not cursor.fetchone()[0]:
                return
        cursor.execute(attribute_function_drop_sql())
        cursor.execute(attribute_function_sql())
