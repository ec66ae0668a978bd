"""Reads over conversions that are more than one ORM call."""

import json
from datetime import datetime, timedelta

from django.db import connection
from django.db.models import Count, F, QuerySet
from django.utils import timezone

from codes.rules import promo_codes_split
from foundation.keyset import DEFAULT_PAGE_SIZE, Page, keyset_page
from foundation.statements import execute_after
from programs.models import CodeUsage, Program

from .models import Conversion, ConversionStatus
from .review import ReviewFacts

# The read API's GET …/conversions: a keyset page in (created_at, id) order over the
# program's orders (foundation.keyset), served by the (program, created_at, id) index. Reads
# that tolerate a second's lag: a read replica router can send these to a replica from here.


def _iso(when):
    # The times of the POST's answer, written as it writes them (conversions.services).
    return None if when is None else when.isoformat()


def conversion_item(row: dict) -> dict:
    """An order as the server API lists it: the answer its POST got (as it stands now) and
    what was sent with it."""
    reward = None
    if row["reward_id"] is not None:
        reward = {
            "id": row["reward_id"],
            "kind": row["reward_kind"],
            "status": row["reward_status"],
            "amount": row["reward_amount"],
            "currency": row["reward_currency"] or None,
            "percent": row["reward_percent"],
            "available_at": _iso(row["reward_available_at"]),
            "needs_review": row["reward_needs_review"],
            "reason_code": row["reward_reason_code"] or None,
        }
    review = None
    if row["review_status"]:
        reasons = row["review_reasons"]
        review = {
            "status": row["review_status"],
            "score": row["review_score"],
            "reasons": reasons.split(",") if reasons else [],
        }
    return {
        "order_id": row["order_id"],
        "status": row["status"],
        "reason": row["reason"],
        "reason_code": row["reason_code"] or None,
        "advocate_id": row["advocate_ref"],
        "referral_id": row["referral_id"],
        "reward": reward,
        "reversed_at": _iso(row["reversed_at"]),
        "reversal_reason": row["reversal_reason"] if row["reversed_at"] else None,
        "review": review,
        "code_used": row["code_used"],
        "codes_ignored": [
            code for code in promo_codes_split(row["promo_code"]) if code != row["code_used"]
        ],
        "promo_code": row["promo_code"] or None,
        "customer_id": row["customer_id"] or None,
        "event_date": row["event_date"],
        "order_subtotal": row["order_subtotal"],
        "order_discount": row["order_discount"],
        "currency_code": row["currency_code"] or None,
        "received_at": row["created_at"],
    }


def conversions_page(
    *,
    program: Program,
    status: str | None = None,
    since: datetime | None = None,
    cursor: str | None = None,
    limit: int = DEFAULT_PAGE_SIZE,
) -> Page:
    """The program's orders, oldest first, filtered by outcome and received since."""
    conversions = Conversion.objects.filter(program=program)
    if status:
        conversions = conversions.filter(status=status)
    if since:
        conversions = conversions.filter(created_at__gte=since)
    rows = conversions.values(
        "id",
        "order_id",
        "status",
        "reason",
        "reason_code",
        "referral_id",
        "reward_id",
        "reversed_at",
        "reversal_reason",
        "promo_code",
        "customer_id",
        "event_date",
        "order_subtotal",
        "order_discount",
        "currency_code",
        "created_at",
        "review_status",
        "review_score",
        "review_reasons",
        advocate_ref=F("advocate__participant_id"),
        code_used=F("code__code"),
        reward_kind=F("reward__kind"),
        reward_status=F("reward__status"),
        reward_amount=F("reward__amount"),
        reward_currency=F("reward__currency"),
        reward_percent=F("reward__percent"),
        reward_available_at=F("reward__available_at"),
        reward_needs_review=F("reward__needs_review"),
        reward_reason_code=F("reward__reason_code"),
    )
    filters = {"status": status, "since": since}
    scope = json.dumps(["conversions", program.pk, {k: str(v) for k, v in filters.items() if v}])
    page = keyset_page(rows, scope=scope, cursor=cursor, limit=limit)
    return Page(rows=[conversion_item(row) for row in page.rows], next_cursor=page.next_cursor)


# The review's facts about an order (conversions.review), in one statement: the advocate's
# and the friend's rows, whether the advocate ordered from the order's address lately (an order
# whose CustomerId is theirs), whether the customer ordered before (by CustomerId, or as the
# friend: the indexes conversion_by_customer and the friend's key), and the advocate's other
# referred orders in the last hour (counted up to the program's limit: past it, the number does
# not matter). Reads the primary: it is read in order to write.
_REVIEW_FACTS_SQL = """
SELECT a.participant_id, a.email, a.first_name, a.last_name, a.ip_hash,
       f.first_name, f.last_name,
       EXISTS (SELECT 1 FROM conversions_conversion c
                WHERE c.program_id = a.program_id AND c.customer_id = a.participant_id
                  AND c.customer_id <> '' AND c.ip_hash = %s AND c.created_at >= %s),
       EXISTS (SELECT 1 FROM conversions_conversion c
                WHERE c.friend_id = f.id AND c.id <> %s)
       OR EXISTS (SELECT 1 FROM conversions_conversion c
                   WHERE c.program_id = a.program_id AND c.customer_id = %s
                     AND c.customer_id <> '' AND c.id <> %s),
       (SELECT count(*) FROM (SELECT 1 FROM conversions_conversion c
                               WHERE c.advocate_id = a.id AND c.id <> %s
                                 AND c.created_at >= %s
                               LIMIT %s) AS recent){also}
  FROM participants_participant a, participants_participant f
 WHERE a.id = %s AND f.id = %s
"""
# How far back the advocate's own orders count for the same-IP check.
REVIEW_IP_DAYS = 30


def review_facts(
    *,
    conversion,
    advocate_id: int,
    friend_id: int,
    values: dict,
    program,
    also=("", ()),
    after=("", []),
):
    """The ReviewFacts of an order being attributed (conversions.review), and the values of
    `also` (a SQL select list and its parameters, read in the same statement: the reward caps'
    counts) as a tuple; read after the statement `after` (the caps' locks), in its round trip
    (foundation.statements)."""
    also_sql, also_params = also
    now = timezone.now()
    ip_hash = values.get("ip_hash") or ""
    limit = program.review_velocity_per_hour
    with connection.cursor() as cursor:
        execute_after(
            cursor,
            after,
            _REVIEW_FACTS_SQL.format(also=f", {also_sql}" if also_sql else ""),
            [
                ip_hash or "-",  # no address: matches no order
                now - timedelta(days=REVIEW_IP_DAYS),
                conversion.pk,
                values["customer_id"],
                conversion.pk,
                conversion.pk,
                now - timedelta(hours=1),
                limit + 1,
                *also_params,
                advocate_id,
                friend_id,
            ],
        )
        row = cursor.fetchone()
    (
        advocate_pid,
        advocate_email,
        advocate_first,
        advocate_last,
        advocate_ip,
        friend_first,
        friend_last,
        ordered_from_ip,
        ordered_before,
        recent,
    ) = row[:10]
    facts = ReviewFacts(
        customer_email=values["customer_email"],
        customer_id=values["customer_id"],
        customer_status=values.get("customer_status") or "",
        ip_hash=ip_hash,
        advocate_participant_id=advocate_pid,
        advocate_email=advocate_email,
        advocate_name=f"{advocate_first} {advocate_last}",
        friend_name=f"{friend_first} {friend_last}",
        advocate_seen_at_ip=bool(ip_hash) and (advocate_ip == ip_hash or bool(ordered_from_ip)),
        friend_ordered_before=bool(ordered_before),
        advocate_orders_last_hour=recent,
        velocity_limit=limit,
    )
    return facts, tuple(row[10:])


# --- Leaked multi-use codes (README, "Reviewing referrals") ---------------------------------

# Orders in which a code was used: attributed, and attributed then reversed (refunded).
CODE_USED = (ConversionStatus.ATTRIBUTED, ConversionStatus.REVERSED)
LEAK_DAY = timedelta(days=1)


def leaked_code_candidates(*, since: datetime, now: datetime) -> list[dict]:
    """Multi-use codes not flagged yet, used in an order since `since`, whose distinct
    customers (each order's friend) in the 24 hours to `now` are more than their program's
    `review_leak_customers_per_day`: [{"code_id", "customers", "threshold"}]. The recent orders
    are a range of the (program, created_at) index per program with the setting on; each
    code's day, a probe of the code's index."""
    programs = list(
        Program.objects.filter(review_leak_customers_per_day__gt=0).values_list("pk", flat=True)
    )
    if not programs:
        return []
    return list(leaked_code_rows(program_ids=programs, since=since, now=now))


def leaked_code_rows(*, program_ids: list[int], since: datetime, now: datetime) -> QuerySet:
    """The query of leaked_code_candidates, for the programs given."""
    recent = (
        Conversion.objects.filter(
            program_id__in=program_ids, created_at__gte=since, status__in=CODE_USED
        )
        .exclude(code_id=None)
        .values("code_id")
    )
    return (
        Conversion.objects.filter(
            code_id__in=recent,
            created_at__gt=now - LEAK_DAY,
            created_at__lte=now,
            status__in=CODE_USED,
            code__usage=CodeUsage.MULTI,
            code__leaked_at=None,
        )
        .values("code_id", threshold=F("program__review_leak_customers_per_day"))
        .annotate(customers=Count("friend_id", distinct=True))
        .filter(customers__gt=F("threshold"))
        .order_by("code_id")
    )
