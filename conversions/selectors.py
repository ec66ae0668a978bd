"""Reads over conversions that are more than one ORM call."""

import json
from datetime import datetime

from django.db.models import F

from codes.rules import promo_codes_split
from foundation.keyset import DEFAULT_PAGE_SIZE, Page, keyset_page
from programs.models import Program

from .models import Conversion

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
        }
    return {
        "order_id": row["order_id"],
        "status": row["status"],
        "reason": row["reason"],
        "advocate_id": row["advocate_ref"],
        "referral_id": row["referral_id"],
        "reward": reward,
        "reversed_at": _iso(row["reversed_at"]),
        "reversal_reason": row["reversal_reason"] if row["reversed_at"] else None,
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
        advocate_ref=F("advocate__participant_id"),
        code_used=F("code__code"),
        reward_kind=F("reward__kind"),
        reward_status=F("reward__status"),
        reward_amount=F("reward__amount"),
        reward_currency=F("reward__currency"),
        reward_percent=F("reward__percent"),
        reward_available_at=F("reward__available_at"),
        reward_needs_review=F("reward__needs_review"),
    )
    filters = {"status": status, "since": since}
    scope = json.dumps(["conversions", program.pk, {k: str(v) for k, v in filters.items() if v}])
    page = keyset_page(rows, scope=scope, cursor=cursor, limit=limit)
    return Page(rows=[conversion_item(row) for row in page.rows], next_cursor=page.next_cursor)
