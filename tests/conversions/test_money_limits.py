"""Amounts that do not fit their column: every amount field answers 400 naming the field, on
every path that takes one, and nothing of the order is stored (no 500 for a client to retry on
for ever)."""

import json
from decimal import Decimal
from urllib.parse import urlencode

import pytest

from conversions.api import MAX_WHOLE_DIGITS
from conversions.models import Conversion, ConversionItem, ConversionStatus
from tests.api_helpers import client_for, stocked_program, url
from tests.conversions.test_impact_compat import impact_client, impact_program, impact_url
from tests.conversions.test_impact_reversal import ORDER_ID, actions_url, attributed_order
from tests.openapi_responses import published_schema

FORM = "application/x-www-form-urlencoded"

# Each rounds, to the field's decimals, to a number with 13 whole digits.
PAST_THE_COLUMN = [
    ({"OrderSubtotal": "999999999999.995"}, "OrderSubtotal"),
    ({"OrderSubtotal": 999999999999.995}, "OrderSubtotal"),
    ({"OrderDiscount": "-999999999999.999"}, "OrderDiscount"),
    ({"OrderDiscount": 999999999999.999}, "OrderDiscount"),
    ({"ItemSubTotal1": "999999999999.995"}, "ItemSubTotal1"),
    ({"ItemSubtotal1": -999999999999.999}, "ItemSubtotal1"),
    ({"ItemPrice1": "999999999999.99995"}, "ItemPrice1"),
    ({"ItemPrice1": "-999999999999.99999"}, "ItemPrice1"),
    ({"OrderSubtotal": "1" + "0" * 400}, "OrderSubtotal"),
    ({"ItemPrice1": "9" * 5000}, "ItemPrice1"),
    ({"OrderSubtotal": "1e999999999"}, "OrderSubtotal"),
    ({"ItemPrice1": "0." + "0" * 500 + "1"}, None),  # tiny: rounds to 0, accepted
    ({"OrderSubtotal": "1e-999999999"}, None),
]


def _ids(case):
    return repr(case)[:60]


def post_json(program, body, client=None, path=None):
    client = client or client_for(program)
    return client.generic(
        "POST",
        path or url(program, "conversions"),
        json.dumps(body),
        content_type="application/json",
    )


def assert_refused(response, field):
    assert response.status_code == 400, response.content
    fields = response.json()["error"]["fields"]
    assert field in fields, fields
    assert not Conversion.objects.exists() and not ConversionItem.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("fields, field", PAST_THE_COLUMN, ids=_ids)
def test_an_amount_past_the_column_is_400_naming_the_field_as_json(fields, field):
    program = stocked_program()
    response = post_json(program, {"OrderId": "M-1", **fields})
    if field is None:
        assert response.status_code == 201, response.content
        return
    assert_refused(response, field)
    message = " ".join(response.json()["error"]["fields"][field])
    assert str(MAX_WHOLE_DIGITS) in message, message


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields, field", [case for case in PAST_THE_COLUMN if case[1]][:8], ids=_ids
)
def test_an_amount_past_the_column_is_400_form_encoded_and_at_impacts_path(fields, field):
    program = impact_program()
    form = urlencode({"OrderId": "M-2", **{key: str(value) for key, value in fields.items()}})
    native = client_for(program).generic(
        "POST", url(program, "conversions"), form, content_type=FORM
    )
    assert_refused(native, field)
    impact = impact_client(program).generic("POST", impact_url(program), form, content_type=FORM)
    assert_refused(impact, field)
    as_json = post_json(
        program, {"OrderId": "M-3", **fields}, impact_client(program), impact_url(program)
    )
    assert_refused(as_json, field)


@pytest.mark.django_db
def test_the_largest_amounts_that_fit_are_kept():
    program = stocked_program()
    body = {
        "OrderId": "M-4",
        "OrderSubtotal": "999999999999.994",
        "OrderDiscount": 999999999999.99,
        "ItemPrice1": "999999999999.49994",
    }
    response = post_json(program, body)
    assert response.status_code == 201, response.content
    conversion = Conversion.objects.get()
    assert str(conversion.order_subtotal) == "999999999999.99"
    # SQLite keeps decimals as doubles: 16 significant digits are not exact there.
    assert abs(conversion.items.get().price - Decimal("999999999999.4999")) < Decimal("0.001")


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields, field",
    [
        ({"ItemPrice1": -5}, "ItemPrice1"),
        ({"ItemPrice1": "-0.01", "ItemQuantity1": 2}, "ItemPrice1"),
        ({"ItemSubTotal1": "-10.00"}, "ItemSubTotal1"),
        ({"ItemSubtotal2": -1, "ItemSubTotal1": 5}, "ItemSubtotal2"),
        ({"ItemQuantity1": -2, "ItemPrice1": 5}, "ItemQuantity1"),
        ({"OrderSubtotal": "-1"}, "OrderSubtotal"),
        ({"OrderDiscount": "-1"}, "OrderDiscount"),
    ],
    ids=_ids,
)
def test_negative_item_prices_and_quantities_are_refused_like_a_negative_subtotal(fields, field):
    program = stocked_program()
    response = post_json(program, {"OrderId": "N-1", **fields})
    assert_refused(response, field)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "amount", ["999999999999.995", "-999999999999.999", "9" * 400, "1e999999999"], ids=_ids
)
def test_put_actions_with_an_amount_past_the_column_is_400_naming_amount(amount):
    program, client = attributed_order()
    for method, fields in (
        ("PUT", {"OrderId": ORDER_ID, "Amount": amount}),
        ("POST", {"_method": "PUT", "OrderId": ORDER_ID, "Amount": amount}),
    ):
        response = client.generic(
            method, actions_url(program), urlencode(fields), content_type=FORM
        )
        assert response.status_code == 400, response.content
        assert set(response.json()["error"]["fields"]) == {"Amount"}
        as_json = client.generic(
            method, actions_url(program), json.dumps(fields), content_type="application/json"
        )
        assert as_json.status_code == 400, as_json.content
        assert set(as_json.json()["error"]["fields"]) == {"Amount"}
    conversion = Conversion.objects.get(program=program)
    assert conversion.reversed_at is None and conversion.status == ConversionStatus.ATTRIBUTED


def test_the_schema_documents_the_limit_of_every_amount_field():
    schemas = published_schema()["components"]["schemas"]
    for component, fields in {
        "ConversionInputRequest": ["OrderSubtotal", "OrderDiscount", "ItemSubTotal1", "ItemPrice1"],
        "ConversionFormInputRequest": ["OrderSubtotal", "ItemPrice1"],
        "ActionUpdateRequest": ["Amount"],
    }.items():
        for name in fields:
            field = schemas[component]["properties"][name]
            text = json.dumps(field)
            assert "maximum" in text and "pattern" in text, (component, name, field)
