"""impact.com's conversions path: a brand's existing integration, pointed at this host, gets its
orders attributed exactly as through the native endpoint."""

import base64
import json
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.test import Client
from django.utils import timezone

from conversions.models import Conversion, ConversionItem
from participants.models import Participant, Reward
from participants.services import participant_upsert
from programs.models import RewardKind
from programs.services import api_key_create
from tests.api_helpers import url
from tests.conversions.impact_requests import (
    ADVOCATE_EMAIL,
    ADVOCATE_ID,
    BACKEND_FORM,
    FRIEND_EMAIL,
    PROMO_CODE,
    RECORDED,
    SERVER_SIDE_TAG,
    sha1,
)
from tests.factories import ProgramFactory, stock_pool


def impact_program(**fields):
    """A program whose advocate `anna` holds ANNA-FRIEND-00, with a credit reward."""
    fields = {
        "reward_kind": RewardKind.CREDIT,
        "reward_amount": Decimal("10.00"),
        "reward_currency": "EUR",
        **fields,
    }
    program = ProgramFactory(**fields)
    stock_pool(program, 6, prefix="ANNA-FRIEND-", digits=2)
    participant_upsert(program=program, participant_id=ADVOCATE_ID, email=ADVOCATE_EMAIL)
    assert program.codes.get(code=PROMO_CODE).holder.participant_id == ADVOCATE_ID
    return program


def impact_client(program):
    """What an impact integration sends: Basic AccountSID:AuthToken, Accept JSON."""
    _, raw_key = api_key_create(program=program, name="impact")
    credentials = base64.b64encode(f"{program.slug}:{raw_key}".encode()).decode()
    return Client(HTTP_AUTHORIZATION=f"Basic {credentials}", HTTP_ACCEPT="application/json")


def native_client(program):
    _, raw_key = api_key_create(program=program, name="native")
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}")


def impact_url(program):
    return f"/Advertisers/{program.slug}/Conversions"


def send(client, path, recording):
    return client.generic("POST", path, recording["body"], content_type=recording["content_type"])


def without_ids(body):
    """The answer without what differs between two programs: ids, and the reward's
    available_at (the moment it was granted)."""
    body = dict(body)
    body.pop("referral_id")
    if body["reward"] is not None:
        reward = dict(body["reward"])
        reward.pop("id")
        reward["available_at"] = reward["available_at"] is not None
        body["reward"] = reward
    return body


def recorded_outcome(program):
    """Everything the order left behind in the program, without ids."""
    conversion = Conversion.objects.get(program=program)
    reward = Reward.objects.filter(advocate__program=program).first()
    return {
        "conversion": {
            field: getattr(conversion, field)
            for field in (
                "order_id",
                "status",
                "reason",
                "promo_code",
                "customer_id",
                "customer_email",
                "order_subtotal",
                "order_discount",
                "currency_code",
                "payload_digest",
            )
        },
        "code": conversion.code.code,
        "code_status": conversion.code.status,
        "advocate": conversion.advocate.participant_id,
        "friend": (conversion.friend.participant_id, conversion.friend.email),
        "reward": (reward.kind, reward.status, reward.amount) if reward else None,
        "items": list(
            conversion.items.values_list(
                "position", "sku", "name", "category", "quantity", "price", "subtotal"
            )
        ),
    }


def as_items(expected):
    return [
        (n, sku, name, category, qty, None if price is None else Decimal(price), Decimal(total))
        for n, sku, name, category, qty, price, total in expected
    ]


@pytest.mark.django_db
@pytest.mark.parametrize("recording", RECORDED.values(), ids=RECORDED.keys())
def test_a_recorded_request_is_attributed_at_impacts_path_exactly_as_at_the_native_one(
    recording,
):
    through_impact, through_native = impact_program(), impact_program()

    impact = send(impact_client(through_impact), impact_url(through_impact), recording)
    native = send(native_client(through_native), url(through_native, "conversions"), recording)

    assert impact.status_code == native.status_code == 201, impact.content
    assert impact["Content-Type"] == "application/json"
    assert impact.json()["status"] == "attributed"
    assert impact.json()["advocate_id"] == ADVOCATE_ID
    assert impact.json()["reward"]["amount"] == "10.00"
    assert without_ids(impact.json()) == without_ids(native.json())
    assert recorded_outcome(through_impact) == recorded_outcome(through_native)
    outcome = recorded_outcome(through_impact)
    assert outcome["conversion"]["order_subtotal"] == Decimal(recording["subtotal"])
    assert outcome["items"] == as_items(recording["items"])
    assert outcome["code_status"] == "redeemed"
    dates = [Conversion.objects.get(program=p).event_date for p in (through_impact, through_native)]
    assert None not in dates
    if b"NOW" not in recording["body"]:
        assert dates[0] == dates[1]


@pytest.mark.django_db
def test_impacts_fields_this_product_does_not_use_are_ignored_and_not_stored():
    program = impact_program()
    send(impact_client(program), impact_url(program), SERVER_SIDE_TAG)
    stored = json.dumps(Conversion.objects.values().get(), default=str)
    for ignored in ("203.0.113.7", "Qx1Sd2Vb3Nm4UiOpAsDfGh", "17402", "38467"):
        assert ignored not in stored


@pytest.mark.django_db
@pytest.mark.parametrize("first", ["impact", "native"])
@pytest.mark.parametrize("recording", RECORDED.values(), ids=RECORDED.keys())
def test_one_order_id_posted_to_both_paths_is_one_conversion(recording, first):
    program = impact_program()
    posts = {
        "impact": lambda: send(impact_client(program), impact_url(program), recording),
        "native": lambda: send(native_client(program), url(program, "conversions"), recording),
    }
    second = "native" if first == "impact" else "impact"
    created = posts[first]()
    replayed = posts[second]()
    assert (created.status_code, replayed.status_code) == (201, 200)
    assert replayed.json() == created.json()
    assert Conversion.objects.count() == 1 and Reward.objects.count() == 1
    assert ConversionItem.objects.count() == len(recording["items"])


def _tag_fields():
    return json.loads(SERVER_SIDE_TAG["body"])


@pytest.mark.django_db
def test_json_numbers_and_form_strings_of_the_same_amounts_are_the_same_order():
    program = impact_program()
    send(impact_client(program), impact_url(program), SERVER_SIDE_TAG)
    as_strings = {
        **_tag_fields(),
        "ItemPrice1": "59.950",
        "ItemQuantity1": "2",
        "ItemPrice2": "4.50",
        "OrderDiscount": "26.680",
        "OrderPromoCode": PROMO_CODE,
    }
    response = native_client(program).generic(
        "POST",
        url(program, "conversions"),
        urlencode(as_strings),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200, response.content
    assert Conversion.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "change",
    [
        {"ItemQuantity1": 3},
        {"ItemSku2": "SK-8"},
        {"ItemPrice2": 4.55},
        {"ItemName1": "Trail shoe, red, M"},
        {"ItemSku3": "GIFT-WRAP", "ItemPrice3": 0},
    ],
    ids=["quantity", "sku", "price", "name", "extra line"],
)
@pytest.mark.parametrize("path", ["impact", "native"])
def test_a_replay_with_different_items_is_409_on_either_path(change, path):
    program = impact_program()
    send(impact_client(program), impact_url(program), SERVER_SIDE_TAG)
    target, client = (
        (impact_url(program), impact_client(program))
        if path == "impact"
        else (url(program, "conversions"), native_client(program))
    )
    body = json.dumps({**_tag_fields(), **change})
    response = client.generic("POST", target, body, content_type="application/json")
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert ConversionItem.objects.count() == 2


@pytest.mark.django_db
def test_a_replay_without_a_line_is_409():
    program = impact_program()
    send(impact_client(program), impact_url(program), SERVER_SIDE_TAG)
    fields = {k: v for k, v in _tag_fields().items() if not k.endswith("2")}
    response = impact_client(program).generic(
        "POST", impact_url(program), json.dumps(fields), content_type="application/json"
    )
    assert response.status_code == 409


@pytest.mark.django_db
def test_a_hashed_customer_email_of_the_advocate_is_a_self_referral():
    program = impact_program()
    body = json.dumps(
        {"OrderId": "SELF-1", "OrderPromoCode": PROMO_CODE, "CustomerEmail": sha1(ADVOCATE_EMAIL)}
    )
    response = impact_client(program).generic(
        "POST", impact_url(program), body, content_type="application/json"
    )
    assert response.status_code == 201
    assert response.json()["status"] == "rejected"
    assert "Self-referral" in response.json()["reason"]


@pytest.mark.django_db
def test_a_hashed_customer_email_is_kept_on_the_order_but_given_to_no_participant():
    program = impact_program()
    send(impact_client(program), impact_url(program), BACKEND_FORM)
    conversion = Conversion.objects.get()
    assert conversion.customer_email == sha1(FRIEND_EMAIL)
    assert conversion.friend.email == ""
    assert not Participant.objects.filter(email=sha1(FRIEND_EMAIL)).exists()


@pytest.mark.django_db
def test_event_date_now_is_the_time_received_and_replays_as_the_same_order():
    program = impact_program()
    client = impact_client(program)
    body = json.dumps({"OrderId": "NOW-1", "EventDate": "NOW", "OrderSubtotal": 5})
    before = timezone.now()
    first = client.generic("POST", impact_url(program), body, content_type="application/json")
    assert first.status_code == 201
    event_date = Conversion.objects.get().event_date
    assert before - timedelta(seconds=1) <= event_date <= timezone.now()
    again = client.generic("POST", impact_url(program), body, content_type="application/json")
    assert again.status_code == 200
    dated = json.dumps(
        {"OrderId": "NOW-1", "EventDate": "2026-11-27T08:00:05Z", "OrderSubtotal": 5}
    )
    clash = client.generic("POST", impact_url(program), dated, content_type="application/json")
    assert clash.status_code == 409


@pytest.mark.django_db
def test_the_answer_is_json_even_when_the_client_asks_for_xml():
    program = impact_program()
    client = impact_client(program)
    response = client.generic(
        "POST",
        impact_url(program),
        json.dumps({"OrderId": "XML-1"}),
        content_type="application/json",
        HTTP_ACCEPT="application/xml",
    )
    assert response.status_code == 201
    assert response.json()["order_id"] == "XML-1"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "path",
    [
        "/Advertisers/{slug}/Conversions/",
        "/Advertisers/{slug}/conversions",
        "/Advertisers/{slug}/Conversions.json",
        "/Advertisers/{slug}/Conversions/extra",
    ],
)
def test_paths_are_exactly_impacts_and_anything_else_is_a_json_404(path):
    program = impact_program()
    response = impact_client(program).generic(
        "POST",
        path.format(slug=program.slug),
        json.dumps({"OrderId": "P-1"}),
        content_type="application/json",
    )
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"
    assert not Conversion.objects.exists()


@pytest.mark.django_db
def test_another_program_in_the_path_and_an_unknown_one_are_refused_alike():
    program, other = impact_program(), impact_program()
    client = impact_client(program)
    body = json.dumps({"OrderId": "P-1"})
    theirs = client.generic("POST", impact_url(other), body, content_type="application/json")
    assert theirs.status_code == 403
    unknown = client.generic(
        "POST", "/Advertisers/no-such-program/Conversions", body, content_type="application/json"
    )
    # The same 403 word for word: a key cannot be used to tell which slugs exist.
    assert unknown.status_code == 403
    assert unknown.json() == theirs.json()
    assert not Conversion.objects.exists()


@pytest.mark.django_db
def test_without_credentials_it_is_401_with_a_basic_challenge():
    program = impact_program()
    response = Client().post(impact_url(program), {"OrderId": "P-1"}, "application/json")
    assert response.status_code == 401
    assert "Basic" in response["WWW-Authenticate"]
    assert response.json()["error"]["code"] == "not_authenticated"


@pytest.mark.django_db
def test_other_methods_are_405_in_the_error_shape():
    program = impact_program()
    response = impact_client(program).get(impact_url(program))
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
