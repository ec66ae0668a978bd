"""Writes with business meaning for conversions: record an order, reverse it.

Keyword-only arguments, one transaction each.
"""

from django.conf import settings
from django.db import IntegrityError, connection, transaction
from django.db.models import Q
from django.utils import timezone, translation
from django.utils.translation import gettext_noop

from codes.models import LeakAlert, PoolKind, PromoCode
from codes.refusals import Refusal, order_sentence
from codes.rules import (
    ATTRIBUTE_REFUSALS,
    UNATTRIBUTED_REFUSALS,
    CodeUse,
    canonical_or_none,
    code_verdict,
    promo_codes_split,
    refusal_when,
)
from codes.services import CodeNotRedeemable, code_leak_flag, code_redeem, codes_top_up
from foundation.events import events_batched, events_listening
from foundation.hashing import ip_digest
from foundation.redaction import needles, pattern, redact
from foundation.statements import execute_after
from participants.models import Participant, Referral, ReferralStatus, Reward, RewardStatus
from participants.services import (
    participant_friend_get_or_create,
    referral_convert,
    referral_reverse,
    reward_cap_counts,
    reward_caps_lock_sql,
    reward_grant,
    reward_withhold,
)
from programs.models import CodeUsage, Program

from .events import conversion_outcome_emit, conversion_reversed_emit
from .models import Conversion, ConversionItem, ConversionReason, ConversionStatus, ReviewStatus
from .payload import (
    EVENT_DATE_NOW,
    email_digest,
    is_email_digest,
    payload_digest,
    payload_normalise,
)
from .review import review_body, review_of
from .selectors import leaked_code_candidates, review_facts
from .sql import ARGUMENTS, ATTRIBUTE_FUNCTION, EXISTING, PYTHON

# The sentences of the outcomes that are not refusals (a refusal's is codes.refusals').
ATTRIBUTED_REASON = "Attributed to the advocate holding the code."


def repeat_reason(referral_status: str) -> str:
    return (
        f"Attributed to the advocate holding the code; the customer's referral is already "
        f"{referral_status}, so no new reward."
    )


def _refused(conversion, status, refusal: Refusal, **context):
    """The order is `status` for `refusal`: its code and the sentence derived from it."""
    conversion.status = status
    conversion.reason_code = refusal.value
    _reason_set(conversion, lambda: order_sentence(refusal, **context))


def _reason_set(conversion, sentence):
    """A refused order's reason: stored in English (the console and a replay read the stored
    answer), and in the request's language for the answer to the request that recorded it
    (`reason_read`, not stored)."""
    with translation.override("en"):
        conversion.reason = sentence()
    conversion.reason_read = sentence()


def _verdict_refused(conversion, verdict):
    rejected = verdict.is_referral_code
    conversion.status = ConversionStatus.REJECTED if rejected else ConversionStatus.UNATTRIBUTED
    conversion.reason_code = verdict.refusal.value
    _reason_set(conversion, lambda: verdict.reason)


def _attributed(conversion, referral_status=None):
    conversion.status = ConversionStatus.ATTRIBUTED
    if referral_status is None:
        conversion.reason_code = ConversionReason.ATTRIBUTED
        conversion.reason = ATTRIBUTED_REASON
    else:
        conversion.reason_code = ConversionReason.REPEAT_ORDER
        conversion.reason = repeat_reason(referral_status)


class ConversionConflict(Exception):
    """The OrderId was already recorded with a different payload."""


def reward_body(reward: Reward | None) -> dict | None:
    if reward is None:
        return None
    return {
        "id": reward.pk,
        "kind": reward.kind,
        "status": reward.status,
        "amount": None if reward.amount is None else str(reward.amount),
        "currency": reward.currency or None,
        "percent": None if reward.percent is None else str(reward.percent),
        "available_at": reward.available_at.isoformat() if reward.available_at else None,
        "needs_review": reward.needs_review,
        "reason_code": reward.reason_code or None,
    }


def conversion_body(conversion: Conversion, reward: Reward | None = None) -> dict:
    """The answer to a conversion (stored on the row, so a replay returns it verbatim)."""
    code_used = conversion.code.code if conversion.code_id is not None else None
    return {
        "order_id": conversion.order_id,
        "status": conversion.status,
        "reason": conversion.reason,
        "reason_code": conversion.reason_code or None,
        "advocate_id": conversion.advocate.participant_id if conversion.advocate else None,
        "referral_id": conversion.referral_id,
        "reward": reward_body(reward),
        "reversed_at": conversion.reversed_at.isoformat() if conversion.reversed_at else None,
        "reversal_reason": conversion.reversal_reason if conversion.reversed_at else None,
        "code_used": code_used,
        "codes_ignored": [
            code for code in promo_codes_split(conversion.promo_code) if code != code_used
        ],
        "review": review_body(conversion),
    }


@transaction.atomic
def conversion_record(*, program: Program, payload: dict) -> tuple[Conversion, bool]:
    """Record an order and attribute it (docs/architecture.md). Returns (conversion, created).

    `payload` is the parsed order (PAYLOAD_FIELDS). The Conversion row is inserted first: the
    unique (program, order_id) index makes every concurrent copy of one order wait for the
    first and then find its row, so an order is attributed (and rewarded) once and every copy
    gets the same answer. The same OrderId with a different payload raises ConversionConflict.

    On PostgreSQL (settings.CONVERSIONS_FAST_PATH) the attribution is one call of the
    database function conversions_attribute (generated by conversions.sql) and one UPDATE of
    the outcome; a fuel-tank reward program or a SHA-1 CustomerEmail takes the Python path,
    as everything does on SQLite. Both make the same writes under the same locks.
    """
    values = payload_normalise(payload)
    digest = payload_digest(values)
    values["attribution_code"] = _attribution_code(program=program, promo_code=values["promo_code"])
    # What the review looks at, beside the payload (not part of it: a replay from another
    # address is the same order).
    values["ip_hash"] = ip_digest(payload.get("ip_address"))
    values["customer_status"] = (payload.get("customer_status") or "").strip()
    now = timezone.now()
    if _fast_path_applies(values):
        # The order's events are written together when it is recorded (foundation.events).
        with events_batched():
            recorded = _record_in_database(program=program, values=values, digest=digest, now=now)
        if recorded is not None:
            return recorded
    return _record_in_python(program=program, values=values, digest=digest, now=now)


def _attribution_code(*, program, promo_code):
    """The code (canonical; None when none can be) that attributes an order: its one code; of
    several, the first that is one of the program's referral codes held by an advocate, else
    the first referral code, else the first code. Read without a lock: the attribution locks
    the chosen code and judges it as it then stands."""
    codes = promo_codes_split(promo_code)
    if len(codes) <= 1:
        return canonical_or_none(promo_code)
    canonicals = [code for code in map(canonical_or_none, codes) if code]
    if not canonicals:
        return None
    referral = dict(
        PromoCode.objects.filter(
            program=program, code__in=canonicals, pool__kind=PoolKind.REFERRAL
        ).values_list("code", "holder_id")
    )
    held = [code for code in canonicals if referral.get(code) is not None]
    return (held or [code for code in canonicals if code in referral] or canonicals)[0]


def _existing(*, program, values, digest, pk=None):
    lookup = {"pk": pk} if pk is not None else {"order_id": values["order_id"]}
    existing = Conversion.objects.get(program=program, **lookup)
    if existing.payload_digest != digest:
        raise ConversionConflict(
            f"Order {values['order_id']!r} was already recorded with a different payload."
        )
    return existing, False


def _event_date(values, now):
    return now if values["event_date"] == EVENT_DATE_NOW else values["event_date"]


def _items_create(conversion, values):
    if values["items"]:
        ConversionItem.objects.bulk_create(
            ConversionItem(conversion=conversion, **item) for item in values["items"]
        )


def _outcome_save(conversion, reward):
    """Write the outcome: the columns that changed from the row as first inserted."""
    conversion.response = conversion_body(conversion, reward)
    changed = ["response"]
    if conversion.status != ConversionStatus.UNATTRIBUTED:
        changed.append("status")
    if conversion.reason:
        changed += ["reason", "reason_code"]
    changed += [
        name
        for name in ("code", "advocate", "friend", "referral", "reward")
        if getattr(conversion, f"{name}_id") is not None
    ]
    changed += [
        name for name in ("ip_hash", "review_status", "review_reasons") if getattr(conversion, name)
    ]
    if conversion.review_score is not None:
        changed.append("review_score")
    conversion.save(update_fields=changed)
    conversion_outcome_emit(conversion=conversion, reward=reward)


# --- The Python path (SQLite, and what the database function hands back) ----------------------


def _record_in_python(*, program, values, digest, now):
    try:
        with transaction.atomic():
            conversion = Conversion.objects.create(
                program=program,
                order_id=values["order_id"],
                status=ConversionStatus.UNATTRIBUTED,
                promo_code=values["promo_code"][:255],
                customer_id=values["customer_id"],
                customer_email=values["customer_email"],
                event_date=_event_date(values, now),
                order_subtotal=values["order_subtotal"],
                order_discount=values["order_discount"],
                currency_code=values["currency_code"],
                payload_digest=digest,
                ip_hash=values["ip_hash"],
            )
    except IntegrityError:
        return _existing(program=program, values=values, digest=digest)
    _items_create(conversion, values)
    reward = _attribute(conversion=conversion, program=program, values=values)
    _outcome_save(conversion, reward)
    return conversion, True


def _attribute(*, conversion, program, values):
    """Decide the outcome and make its writes; returns the reward or None."""
    if not values["promo_code"]:
        _refused(conversion, ConversionStatus.UNATTRIBUTED, Refusal.NO_CODE)
        return None
    canonical = values["attribution_code"]
    # Lock the code row: concurrent orders for one code are decided one after another.
    code = (
        PromoCode.objects.select_for_update(of=("self",))
        .select_related("pool", "holder")
        .filter(program=program, code=canonical)
        .first()
        if canonical
        else None
    )
    verdict = code_verdict(code, use=CodeUse.ATTRIBUTE)
    if code is not None and verdict.is_referral_code:
        conversion.code = code
        conversion.advocate = code.holder  # None for a code held by nobody
    if not verdict.allowed:
        _verdict_refused(conversion, verdict)
        return None
    advocate = code.holder
    if values["customer_id"] == advocate.participant_id or _same_email(
        values["customer_email"], advocate.email
    ):
        _refused(conversion, ConversionStatus.REJECTED, Refusal.SELF_REFERRAL)
        return None

    friend, new_friend = _friend(program=program, values=values)
    if friend.pk == advocate.pk:
        _refused(conversion, ConversionStatus.REJECTED, Refusal.SELF_REFERRAL)
        return None
    conversion.friend = friend
    # Orders of one customer are decided one after another: lock the friend's row (NO KEY, so
    # inserts that merely reference it are not blocked; of that row only, never the program
    # row the model's default ordering would join) before reading their referral. Without it
    # two first orders of one customer would both try to create the referral.
    list(
        Participant.objects.select_for_update(no_key=True, of=("self",))
        .filter(pk=friend.pk)
        .order_by()
        .values("pk")
    )
    referral = None if new_friend else Referral.objects.filter(friend=friend).first()
    try:
        code_redeem(code=code, order_id=values["order_id"], redeemed_by=friend)
    except CodeNotRedeemable as refused:
        _refused(
            conversion,
            ConversionStatus.REJECTED,
            Refusal.CODE_NOT_REDEEMABLE,
            detail=refused.reason,
        )
        return None
    if referral is not None and referral.status != ReferralStatus.PENDING:
        # A repeat order: the code was used at the shop (redeemed, or one more use counted),
        # but the customer's referral was already converted (or reversed): no second reward.
        conversion.referral = referral if referral.advocate_id == advocate.pk else None
        _attributed(conversion, referral.status)
        return None
    # The code used at checkout wins over an earlier pending link to another advocate.
    referral = referral_convert(
        referral=referral,
        program=program,
        advocate=advocate,
        friend=friend,
        code=code,
        order_id=values["order_id"],
    )
    # Before the grant, so a capped fuel-tank reward claims no code.
    withheld, reason_code = _review_and_caps(
        conversion=conversion, program=program, values=values, advocate_id=advocate.pk
    )
    reward = reward_grant(referral=referral, withheld=withheld, reason_code=reason_code)
    conversion.referral = referral
    conversion.reward = reward
    _attributed(conversion)
    return reward


# --- The database path (PostgreSQL) -------------------------------------------------------------

_ATTRIBUTE_SQL = f"SELECT * FROM {ATTRIBUTE_FUNCTION}(" + ", ".join(["%s"] * len(ARGUMENTS)) + ")"


def _fast_path_applies(values) -> bool:
    # A hashed CustomerEmail is compared with the advocate's address hashed, which the database
    # cannot do without pgcrypto: such orders take the Python path.
    return (
        settings.CONVERSIONS_FAST_PATH
        and connection.vendor == "postgresql"
        and not is_email_digest(values["customer_email"])
    )


def _record_in_database(*, program, values, digest, now):
    """The attribution in one call of conversions_attribute, then the outcome in one UPDATE;
    None when the function hands the order back to the Python path (nothing written)."""
    promo_code = values["promo_code"][:255]
    event_date = _event_date(values, now)
    with connection.cursor() as cursor:
        cursor.execute(
            _ATTRIBUTE_SQL,
            [
                program.pk,
                values["order_id"],
                promo_code,
                values["attribution_code"] if promo_code else None,
                values["customer_id"],
                values["customer_email"],
                event_date,
                values["order_subtotal"],
                values["order_discount"],
                values["currency_code"],
                digest,
                now,
            ],
        )
        names = [column.name for column in cursor.description]
        row = dict(zip(names, cursor.fetchone(), strict=True))
    # Whether anyone listens to the program's events (foundation.events): when nobody does,
    # the order announces none.
    if row["listened"] is not None:
        events_listening(program_id=program.pk, listening=row["listened"])
    outcome = row["outcome"]
    if outcome == PYTHON:
        return None
    if outcome == EXISTING:
        return _existing(program=program, values=values, digest=digest, pk=row["conversion_id"])
    conversion = Conversion(
        pk=row["conversion_id"],
        program=program,
        order_id=values["order_id"],
        status=ConversionStatus.UNATTRIBUTED,
        promo_code=promo_code,
        customer_id=values["customer_id"],
        customer_email=values["customer_email"],
        event_date=event_date,
        order_subtotal=values["order_subtotal"],
        order_discount=values["order_discount"],
        currency_code=values["currency_code"],
        payload_digest=digest,
        created_at=now,
        ip_hash=values["ip_hash"],
    )
    _items_create(conversion, values)
    reward = _attribution_outcome(conversion=conversion, program=program, row=row, values=values)
    _outcome_save(conversion, reward)
    return conversion, True


def _attribution_outcome(*, conversion, program, row, values):
    """Fill in the conversion from what conversions_attribute did (its outcome is a refusal
    code or what it did: conversions.sql); give the replacement code of a redeemed single-use
    code; return the reward or None."""
    outcome = row["outcome"]
    if outcome == Refusal.NO_CODE:
        _refused(conversion, ConversionStatus.UNATTRIBUTED, Refusal.NO_CODE)
        return None
    if outcome in UNATTRIBUTED_REFUSALS:
        refusal = Refusal(outcome)
        when = refusal_when(refusal, None, row["code_expires_at"], row["code_valid_from"])
        _refused(conversion, ConversionStatus.UNATTRIBUTED, refusal, when=when)
        return None
    # A referral code of the program: the order names it and its holder, whatever the outcome.
    advocate = None
    if row["holder_id"] is not None:
        advocate = Participant(
            pk=row["holder_id"],
            program=program,
            participant_id=row["holder_participant_id"],
            is_advocate=row["holder_is_advocate"],
            is_blocked=row["holder_is_blocked"],
            erased_at=row["holder_erased_at"],
            email=row["holder_email"] or "",
        )
    # The function found the code by the attribution code (its canonical text): keep both, so
    # the answer and the events need not read the code's row again.
    if row["code_id"] is not None:
        conversion.code = PromoCode(
            pk=row["code_id"], program=program, code=values["attribution_code"]
        )
    conversion.advocate = advocate
    if outcome in _CODE_REFUSALS:
        refusal = Refusal(outcome)
        when = refusal_when(refusal, row["code_voided_at"], None, None)
        _refused(conversion, ConversionStatus.REJECTED, refusal, when=when)
        return None
    if outcome == Refusal.SELF_REFERRAL:
        _refused(conversion, ConversionStatus.REJECTED, Refusal.SELF_REFERRAL)
        return None
    # The friend as the function found them (their id and participant id: what the events
    # name), so that nothing reads their row again.
    conversion.friend = Participant(
        pk=row["friend_id"], program=program, participant_id=row["friend_participant_id"]
    )
    if outcome == Refusal.CODE_NOT_REDEEMABLE:
        _refused(
            conversion,
            ConversionStatus.REJECTED,
            Refusal.CODE_NOT_REDEEMABLE,
            detail=gettext_noop("code changed"),  # translated with its sentence
        )
        return None
    if row["code_usage"] == CodeUsage.SINGLE:
        codes_top_up(holder=advocate)  # a replacement at once
    if outcome == ConversionReason.REPEAT_ORDER:
        if row["referral_advocate_id"] == advocate.pk:
            conversion.referral_id = row["referral_id"]
        _attributed(conversion, row["referral_status"])
        return None
    if outcome != ConversionReason.ATTRIBUTED:
        raise RuntimeError(f"conversions_attribute answered an unknown outcome {outcome!r}")
    reward = Reward(
        pk=row["reward_id"],
        program=program,
        advocate=advocate,
        referral_id=row["referral_id"],
        kind=row["reward_kind"],
        status=row["reward_status"],
        amount=row["reward_amount"],
        currency=row["reward_currency"],
        percent=row["reward_percent"],
        available_at=row["reward_available_at"],
        needs_review=False,
    )
    withheld, reason_code = _review_and_caps(
        conversion=conversion,
        program=program,
        values=values,
        advocate_id=advocate.pk,
        exclude_id=reward.pk,
    )
    if withheld is not None:
        reward_withhold(reward=reward, status=withheld, reason_code=reason_code)
    conversion.referral_id = row["referral_id"]
    conversion.reward = reward
    _attributed(conversion)
    return reward


# The refusals of a referral code by the code rules (codes.rules.ATTRIBUTE_REFUSALS) that reject
# the order, which names the code.
_CODE_REFUSALS = frozenset(refusal for refusal, _ in ATTRIBUTE_REFUSALS) - UNATTRIBUTED_REFUSALS


def _review_and_caps(*, conversion, program, values, advocate_id, exclude_id=None):
    """The review of an order about to reward its advocate (conversions.review), written on
    the conversion, then the reward caps (participants.services.reward_cap_reached) when the
    review withholds nothing: returns (the status its reward is withheld with, or None; reason
    code). With the policy off and no cap set: nothing read, nothing written.

    With both, the caps' locks are taken first and the review's facts and the caps' counts are
    read in one statement after them (docs/architecture.md, Review and caps at attribution);
    `exclude_id` is the reward already recorded (the database path), not counted."""
    thresholds = program.review_thresholds
    caps = program.has_reward_caps
    if thresholds is None and not caps:
        return None, ""
    cap_sql, cap_params, decide, lock = "", [], None, ("", [])
    if caps:
        # The locks' statement goes in the same round trip as the one that counts, which still
        # runs after it (foundation.statements).
        lock = reward_caps_lock_sql(program=program, advocate_id=advocate_id)
        cap_sql, cap_params, decide = reward_cap_counts(
            program=program, advocate_id=advocate_id, exclude_id=exclude_id
        )
    if thresholds is None:
        return _capped(decide, _select(cap_sql, cap_params, after=lock))
    facts, counts = review_facts(
        conversion=conversion,
        advocate_id=advocate_id,
        friend_id=conversion.friend_id,
        values=values,
        program=program,
        also=(cap_sql, cap_params),
        after=lock,
    )
    review = review_of(facts, thresholds)
    conversion.review_status = review.status
    conversion.review_score = review.score
    conversion.review_reasons = ",".join(review.reasons)
    if review.status == ReviewStatus.HELD:
        return RewardStatus.PENDING_REVIEW, ""
    if review.status == ReviewStatus.DENIED:
        return RewardStatus.CANCELLED, "review_denied"
    return _capped(decide, counts)


def _select(sql, params, *, after=("", [])):
    """One row of `SELECT sql` (() when sql is empty), run after the statement `after`."""
    if not sql:
        return ()
    with connection.cursor() as cursor:
        execute_after(cursor, after, "SELECT " + sql, params)
        return cursor.fetchone()


def _capped(decide, counts):
    """(CAPPED, its reason code) when a cap is reached, else (None, "")."""
    reason_code = decide(counts) if decide is not None and counts else ""
    return (RewardStatus.CAPPED, reason_code) if reason_code else (None, "")


def _same_email(customer_email, advocate_email):
    """CustomerEmail (an address, or the SHA-1 or SHA-256 hex digest of the trimmed lower-case
    address, as impact.com clients send it) names the advocate's address."""
    if not customer_email or not advocate_email:
        return False
    if is_email_digest(customer_email):
        return customer_email == email_digest(advocate_email, like=customer_email)
    return customer_email == advocate_email.strip().lower()


def _friend(*, program, values):
    """The customer as a participant: by CustomerId; else an existing participant with the
    CustomerEmail; else a new participant named after the order (`order:<OrderId>`).

    A hashed CustomerEmail is no address: it finds nobody and is given to nobody."""
    email = values["customer_email"]
    if is_email_digest(email):
        email = ""
    if values["customer_id"]:
        return participant_friend_get_or_create(
            program=program,
            participant_id=values["customer_id"],
            email=email,
        )
    if email:
        known = (
            Participant.objects.filter(program=program, email__iexact=email).order_by("id").first()
        )
        if known is not None:
            return known, False
    return participant_friend_get_or_create(
        program=program,
        participant_id=f"order:{values['order_id']}"[:255],
        email=email,
    )


@transaction.atomic
def conversion_reverse(*, conversion: Conversion, reason: str = "") -> Conversion:
    """Reverse a refunded or cancelled order: cancel its referral and reward (a paid reward
    stays paid, flagged needs_review); the code stays redeemed and a multi-use count stays.

    Idempotent: reversing again changes nothing and answers the same.
    Returns the conversion and its answer with the current reward.
    """
    conversion = Conversion.objects.select_for_update().get(pk=conversion.pk)
    if conversion.reversed_at is None:
        conversion.reversed_at = timezone.now()
        conversion.reversal_reason = (reason or "").strip()
        if conversion.status == ConversionStatus.ATTRIBUTED:
            conversion.status = ConversionStatus.REVERSED
        conversion.save(update_fields=["status", "reversed_at", "reversal_reason"])
        conversion_reversed_emit(conversion=conversion)
        if conversion.referral_id is not None:
            referral_reverse(referral=conversion.referral)
    return conversion


def conversion_current_body(conversion: Conversion) -> dict:
    """The conversion's answer as it stands now (after a reversal: with reversed_at, the
    reversal reason and the reward's current status)."""
    reward = conversion.reward
    if reward is not None:
        reward.refresh_from_db()
    return conversion_body(conversion, reward)


# Orders rewritten per statement when an advocate's id changes in their stored answers.
_FORGET_CHUNK = 500


def conversions_forget_customer(*, program: Program, participants, erased) -> int:
    """A participant's personal data is being erased: their orders keep their amounts, codes
    and outcomes for the brand's books, but no longer the customer's e-mail (an address or its
    SHA-1 digest) or id, and the stored answers name the advocate by their tombstone.

    `participants` are the erased rows (already carrying their tombstones); `erased` says what
    the person was known by (participants.services.erasure.ErasedIdentity). Call inside the
    erasure's transaction. Returns how many orders lost the customer's data.

    The orders are found by customer, CustomerId and CustomerEmail (no index covers the last
    two: a full pass over the program's orders, acceptable for a rare privacy request, and the
    hot path of recording an order pays no index for it). The payload digest stays, so a replay
    of an order sent before the erasure still gets its first answer rather than a 409.
    """
    customer = Q(friend__in=participants) | Q(customer_id__in=erased.participant_ids)
    if erased.email:
        customer |= Q(customer_email__in=[erased.email, *erased.email_sha1s, *erased.email_sha256s])
    theirs = Conversion.objects.filter(program=program).filter(customer)
    new_ids = {
        old: person.participant_id
        for old, person in zip(erased.participant_ids, participants, strict=True)
    }
    changed = 0
    for old_id, new_id in new_ids.items():
        changed += theirs.filter(customer_id=old_id).update(customer_id=new_id, customer_email="")
    changed += theirs.exclude(customer_email="").update(customer_email="")
    # Answers kept for replays name the advocate by participant id.
    as_advocate = Conversion.objects.filter(program=program, advocate__in=participants)
    tombstone_of = {person.pk: person.participant_id for person in participants}
    rewritten = []
    for conversion in as_advocate.only("pk", "advocate_id", "response"):
        response = dict(conversion.response or {})
        if response.get("advocate_id") is not None:
            response["advocate_id"] = tombstone_of[conversion.advocate_id]
            conversion.response = response
            rewritten.append(conversion)
    Conversion.objects.bulk_update(rewritten, ["response"], batch_size=_FORGET_CHUNK)
    _conversion_texts_redact(program=program, values=[*erased.values, *erased.email_sha1s])
    return changed


def _conversion_texts_redact(*, program: Program, values) -> None:
    """Free text of the program's orders that quotes the erased person (an order line named
    after their address, a reversal reason) keeps its words with the values cut out. No index
    covers it: a pass over the program's orders, as above."""
    compiled = pattern(values)
    if compiled is None:
        return
    lines, reversals = Q(), Q()
    for value in needles(values):
        for name in ("sku", "name", "category"):
            lines |= Q(**{f"{name}__icontains": value})
        reversals |= Q(reversal_reason__icontains=value)
    quoted = ConversionItem.objects.filter(conversion__program=program).filter(lines)
    for item in quoted.only("pk", "sku", "name", "category"):
        ConversionItem.objects.filter(pk=item.pk).update(
            sku=redact(item.sku, compiled),
            name=redact(item.name, compiled),
            category=redact(item.category, compiled),
        )
    reversed_orders = Conversion.objects.filter(program=program).filter(reversals)
    for conversion in reversed_orders.only("pk", "reversal_reason", "response"):
        Conversion.objects.filter(pk=conversion.pk).update(
            reversal_reason=redact(conversion.reversal_reason, compiled),
            response=redact(conversion.response, compiled),
        )


def codes_leak_detect(*, since, now=None) -> list[LeakAlert]:
    """Flag the multi-use codes used by more customers within 24 hours than their program
    allows (README, "Reviewing referrals"), looking at the codes used in an order since
    `since`. Each code is flagged and its e-mail recorded in a transaction of its own
    (codes.services.code_leak_flag): once, however many workers run this together. Returns
    the alerts recorded by this run."""
    now = now or timezone.now()
    flagged = []
    for row in leaked_code_candidates(since=since, now=now):
        alert = code_leak_flag(
            code_id=row["code_id"], customers=row["customers"], threshold=row["threshold"]
        )
        if alert is not None:
            flagged.append(alert)
    return flagged
