"""Reversals as impact.com clients send them: DELETE /Advertisers/{AccountSID}/Actions (and a PUT
setting the order's Amount to 0), identified by OrderId."""

import json
from urllib.parse import urlencode

import pytest
from django.test import Client

from conversions.models import Conversion, ConversionStatus
from participants.models import ReferralStatus, Reward, RewardStatus
from tests.api_helpers import url
from tests.conversions.impact_requests import SERVER_SIDE_TAG
from tests.conversions.test_impact_compat import (
    impact_client,
    impact_program,
    impact_url,
    native_client,
    send,
)

ORDER_ID = json.loads(SERVER_SIDE_TAG["body"])["OrderId"]
FORM = "application/x-www-form-urlencoded"


def actions_url(program):
    return f"/Advertisers/{program.slug}/Actions"


def attributed_order():
    program = impact_program()
    client = impact_client(program)
    assert send(client, impact_url(program), SERVER_SIDE_TAG).json()["status"] == "attributed"
    return program, client


def form(method, client, program, fields):
    return client.generic(method, actions_url(program), urlencode(fields), content_type=FORM)


def assert_reversed(response, reason, program):
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["order_id"] == ORDER_ID and body["status"] == "reversed"
    assert body["reward"]["status"] == "cancelled"
    assert body["reversal_reason"] == reason
    conversion = Conversion.objects.get(program=program)
    assert conversion.status == ConversionStatus.REVERSED
    assert conversion.referral.status == ReferralStatus.CANCELLED
    assert conversion.code.status == "redeemed"  # it was used at the shop
    return body


@pytest.mark.django_db
def test_delete_actions_with_order_id_reverses_the_order_as_the_native_reversal_does():
    program, client = attributed_order()
    fields = {"OrderId": ORDER_ID, "ActionTrackerId": "38467", "DispositionCode": "ITEM_RETURNED"}
    body = assert_reversed(form("DELETE", client, program, fields), "ITEM_RETURNED", program)
    # The native reversal of the same order now answers the same.
    native = native_client(program).post(
        url(program, f"conversions/{ORDER_ID}/reversal"), {}, "application/json"
    )
    assert native.status_code == 200 and native.json() == body
    again = form("DELETE", client, program, fields)
    assert again.status_code == 200 and again.json() == body


@pytest.mark.django_db
def test_delete_actions_reads_json_bodies_and_the_query_string_too():
    program, client = attributed_order()
    response = client.generic(
        "DELETE",
        actions_url(program),
        json.dumps({"Oid": ORDER_ID, "Reason": "CONS_FRAUD"}),
        content_type="application/json",
    )
    assert_reversed(response, "CONS_FRAUD", program)
    program, client = attributed_order()
    query = urlencode({"OrderId": ORDER_ID, "DispositionCode": "ORDER_ERROR"})
    assert_reversed(client.delete(f"{actions_url(program)}?{query}"), "ORDER_ERROR", program)


@pytest.mark.django_db
def test_a_paid_reward_stays_paid_and_is_flagged():
    program, client = attributed_order()
    Reward.objects.update(status=RewardStatus.PAID)
    response = form("DELETE", client, program, {"OrderId": ORDER_ID, "DispositionCode": "X"})
    assert response.status_code == 200
    reward = Reward.objects.get()
    assert reward.status == RewardStatus.PAID and reward.needs_review


@pytest.mark.django_db
def test_an_action_id_alone_is_400_saying_to_send_the_order_id():
    program, client = attributed_order()
    response = form(
        "DELETE", client, program, {"ActionId": "1000.4636.158133", "DispositionCode": "X"}
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert "ActionId" in error["fields"] and "OrderId" in error["fields"]["ActionId"][0]
    assert Conversion.objects.get().reversed_at is None


@pytest.mark.django_db
def test_an_unknown_order_is_404_and_no_order_is_400():
    program, client = attributed_order()
    unknown = form("DELETE", client, program, {"OrderId": "NO-SUCH-ORDER"})
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"
    missing = form("DELETE", client, program, {"DispositionCode": "X"})
    assert missing.status_code == 400 and "OrderId" in missing.json()["error"]["fields"]


@pytest.mark.django_db
def test_another_programs_order_is_not_reversed():
    program, _ = attributed_order()
    other = impact_program()
    response = form("DELETE", impact_client(other), other, {"OrderId": ORDER_ID})
    assert response.status_code == 404
    assert Conversion.objects.get(program=program).reversed_at is None


@pytest.mark.django_db
def test_put_actions_with_amount_0_reverses_the_whole_order():
    program, client = attributed_order()
    fields = {"OrderId": ORDER_ID, "Amount": "0", "Reason": "ITEM_RETURNED"}
    assert_reversed(form("PUT", client, program, fields), "ITEM_RETURNED", program)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields, named",
    [
        ({"Amount": "19.99", "Reason": "ORDER_UPDATE"}, ["Amount"]),
        ({"Reason": "ORDER_UPDATE"}, ["Amount"]),
        ({"Amount": "0", "Reason": "RESET"}, ["Reason"]),
        ({"Sku": "SK-7", "Quantity": "0", "Reason": "ORDER_UPDATE"}, ["Quantity", "Sku"]),
        ({"Amount": "0", "Sku": "SK-7", "Reason": "ORDER_UPDATE"}, ["Sku"]),
        ({"Amount": "0", "CustomerStatus": "Existing"}, ["CustomerStatus"]),
    ],
    ids=["new amount", "no amount", "reset", "item quantity", "item amount", "other field"],
)
def test_modifications_that_do_not_map_are_400_naming_the_field_and_change_nothing(fields, named):
    program, client = attributed_order()
    response = form("PUT", client, program, {"OrderId": ORDER_ID, **fields})
    assert response.status_code == 400, response.content
    assert sorted(response.json()["error"]["fields"]) == named
    conversion = Conversion.objects.get()
    assert conversion.reversed_at is None and conversion.status == ConversionStatus.ATTRIBUTED


@pytest.mark.django_db
def test_actions_need_the_programs_credentials():
    program, _ = attributed_order()
    response = form("DELETE", native_client(impact_program()), program, {"OrderId": ORDER_ID})
    assert response.status_code == 403
    anonymous = Client().generic(
        "DELETE", actions_url(program), urlencode({"OrderId": ORDER_ID}), content_type=FORM
    )
    assert anonymous.status_code == 401
    assert Conversion.objects.get(program=program).reversed_at is None


@pytest.mark.django_db
def test_a_post_with_method_delete_reverses_the_order_as_impact_allows():
    """impact.com: "you can override the actual HTTP method by appending the _method
    parameter via a POST request. Valid values are PUT and DELETE." """
    program, client = attributed_order()
    fields = {"_method": "DELETE", "OrderId": ORDER_ID, "DispositionCode": "ITEM_RETURNED"}
    body = assert_reversed(form("POST", client, program, fields), "ITEM_RETURNED", program)
    # The same answer again, the override in the query string this time.
    query = urlencode({"_method": "delete", "OrderId": ORDER_ID})
    again = client.generic("POST", f"{actions_url(program)}?{query}", "", content_type=FORM)
    assert again.status_code == 200 and again.json() == body


@pytest.mark.django_db
def test_a_post_with_method_put_and_amount_0_reverses_json_and_form_alike():
    program, client = attributed_order()
    response = client.post(
        actions_url(program),
        json.dumps({"_method": "PUT", "OrderId": ORDER_ID, "Amount": 0, "Reason": "RETURNED"}),
        content_type="application/json",
    )
    assert_reversed(response, "RETURNED", program)
    program, client = attributed_order()
    fields = {"_method": "PUT", "OrderId": ORDER_ID, "Amount": "0.00"}
    assert_reversed(form("POST", client, program, fields), "", program)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields",
    [
        {"OrderId": ORDER_ID},
        {"_method": "PATCH", "OrderId": ORDER_ID},
        {"_method": "PUT", "OrderId": ORDER_ID, "Amount": "5"},
    ],
)
def test_a_post_that_is_not_a_reversal_is_400_and_changes_nothing(fields):
    program, client = attributed_order()
    response = form("POST", client, program, fields)
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error["fields"]) == ({"Amount"} if "Amount" in fields else {"_method"})
    assert Conversion.objects.get(program=program).status == ConversionStatus.ATTRIBUTED


@pytest.mark.django_db
def test_get_actions_answers_405_naming_the_methods_and_changes_nothing():
    program, client = attributed_order()
    response = client.get(actions_url(program), {"OrderId": ORDER_ID})
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert set(response["Allow"].replace(" ", "").split(",")) >= {"DELETE", "PUT", "POST"}
    # impact's docs show the override with curl -G (a GET): here it must be a POST.
    query = urlencode({"_method": "DELETE", "OrderId": ORDER_ID})
    response = client.get(f"{actions_url(program)}?{query}")
    assert response.status_code == 405
    assert "POST" in response.json()["error"]["message"]
    assert Conversion.objects.get(program=program).status == ConversionStatus.ATTRIBUTED
