"""conversions_attribute(): the attribution of one order as one database call (PostgreSQL).

conversions.services.conversion_record calls it on PostgreSQL (settings.CONVERSIONS_FAST_PATH);
SQLite and the cases it hands back run the Python path of the same module. See the function's
own comment for what it does and where each rule it restates is defined.
"""

from django.db import migrations

FUNCTION = r"""
CREATE OR REPLACE FUNCTION conversions_attribute(
    p_program_id bigint,
    p_order_id text,
    p_promo_code text,       -- OrderPromoCode as sent, upper case, at most 255 characters
    p_code text,             -- its canonical form (codes.rules.canonical_code), NULL if none
    p_customer_id text,
    p_customer_email text,   -- lower case; never a SHA-1 digest (those take the Python path)
    p_event_date timestamptz,
    p_order_subtotal numeric,
    p_order_discount numeric,
    p_currency_code text,
    p_payload_digest text,
    p_now timestamptz,
    OUT outcome text,
    OUT conversion_id bigint,
    OUT code_id bigint,
    OUT code_code text,
    OUT code_status text,
    OUT code_usage text,
    OUT code_pool_kind text,
    OUT code_voided_at timestamptz,
    OUT holder_id bigint,
    OUT holder_participant_id text,
    OUT holder_is_advocate boolean,
    OUT holder_is_blocked boolean,
    OUT holder_erased_at timestamptz,
    OUT friend_id bigint,
    OUT referral_id bigint,
    OUT referral_advocate_id bigint,
    OUT referral_status text,
    OUT reward_id bigint,
    OUT reward_kind text,
    OUT reward_status text,
    OUT reward_amount numeric,
    OUT reward_currency text,
    OUT reward_percent numeric,
    OUT reward_available_at timestamptz
) LANGUAGE plpgsql AS $fn$
/*
The attribution of one order (docs/architecture.md, Attribution and conversions) in one round trip: the
same statements, in the same order and under the same locks, as the Python path of
conversions.services (_attribute), which stays the reference. It writes everything except the
conversion's outcome (status, reason, the links and the stored answer): the caller computes
those (the reason from codes.rules.code_verdict on the code state returned here) and writes
them in one UPDATE of the changed columns.

Outcomes:
  python          a fuel-tank reward program: nothing written, the caller runs the Python path
  existing        the OrderId is already recorded (conversion_id): a replay or a 409
  no_code         the order carries no promo code
  refused         the code (or its absence from the program) does not attribute: the caller
                  asks code_verdict why
  self_referral   the customer is the advocate (CustomerId or e-mail, or the same participant)
  not_redeemable  the code stopped being assigned (cannot happen under the code lock; kept as
                  the Python path's CodeNotRedeemable)
  repeat          the code was used (redeemed / counted) but the customer's referral was
                  already converted or cancelled: no second reward (referral_* says which)
  attributed      referral converted (created if need be) and reward granted

Rules restated here, each defined elsewhere (tests/conversions check both paths agree):
  - whether a code attributes: codes.rules.code_verdict(use=ATTRIBUTE) over the states of
    codes.models.CodeState (status values of codes.models.CodeStatus) and the holder's
    participants.models.Participant.can_hold_codes;
  - the redemption: codes.services.redemption.code_redeem (one conditional UPDATE of an
    assigned code; a single-use code becomes redeemed);
  - the friend: conversions.services._friend / participants.services.participant_friend_get_or_create;
  - the reward: participants.services.rewards.reward_grant / _start_review (credit or
    percent; pending for the review period, else available at once).
The replacement code of a redeemed single-use code is not given here: the caller runs the
codes app's top-up (codes.services.codes_top_up), the one definition of the quota.
*/
#variable_conflict use_column
DECLARE
    v_kind text;
    v_amount numeric;
    v_currency text;
    v_percent numeric;
    v_review_days integer;
    v_holder_email text;
    v_new_friend boolean := false;
    v_friend_pid text;
    v_email text := coalesce(p_customer_email, '');
BEGIN
    SELECT reward_kind, reward_amount, reward_currency, reward_percent, reward_review_days
      INTO v_kind, v_amount, v_currency, v_percent, v_review_days
      FROM programs_program WHERE id = p_program_id;
    IF v_kind = 'fuel_tank' THEN
        outcome := 'python';
        RETURN;
    END IF;

    -- The unique (program, order_id) index makes a concurrent copy of the order wait for the
    -- first one's commit, then find its row.
    INSERT INTO conversions_conversion (
        program_id, order_id, status, reason, promo_code, customer_id, customer_email,
        event_date, order_subtotal, order_discount, currency_code, payload_digest, response,
        created_at, reversal_reason)
    VALUES (
        p_program_id, p_order_id, 'unattributed', '', p_promo_code, p_customer_id, v_email,
        p_event_date, p_order_subtotal, p_order_discount, p_currency_code, p_payload_digest,
        '{}'::jsonb, p_now, '')
    ON CONFLICT (program_id, order_id) DO NOTHING
    RETURNING id INTO conversion_id;
    IF conversion_id IS NULL THEN
        SELECT id INTO conversion_id FROM conversions_conversion
         WHERE program_id = p_program_id AND order_id = p_order_id;
        outcome := 'existing';
        RETURN;
    END IF;

    IF p_promo_code = '' THEN
        outcome := 'no_code';
        RETURN;
    END IF;

    -- The code row locked (of the code only): concurrent orders for one code are decided one
    -- after another.
    IF p_code IS NOT NULL THEN
        SELECT c.id, c.code, c.status, c.usage, pl.kind, c.voided_at, c.holder_id,
               h.participant_id, h.email, h.is_advocate, h.is_blocked, h.erased_at
          INTO code_id, code_code, code_status, code_usage, code_pool_kind, code_voided_at,
               holder_id, holder_participant_id, v_holder_email, holder_is_advocate,
               holder_is_blocked, holder_erased_at
          FROM codes_promocode c
          JOIN codes_pool pl ON pl.id = c.pool_id
          LEFT JOIN participants_participant h ON h.id = c.holder_id
         WHERE c.program_id = p_program_id AND c.code = p_code
           FOR UPDATE OF c;
    END IF;
    -- code_verdict(use=ATTRIBUTE) allows: a referral-pool code, not voided, held by someone
    -- (not available), not a single-use code already redeemed, its holder able to hold codes.
    IF code_id IS NULL
       OR code_pool_kind <> 'referral'
       OR code_status IN ('voided', 'available')
       OR holder_id IS NULL
       OR (code_usage = 'single' AND code_status = 'redeemed')
       OR NOT (holder_is_advocate AND NOT holder_is_blocked AND holder_erased_at IS NULL)
    THEN
        outcome := 'refused';
        RETURN;
    END IF;

    IF p_customer_id = holder_participant_id
       OR (v_email <> '' AND coalesce(v_holder_email, '') <> ''
           AND v_email = lower(btrim(v_holder_email)))
    THEN
        outcome := 'self_referral';
        RETURN;
    END IF;

    -- The customer as a participant (locked FOR NO KEY UPDATE, of that row only, so orders of
    -- one customer are decided one after another and inserts referencing them are not
    -- blocked): by CustomerId; else by e-mail; else a new participant named after the order.
    IF p_customer_id <> '' OR v_email = '' THEN
        v_friend_pid := CASE WHEN p_customer_id <> '' THEN p_customer_id
                             ELSE left('order:' || p_order_id, 255) END;
        FOR attempt IN 1..2 LOOP
            SELECT id INTO friend_id FROM participants_participant
             WHERE program_id = p_program_id AND participant_id = v_friend_pid
               FOR NO KEY UPDATE;
            EXIT WHEN friend_id IS NOT NULL;
            INSERT INTO participants_participant (
                program_id, participant_id, email, first_name, last_name, account_id,
                is_advocate, is_blocked, created_at, updated_at)
            VALUES (p_program_id, v_friend_pid, v_email, '', '', '', false, false, p_now, p_now)
            ON CONFLICT (program_id, participant_id) DO NOTHING
            RETURNING id INTO friend_id;
            IF friend_id IS NOT NULL THEN
                v_new_friend := true;
                EXIT;
            END IF;
        END LOOP;
        IF friend_id IS NULL THEN
            RAISE EXCEPTION 'conversions_attribute: could not insert or find the friend';
        END IF;
    ELSE
        SELECT id INTO friend_id FROM participants_participant
         WHERE program_id = p_program_id AND upper(email) = upper(v_email)
         ORDER BY id LIMIT 1
           FOR NO KEY UPDATE;
        IF friend_id IS NULL THEN
            v_friend_pid := left('order:' || p_order_id, 255);
            INSERT INTO participants_participant (
                program_id, participant_id, email, first_name, last_name, account_id,
                is_advocate, is_blocked, created_at, updated_at)
            VALUES (p_program_id, v_friend_pid, v_email, '', '', '', false, false, p_now, p_now)
            ON CONFLICT (program_id, participant_id) DO NOTHING
            RETURNING id INTO friend_id;
            IF friend_id IS NULL THEN
                SELECT id INTO friend_id FROM participants_participant
                 WHERE program_id = p_program_id AND participant_id = v_friend_pid
                   FOR NO KEY UPDATE;
            ELSE
                v_new_friend := true;
            END IF;
        END IF;
    END IF;
    IF friend_id = holder_id THEN
        outcome := 'self_referral';
        RETURN;
    END IF;

    IF NOT v_new_friend THEN
        SELECT id, advocate_id, status INTO referral_id, referral_advocate_id, referral_status
          FROM participants_referral WHERE friend_id = conversions_attribute.friend_id;
    END IF;

    UPDATE codes_promocode
       SET redemption_count = redemption_count + 1,
           redeemed_order_id = p_order_id,
           redeemed_by_id = friend_id,
           redeemed_at = p_now,
           status = CASE WHEN usage = 'single' THEN 'redeemed' ELSE status END
     WHERE id = code_id AND status = 'assigned';
    IF NOT FOUND THEN
        outcome := 'not_redeemable';
        RETURN;
    END IF;

    IF referral_id IS NOT NULL AND referral_status <> 'pending' THEN
        outcome := 'repeat';
        RETURN;
    END IF;
    -- The code used at checkout wins over an earlier pending link to another advocate.
    IF referral_id IS NOT NULL THEN
        UPDATE participants_referral
           SET status = 'converted', advocate_id = holder_id, code_id = conversions_attribute.code_id,
               order_id = p_order_id, converted_at = p_now
         WHERE id = referral_id;
    ELSE
        INSERT INTO participants_referral (
            program_id, advocate_id, friend_id, code_id, status, order_id, created_at,
            converted_at)
        VALUES (p_program_id, holder_id, friend_id, code_id, 'converted', p_order_id, p_now,
                p_now)
        RETURNING id INTO referral_id;
    END IF;
    referral_advocate_id := holder_id;
    referral_status := 'converted';

    reward_kind := v_kind;
    reward_amount := CASE WHEN v_kind = 'credit' THEN v_amount END;
    reward_currency := CASE WHEN v_kind = 'credit' THEN v_currency ELSE '' END;
    reward_percent := CASE WHEN v_kind = 'percent' THEN v_percent END;
    IF coalesce(v_review_days, 0) > 0 THEN
        reward_status := 'pending';
        reward_available_at := p_now + make_interval(days => v_review_days);
    ELSE
        reward_status := 'available';
        reward_available_at := p_now;
    END IF;
    INSERT INTO participants_reward (
        program_id, advocate_id, referral_id, kind, amount, currency, percent, status,
        needs_review, available_at, created_at)
    VALUES (p_program_id, holder_id, referral_id, reward_kind, reward_amount, reward_currency,
            reward_percent, reward_status, false, reward_available_at, p_now)
    RETURNING id INTO reward_id;
    outcome := 'attributed';
END
$fn$;
"""

DROP = (
    "DROP FUNCTION IF EXISTS conversions_attribute(bigint, text, text, text, text, text, "
    "timestamptz, numeric, numeric, text, text, timestamptz)"
)


def create(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(FUNCTION)


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(DROP)


class Migration(migrations.Migration):
    dependencies = [
        ("conversions", "0003_conversion_items"),
        ("participants", "0003_participant_erased_at"),
        ("codes", "0007_validate_code_constraints"),
        ("programs", "0002_program_name_single_line"),
    ]

    operations = [migrations.RunPython(create, drop, elidable=False)]
