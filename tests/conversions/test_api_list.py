"""GET …/conversions: the program's orders page by page, as their POST answered them."""

from datetime import timedelta

import pytest
from django.utils import timezone

from conversions.models import Conversion
from tests.api_helpers import advocate_with_code, client_for, stocked_program, url


def post_order(client, program, order_id, code=None):
    body = {"OrderId": order_id, "CustomerId": f"cust-{order_id}", "OrderSubtotal": "20.00"}
    if code:
        body["OrderPromoCode"] = code
    response = client.post(url(program, "conversions"), body, format="json")
    assert response.status_code == 201, response.content
    return response.json()


@pytest.mark.django_db
def test_the_list_shows_each_order_as_its_post_answered_it_with_what_was_sent():
    program = stocked_program(codes_per_advocate=1)
    _, code = advocate_with_code(program)
    client = client_for(program)
    answer = post_order(client, program, "A-1", code=code.code)
    post_order(client, program, "A-2")
    response = client.get(url(program, "conversions"))
    assert response.status_code == 200
    first, second = response.json()["results"]
    assert {key: first[key] for key in answer} == answer
    assert first["promo_code"] == code.code and first["customer_id"] == "cust-A-1"
    assert first["order_subtotal"] == "20.00" and first["received_at"]
    assert second["order_id"] == "A-2" and second["status"] == "unattributed"
    assert second["reason_code"] == "no_code"
    assert second["reward"] is None and response.json()["next"] is None


@pytest.mark.django_db
def test_orders_arriving_between_pages_are_neither_repeated_nor_missed():
    program = stocked_program()
    client = client_for(program)
    for n in range(12):
        post_order(client, program, f"O-{n:02}")
    listed, link, late = [], url(program, "conversions?limit=5"), 0
    while link:
        body = client.get(link).json()
        listed += [row["order_id"] for row in body["results"]]
        link = body["next"]
        if link:
            post_order(client, program, f"L-{late}")
            late += 1
    assert len(listed) == len(set(listed))
    assert sorted(listed) == sorted(
        Conversion.objects.filter(program=program).values_list("order_id", flat=True)
    )


@pytest.mark.django_db
def test_the_list_filters_by_outcome_and_since():
    program = stocked_program(codes_per_advocate=1)
    _, code = advocate_with_code(program)
    client = client_for(program)
    post_order(client, program, "OLD")
    Conversion.objects.filter(order_id="OLD").update(created_at=timezone.now() - timedelta(days=3))
    post_order(client, program, "NEW-1", code=code.code)
    post_order(client, program, "NEW-2")

    def order_ids(**query):
        response = client.get(url(program, "conversions"), query)
        assert response.status_code == 200, response.content
        return [row["order_id"] for row in response.json()["results"]]

    assert order_ids() == ["OLD", "NEW-1", "NEW-2"]
    assert order_ids(status="attributed") == ["NEW-1"]
    assert order_ids(since=(timezone.now() - timedelta(days=1)).isoformat()) == ["NEW-1", "NEW-2"]
    response = client.get(url(program, "conversions"), {"status": "won"})
    assert response.status_code == 400 and "status" in response.json()["error"]["fields"]
