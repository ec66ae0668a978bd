"""Conversion requests byte for byte in the shapes impact.com integrations send.

Written from impact.com's conversion-API field reference and the server-side tag request
described in issue 14 (not captured traffic): the content type, the field names, numbers where
a JSON client sends numbers, impact's fields this product ignores, and the promo code as the
shopper typed it. Each program under test holds the code ANNA-FRIEND-00 for advocate `anna`.
"""

import hashlib
import json
from urllib.parse import urlencode

PROMO_CODE = "ANNA-FRIEND-00"
ADVOCATE_ID = "anna"
ADVOCATE_EMAIL = "Anna.Lind@example.com"
FRIEND_EMAIL = "grace.hopper@example.com"


def sha1(email):
    return hashlib.sha1(email.strip().lower().encode()).hexdigest()


# A server-side tag template (GTM server container): JSON, amounts and ids as numbers, the date
# with an offset, two lines with a unit price and a quantity, no OrderSubtotal.
SERVER_SIDE_TAG = {
    "content_type": "application/json; charset=utf-8",
    "body": json.dumps(
        {
            "CampaignId": 17402,
            "EventTypeId": 38467,
            "ClickId": "Qx1Sd2Vb3Nm4UiOpAsDfGh",
            "EventDate": "2026-11-27T08:00:05+00:00",
            "OrderId": "1001-77431",
            "CustomerId": "cust-88120",
            "ItemSku1": "TS-0042-BLK-M",
            "ItemName1": "Trail shoe, black, M",
            "ItemCategory1": "Shoes",
            "ItemQuantity1": 2,
            "ItemPrice1": 59.95,
            "ItemSku2": "SK-7",
            "ItemName2": "Merino socks",
            "ItemCategory2": "Accessories",
            "ItemQuantity2": 3,
            "ItemPrice2": 4.5,
            "CurrencyCode": "EUR",
            "OrderPromoCode": PROMO_CODE.lower(),
            "OrderDiscount": 26.68,
            "IpAddress": "203.0.113.7",
        }
    ).encode(),
    "subtotal": "133.40",  # 2 × 59.95 + 3 × 4.50
    "items": [
        (1, "TS-0042-BLK-M", "Trail shoe, black, M", "Shoes", 2, "59.9500", "119.90"),
        (2, "SK-7", "Merino socks", "Accessories", 3, "4.5000", "13.50"),
    ],
}

# A backend job (curl -d / an HTTP library's form): form-encoded strings, line amounts as
# ItemSubTotal, the customer's e-mail as its SHA-1 digest, impact's other order fields.
BACKEND_FORM = {
    "content_type": "application/x-www-form-urlencoded",
    "body": urlencode(
        {
            "CampaignId": "17402",
            "ActionTrackerId": "38467",
            "EventDate": "2026-11-27T09:12:44Z",
            "OrderId": "1001-77502",
            "CustomerId": "cust-90211",
            "CustomerEmail": sha1(FRIEND_EMAIL),
            "CustomerStatus": "New",
            "CurrencyCode": "EUR",
            "OrderPromoCode": PROMO_CODE,
            "OrderDiscount": "10.00",
            "OrderShipping": "4.95",
            "OrderTax": "8.10",
            "ItemSku1": "TS-0042-BLK-M",
            "ItemCategory1": "Shoes",
            "ItemSubTotal1": "59.95",
            "ItemQuantity1": "1",
            "ItemSku2": "GC-25",
            "ItemCategory2": "Gift cards",
            "ItemSubTotal2": "25.00",
            "ItemQuantity2": "1",
        }
    ).encode(),
    "subtotal": "84.95",
    "items": [
        (1, "TS-0042-BLK-M", "", "Shoes", 1, None, "59.95"),
        (2, "GC-25", "", "Gift cards", 1, None, "25.00"),
    ],
}

# An older integration: Oid and Currency (impact's other names), EventDate NOW, an order
# subtotal as a string and no lines.
LEGACY_FORM = {
    "content_type": "application/x-www-form-urlencoded; charset=UTF-8",
    "body": urlencode(
        {
            "CampaignId": "17402",
            "ActionTrackerId": "38467",
            "EventDate": "NOW",
            "Oid": "1001-77610",
            "CustomerId": "cust-90377",
            "OrderPromoCode": PROMO_CODE,
            "OrderSubtotal": "49.90",
            "Currency": "EUR",
        }
    ).encode(),
    "subtotal": "49.90",
    "items": [],
}

RECORDED = {
    "server-side tag JSON": SERVER_SIDE_TAG,
    "backend form": BACKEND_FORM,
    "legacy form": LEGACY_FORM,
}
