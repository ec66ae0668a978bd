"""An order's payload as the conversions API receives it, in one canonical form: its fields,
amounts to the cent, e-mail digests, and the digest a replay is compared by."""

import hashlib
import json
import re
from datetime import UTC
from decimal import ROUND_HALF_UP, Decimal

PAYLOAD_FIELDS = (
    "order_id",
    "promo_code",
    "customer_id",
    "customer_email",
    "event_date",
    "order_subtotal",
    "order_discount",
    "currency_code",
)
ITEM_FIELDS = ("position", "sku", "name", "category", "quantity", "price", "subtotal")
# EventDate "NOW" (impact.com's word for "when you receive it"): stored as the time of receipt,
# compared as the word itself, so a replay of a NOW order is the same order.
EVENT_DATE_NOW = "NOW"
_CENT = Decimal("0.01")
_PRICE_PLACES = Decimal("0.0001")
# Impact.com clients may send CustomerEmail as the SHA-1 or SHA-256 hex digest of the address.
_EMAIL_DIGEST = re.compile(r"^(?:[0-9a-f]{40}|[0-9a-f]{64})$")


def is_email_digest(value: str) -> bool:
    """A CustomerEmail (lower case) that is a SHA-1 or SHA-256 hex digest, not an address."""
    return bool(_EMAIL_DIGEST.match(value))


def email_digest(address: str, *, like: str) -> str:
    """The digest of the trimmed lower-case `address` in the same form as `like` (SHA-1 for 40
    hex digits, SHA-256 for 64)."""
    algorithm = hashlib.sha1 if len(like) == 40 else hashlib.sha256
    return algorithm(address.strip().lower().encode()).hexdigest()


def money(value):
    """An amount to the cent, half up (amounts are compared and stored to the cent)."""
    return Decimal(value).quantize(_CENT, rounding=ROUND_HALF_UP)


def item_amount(item):
    """A line's amount: its ItemSubTotal when sent, else unit price × quantity (1 when the
    quantity is not sent); None when it has neither."""
    if item.get("subtotal") is not None:
        return money(item["subtotal"])
    if item.get("price") is not None:
        quantity = item.get("quantity")
        return money(Decimal(item["price"]) * (1 if quantity is None else quantity))
    return None


def items_subtotal(items):
    """The order's subtotal from its lines: their sum when every line has an amount, else
    None (a partial sum would understate the order)."""
    amounts = [item_amount(item) for item in items]
    if not amounts or any(amount is None for amount in amounts):
        return None
    return sum(amounts, Decimal("0.00"))


def _item_normalise(item):
    values = {name: item.get(name) for name in ITEM_FIELDS}
    for name in ("sku", "name", "category"):
        text = values[name]
        values[name] = text.strip() if isinstance(text, str) else ""
    if values["price"] is not None:
        values["price"] = Decimal(values["price"]).quantize(_PRICE_PLACES, rounding=ROUND_HALF_UP)
    values["subtotal"] = item_amount(values)
    return values


def payload_normalise(payload: dict) -> dict:
    """The parsed order in one canonical form: what a replay is compared by.

    Blank and missing are the same; amounts are decimals to the cent; the code is in canonical
    (upper) case; e-mail (or its SHA-1 digest) in lower case; the date in UTC; each line with
    its amount. Without OrderSubtotal, the subtotal is the sum of the lines. JSON and form
    bodies parse to the same.
    """
    values = {name: payload.get(name) for name in PAYLOAD_FIELDS}
    for name in ("order_id", "promo_code", "customer_id", "customer_email", "currency_code"):
        text = values[name]
        values[name] = text.strip() if isinstance(text, str) else ""
    values["promo_code"] = values["promo_code"].upper()
    values["customer_email"] = values["customer_email"].lower()
    values["currency_code"] = values["currency_code"].upper()
    values["items"] = [_item_normalise(item) for item in payload.get("items") or ()]
    if values["order_subtotal"] is None:
        values["order_subtotal"] = items_subtotal(values["items"])
    for name in ("order_subtotal", "order_discount"):
        if values[name] is not None:
            values[name] = money(values[name])
    if values["event_date"] not in (None, EVENT_DATE_NOW):
        values["event_date"] = values["event_date"].astimezone(UTC)
    return values


def payload_digest(values: dict) -> str:
    def plain(value):
        if isinstance(value, Decimal):
            return str(value)
        return value.isoformat() if hasattr(value, "isoformat") else value

    canonical = {name: plain(values[name]) for name in PAYLOAD_FIELDS}
    # Orders without lines digest exactly as before lines were kept, so replays of orders
    # recorded earlier still match.
    if values.get("items"):
        canonical["items"] = [
            {name: plain(value) for name, value in item.items()} for item in values["items"]
        ]
    text = json.dumps(canonical, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
