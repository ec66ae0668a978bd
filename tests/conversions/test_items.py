"""Order lines (impact.com's ItemSku{n}, ItemPrice{n}, …) and amounts, on the native path."""

import json
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from conversions.models import Conversion, ConversionItem
from conversions.payload import payload_digest, payload_normalise
from tests.api_helpers import client_for, stocked_program, url


def post_json(program, body, client=None):
    client = client or client_for(program)
    return client.generic(
        "POST", url(program, "conversions"), json.dumps(body), content_type="application/json"
    )


def lines(conversion):
    return list(conversion.items.values_list("position", "sku", "quantity", "price", "subtotal"))


@pytest.mark.django_db
def test_lines_are_kept_in_order_and_sum_to_the_subtotal_when_it_is_absent():
    program = stocked_program()
    body = {
        "OrderId": "L-1",
        "ItemSku2": "B",
        "ItemPrice2": "2.50",
        "ItemQuantity2": 4,
        "ItemSku1": "A",
        "ItemSubTotal1": 30,
        "ItemPrice1": 99,  # ItemSubTotal wins over price × quantity
        "ItemQuantity1": 2,
        "ItemSku3": "C",
        "ItemPrice3": 7.25,  # no quantity: one
    }
    assert post_json(program, body).status_code == 201
    conversion = Conversion.objects.get()
    assert lines(conversion) == [
        (1, "A", 2, Decimal("99.0000"), Decimal("30.00")),
        (2, "B", 4, Decimal("2.5000"), Decimal("10.00")),
        (3, "C", None, Decimal("7.2500"), Decimal("7.25")),
    ]
    assert conversion.order_subtotal == Decimal("47.25")


@pytest.mark.django_db
def test_an_explicit_order_subtotal_wins_over_the_lines():
    program = stocked_program()
    post_json(program, {"OrderId": "L-2", "OrderSubtotal": "12.00", "ItemPrice1": 50})
    assert Conversion.objects.get().order_subtotal == Decimal("12.00")


@pytest.mark.django_db
def test_a_line_without_an_amount_leaves_the_subtotal_unknown_rather_than_short():
    program = stocked_program()
    post_json(program, {"OrderId": "L-3", "ItemSku1": "A", "ItemPrice1": 5, "ItemSku2": "B"})
    conversion = Conversion.objects.get()
    assert conversion.order_subtotal is None
    assert lines(conversion) == [
        (1, "A", None, Decimal("5.0000"), Decimal("5.00")),
        (2, "B", None, None, None),
    ]


@pytest.mark.django_db
def test_the_other_spelling_item_subtotal_is_read_too():
    program = stocked_program()
    post_json(program, {"OrderId": "L-4", "ItemSku1": "A", "ItemSubtotal1": "19.99"})
    assert Conversion.objects.get().order_subtotal == Decimal("19.99")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "amount", [80, 80.0, "80", "80.00", " 80.00 ", 79.999999999, "80.004"], ids=repr
)
def test_amounts_as_numbers_or_strings_round_to_the_cent_and_replay_as_one_order(amount):
    program = stocked_program()
    client = client_for(program)
    first = post_json(program, {"OrderId": "A-1", "OrderSubtotal": "80.00"}, client)
    again = post_json(program, {"OrderId": "A-1", "OrderSubtotal": amount}, client)
    assert (first.status_code, again.status_code) == (201, 200)
    assert Conversion.objects.get().order_subtotal == Decimal("80.00")


@pytest.mark.django_db
def test_float_noise_from_a_tags_arithmetic_is_rounded_not_refused():
    program = stocked_program()
    response = post_json(
        program, {"OrderId": "F-1", "ItemSubTotal1": 59.970000000000006, "OrderDiscount": 0.1 + 0.2}
    )
    assert response.status_code == 201, response.content
    conversion = Conversion.objects.get()
    assert conversion.order_subtotal == Decimal("59.97")
    assert conversion.order_discount == Decimal("0.30")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields, field",
    [
        ({"ItemQuantity1": "two"}, "ItemQuantity1"),
        ({"ItemQuantity1": -1}, "ItemQuantity1"),
        ({"ItemQuantity1": 2.5}, "ItemQuantity1"),
        ({"ItemQuantity1": 3_000_000_000}, "ItemQuantity1"),
        ({"ItemPrice1": "lots"}, "ItemPrice1"),
        ({"ItemPrice1": "NaN"}, "ItemPrice1"),
        ({"ItemPrice1": True}, "ItemPrice1"),
        ({"ItemSubTotal2": "1e20"}, "ItemSubTotal2"),
        ({"ItemPrice1": 999_999_999_999, "ItemQuantity1": 10}, "ItemQuantity1"),
        ({"ItemSku1": "A\x00B"}, "ItemSku1"),
        ({"ItemSku1": "x" * 256}, "ItemSku1"),
        ({"ItemName1": {"nested": "object"}}, "ItemName1"),
        ({"ItemSku0": "A"}, "ItemSku0"),
        ({"ItemSku1001": "A"}, "ItemSku1001"),
        ({"OrderSubtotal": "1e13"}, "OrderSubtotal"),
        ({"Oid": "OTHER"}, "Oid"),
        ({"CustomerEmail": "not-an-address"}, "CustomerEmail"),
    ],
)
def test_bad_lines_and_amounts_are_400_naming_the_field_and_record_nothing(fields, field):
    program = stocked_program()
    response = post_json(program, {"OrderId": "BAD-1", **fields})
    assert response.status_code == 400, response.content
    assert field in response.json()["error"]["fields"]
    assert not Conversion.objects.exists() and not ConversionItem.objects.exists()


@pytest.mark.django_db
def test_every_bad_field_is_named_at_once():
    program = stocked_program()
    response = post_json(program, {"ItemPrice1": "x", "ItemQuantity2": "y"})
    assert response.status_code == 400
    assert {"OrderId", "ItemPrice1", "ItemQuantity2"} <= set(response.json()["error"]["fields"])


@pytest.mark.django_db
def test_oid_and_currency_are_impacts_other_names():
    program = stocked_program()
    response = post_json(program, {"Oid": "O-1", "Currency": "eur"})
    assert response.status_code == 201 and response.json()["order_id"] == "O-1"
    assert Conversion.objects.get().currency_code == "EUR"
    same = post_json(program, {"OrderId": "O-1", "CurrencyCode": "EUR"})
    assert same.status_code == 200


@pytest.mark.django_db
def test_blank_item_fields_are_as_if_not_sent():
    program = stocked_program()
    form = urlencode({"OrderId": "B-1", "ItemSku1": "A", "ItemPrice1": "", "ItemSku2": ""})
    response = client_for(program).generic(
        "POST", url(program, "conversions"), form, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 201
    assert lines(Conversion.objects.get()) == [(1, "A", None, None, None)]


@pytest.mark.django_db
def test_a_long_order_of_1000_lines_as_json_is_kept_whole():
    program = stocked_program()
    body = {"OrderId": "BIG-1"}
    for n in range(1, 1001):
        body[f"ItemSku{n}"] = f"SKU-{n}"
        body[f"ItemPrice{n}"] = 1
    assert post_json(program, body).status_code == 201
    conversion = Conversion.objects.get()
    assert conversion.items.count() == 1000
    assert conversion.order_subtotal == Decimal("1000.00")


def test_an_order_without_lines_digests_exactly_as_before_lines_were_kept():
    """Orders recorded before this release replay as 200, not 409: their digest is unchanged
    (the hex below is what the previous code computed for this payload)."""
    payload = {
        "order_id": "ORD-1",
        "promo_code": "anna-friend-00",
        "customer_id": "c-1",
        "customer_email": "Grace@Example.com",
        "event_date": datetime(2026, 11, 27, 9, 0, 5, tzinfo=timezone(timedelta(hours=1))),
        "order_subtotal": Decimal("80.5"),
        "order_discount": None,
        "currency_code": "eur",
    }
    assert payload_digest(payload_normalise(payload)) == (
        "27aa9e95fcfe0b8782fa883e513ab628fd0a3970b4e76f09b914e3268aec473e"
    )
    with_items = {**payload, "items": [{"position": 1, "sku": "A", "price": Decimal(1)}]}
    assert payload_digest(payload_normalise(with_items)) != payload_digest(
        payload_normalise(payload)
    )


@pytest.mark.django_db
def test_the_admin_shows_an_orders_lines(client):
    program = stocked_program()
    post_json(
        program,
        {
            "OrderId": "ADM-1",
            "ItemSku1": "TS-0042-BLK-M",
            "ItemName1": "Trail shoe",
            "ItemQuantity1": 2,
            "ItemPrice1": 59.95,
        },
    )
    admin = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client.force_login(admin)
    conversion = Conversion.objects.get()
    page = client.get(reverse("admin:conversions_conversion_change", args=[conversion.pk]))
    assert page.status_code == 200
    html = page.content.decode()
    assert "TS-0042-BLK-M" in html and "Trail shoe" in html and "119.90" in html
