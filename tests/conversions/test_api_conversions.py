from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from codes.models import CodeStatus, PromoCode
from conversions.models import Conversion, ConversionStatus
from participants.models import Participant, Referral, ReferralStatus, Reward, RewardStatus
from participants.services import participant_upsert
from programs.models import CodeUsage, RewardKind
from tests.api_helpers import advocate_with_code, client_for, stocked_program, url
from tests.factories import BatchFactory, PoolFactory, PromoCodeFactory


def post(client, program, body, **kwargs):
    return client.post(url(program, "conversions"), body, **kwargs)


def order(order_id="ORD-1", code=None, **fields):
    body = {"OrderId": order_id, "CustomerId": "friend-1", "CustomerEmail": "f@example.com"}
    if code is not None:
        body["OrderPromoCode"] = code
    body.update(fields)
    return body


@pytest.mark.django_db
def test_a_single_use_code_attributes_redeems_replaces_and_rewards():
    program = stocked_program(
        code_usage=CodeUsage.SINGLE,
        codes_per_advocate=2,
        reward_kind=RewardKind.CREDIT,
        reward_amount=Decimal("15.00"),
        reward_currency="EUR",
    )
    advocate, code = advocate_with_code(program)
    body = order(code=code.code.lower(), OrderSubtotal="80.00", CurrencyCode="EUR")
    response = post(client_for(program), program, body)
    assert response.status_code == 201
    data = response.json()
    assert data["order_id"] == "ORD-1"
    assert data["status"] == "attributed" and data["reason_code"] == "attributed"
    assert data["advocate_id"] == advocate.participant_id
    referral = Referral.objects.get(pk=data["referral_id"])
    assert referral.status == ReferralStatus.CONVERTED and referral.order_id == "ORD-1"
    assert referral.friend.participant_id == "friend-1" and not referral.friend.is_advocate
    assert data["reward"]["kind"] == "credit"
    assert data["reward"]["amount"] == "15.00" and data["reward"]["currency"] == "EUR"
    assert data["reward"]["status"] == "available"  # no review period
    code.refresh_from_db()
    assert code.status == CodeStatus.REDEEMED and code.redeemed_order_id == "ORD-1"
    held = PromoCode.objects.filter(holder=advocate, status=CodeStatus.ASSIGNED)
    assert held.count() == 2  # replaced at once
    # A friend created by a conversion gets no codes until upserted.
    assert not PromoCode.objects.filter(holder=referral.friend).exists()


@pytest.mark.django_db
def test_a_multi_use_code_counts_each_use_and_a_percent_reward_waits_its_review_period():
    program = stocked_program(
        code_usage=CodeUsage.MULTI,
        reward_kind=RewardKind.PERCENT,
        reward_percent=Decimal("12.5"),
        reward_review_days=14,
    )
    _, code = advocate_with_code(program)
    client = client_for(program)
    first = post(client, program, order("A", code.code, CustomerId="f1", CustomerEmail=""))
    second = post(client, program, order("B", code.code, CustomerId="f2", CustomerEmail=""))
    assert first.json()["status"] == second.json()["status"] == "attributed"
    reward = first.json()["reward"]
    assert reward["kind"] == "percent" and reward["percent"] == "12.50"
    assert reward["status"] == "pending" and reward["available_at"] is not None
    code.refresh_from_db()
    assert code.status == CodeStatus.ASSIGNED and code.redemption_count == 2


@pytest.mark.django_db
def test_a_pending_referral_from_an_upsert_becomes_converted():
    program = stocked_program()
    _, code = advocate_with_code(program)
    client = client_for(program)
    client.put(url(program, "participants/friend-1"), {"referred_by_code": code.code})
    pending = Referral.objects.get(friend__participant_id="friend-1")
    response = post(client, program, order(code=code.code))
    assert response.json()["referral_id"] == pending.pk
    pending.refresh_from_db()
    assert pending.status == ReferralStatus.CONVERTED


@pytest.mark.django_db
def test_a_fuel_tank_reward_waits_for_stock_without_a_code():
    program = stocked_program(reward_kind=RewardKind.FUEL_TANK)
    _, code = advocate_with_code(program)
    response = post(client_for(program), program, order(code=code.code))
    reward = response.json()["reward"]
    assert reward["kind"] == "fuel_tank" and reward["status"] == "waiting"
    assert Reward.objects.get().code is None


@pytest.mark.django_db
def test_form_encoded_conversions_are_accepted():
    program = stocked_program()
    _, code = advocate_with_code(program)
    response = post(
        client_for(program),
        program,
        order(code=code.code, OrderSubtotal="10.5"),
        format="multipart",
    )
    # multipart is not accepted; form-urlencoded is
    assert response.status_code == 415
    from urllib.parse import urlencode

    response = client_for(program).generic(
        "POST",
        url(program, "conversions"),
        urlencode(order(code=code.code, OrderSubtotal="10.5")),
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 201
    assert response.json()["status"] == "attributed"
    conversion = Conversion.objects.get()
    assert conversion.order_subtotal == Decimal("10.50")


@pytest.mark.django_db
@pytest.mark.parametrize("body", [{"OrderId": "O"}, {"OrderId": "O", "OrderPromoCode": ""}])
def test_no_code_is_unattributed(body):
    program = stocked_program()
    response = post(client_for(program), program, body)
    assert response.status_code == 201
    assert response.json()["status"] == "unattributed"
    assert response.json()["reason_code"] == "no_code"
    assert response.json()["reward"] is None
    assert Conversion.objects.get().status == ConversionStatus.UNATTRIBUTED


@pytest.mark.django_db
@pytest.mark.parametrize("code", ["SUMMER SALE 10%", "SHOPPROMO", "TANK1"])
def test_a_code_that_is_not_a_referral_code_is_unattributed(code):
    program = stocked_program()
    tank = PoolFactory(program=program, kind="fuel_tank", name="Tank")
    PromoCodeFactory(batch=BatchFactory(pool=tank), code="TANK1")
    response = post(client_for(program), program, order(code=code))
    assert response.status_code == 201
    assert response.json()["status"] == "unattributed"
    assert "not one of the program's referral codes" in response.json()["reason"]
    assert response.json()["reason_code"] == "not_referral_code"


@pytest.mark.django_db
def test_another_programs_referral_code_is_unattributed():
    program, other = stocked_program(), stocked_program()
    advocate_with_code(program)
    _, their_code = advocate_with_code(other)
    PromoCode.objects.filter(program=program, code=their_code.code).delete()
    response = post(client_for(program), program, order(code=their_code.code))
    assert response.json()["status"] == "unattributed"


def _rejected(program, body, reason, reason_code):
    response = post(client_for(program), program, body)
    assert response.status_code == 201
    data = response.json()
    assert data["status"] == "rejected", data
    assert reason in data["reason"]
    assert data["reason_code"] == reason_code
    assert data["reward"] is None and data["referral_id"] is None
    return data


@pytest.mark.django_db
def test_a_redeemed_single_use_code_is_rejected():
    program = stocked_program(code_usage=CodeUsage.SINGLE)
    _, code = advocate_with_code(program)
    assert post(client_for(program), program, order("A", code.code)).json()["status"] == (
        "attributed"
    )
    second = order("B", code.code, CustomerId="f2", CustomerEmail="")
    _rejected(program, second, "already", "code_already_redeemed")
    assert Reward.objects.count() == 1


@pytest.mark.django_db
def test_a_code_held_by_nobody_is_rejected():
    program = stocked_program()
    _rejected(program, order(code="R00005"), "held by no advocate", "code_unheld")


@pytest.mark.django_db
def test_self_referral_by_customer_id_or_email_in_any_case_is_rejected():
    program = stocked_program(code_usage=CodeUsage.MULTI)
    _, code = advocate_with_code(program, "adv-1", "Adv@Example.com")
    by_id = order("A", code.code, CustomerId="adv-1", CustomerEmail="")
    _rejected(program, by_id, "Self", "self_referral")
    _rejected(
        program,
        order("B", code.code, CustomerId="x", CustomerEmail="ADV@example.COM"),
        "Self",
        "self_referral",
    )
    code.refresh_from_db()
    assert code.redemption_count == 0


@pytest.mark.django_db
def test_a_voided_code_is_rejected_with_its_date_and_code():
    program = stocked_program()
    _, code = advocate_with_code(program)
    voided_at = timezone.now() - timedelta(days=2)
    PromoCode.objects.filter(pk=code.pk).update(status=CodeStatus.VOIDED, voided_at=voided_at)
    data = _rejected(program, order(code=code.code), "was voided on", "code_voided")
    assert f"{voided_at:%Y-%m-%d}" in data["reason"]


@pytest.mark.django_db
def test_a_blocked_advocates_code_is_rejected():
    program = stocked_program()
    advocate, code = advocate_with_code(program)
    Participant.objects.filter(pk=advocate.pk).update(is_blocked=True)
    _rejected(program, order(code=code.code), "blocked", "advocate_blocked")
    code.refresh_from_db()
    assert code.status == CodeStatus.ASSIGNED


@pytest.mark.django_db
def test_the_code_used_at_checkout_wins_over_a_pending_link_to_another_advocate():
    program = stocked_program(code_usage=CodeUsage.MULTI)
    _, first_code = advocate_with_code(program, "adv-1", "a1@example.com")
    second, second_code = advocate_with_code(program, "adv-2", "a2@example.com")
    client = client_for(program)
    client.put(url(program, "participants/friend-1"), {"referred_by_code": first_code.code})
    data = post(client, program, order(code=second_code.code)).json()
    assert data["status"] == "attributed" and data["advocate_id"] == "adv-2"
    referral = Referral.objects.get(friend__participant_id="friend-1")
    assert (referral.advocate, referral.status) == (second, ReferralStatus.CONVERTED)
    assert Reward.objects.get().advocate == second


@pytest.mark.django_db
def test_a_repeat_order_counts_the_use_but_earns_no_second_reward():
    program = stocked_program(code_usage=CodeUsage.MULTI)
    _, code = advocate_with_code(program)
    client = client_for(program)
    assert post(client, program, order("ORD-1", code.code)).json()["reward"] is not None
    data = post(client, program, order("ORD-2", code.code)).json()
    assert data["status"] == "attributed" and data["reward"] is None
    assert "no new reward" in data["reason"] and data["reason_code"] == "repeat_order"
    code.refresh_from_db()
    assert code.redemption_count == 2
    assert Reward.objects.count() == 1


@pytest.mark.django_db
def test_a_replay_returns_the_first_body_with_200():
    program = stocked_program()
    _, code = advocate_with_code(program)
    client = client_for(program)
    first = post(client, program, order(code=code.code, OrderSubtotal="80"))
    again = post(client, program, order(code=code.code.lower(), OrderSubtotal="80.00"))
    assert first.status_code == 201 and again.status_code == 200
    assert again.json() == first.json()
    assert Conversion.objects.count() == 1 and Reward.objects.count() == 1


@pytest.mark.django_db
def test_a_form_replay_of_a_json_order_is_the_same_order():
    from urllib.parse import urlencode

    program = stocked_program()
    client = client_for(program)
    body = order(code="SHOP10", OrderSubtotal=80, EventDate="2026-11-26T10:00:00+01:00")
    first = post(client, program, body)
    again = client.generic(
        "POST",
        url(program, "conversions"),
        urlencode({**body, "OrderSubtotal": "80.00", "EventDate": "2026-11-26T09:00:00Z"}),
        content_type="application/x-www-form-urlencoded",
    )
    assert again.status_code == 200 and again.json() == first.json()


@pytest.mark.django_db
def test_the_same_order_id_with_another_payload_is_409():
    program = stocked_program()
    client = client_for(program)
    post(client, program, order(code="SHOP10", OrderSubtotal="80"))
    response = post(client, program, order(code="SHOP10", OrderSubtotal="81"))
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "conflict"
    assert Conversion.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "body, field",
    [
        ({}, "OrderId"),
        ({"OrderId": ""}, "OrderId"),
        ({"OrderId": "O", "OrderSubtotal": "lots"}, "OrderSubtotal"),
        ({"OrderId": "O", "CustomerEmail": "nope"}, "CustomerEmail"),
        ({"OrderId": "O", "EventDate": "yesterday"}, "EventDate"),
        ({"OrderId": "O", "CurrencyCode": "EURO"}, "CurrencyCode"),
    ],
)
def test_invalid_orders_are_400_naming_the_field(body, field):
    program = stocked_program()
    response = post(client_for(program), program, body)
    assert response.status_code == 400
    assert field in response.json()["error"]["fields"]
    assert not Conversion.objects.exists()


@pytest.mark.django_db
def test_malformed_json_oversize_and_wrong_media_type(settings):
    program = stocked_program()
    client = client_for(program)
    target = url(program, "conversions")
    bad = client.generic("POST", target, b'{"OrderId": "O",', content_type="application/json")
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "malformed_request"
    text = client.generic("POST", target, b"OrderId=O", content_type="text/csv")
    assert text.status_code == 415
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 500
    big = b'{"OrderId": "O", "CustomerId": "' + b"x" * 1000 + b'"}'
    response = client.generic("POST", target, big, content_type="application/json")
    assert response.status_code == 413 and response.json()["error"]["code"] == "too_large"
    assert not Conversion.objects.exists()


@pytest.mark.django_db
def test_another_programs_key_cannot_post_conversions():
    program, other = stocked_program(), stocked_program()
    response = post(client_for(other), program, order(code="X"))
    assert response.status_code == 403
    assert not Conversion.objects.exists()


@pytest.mark.django_db
def test_the_periodic_task_makes_pending_rewards_available_when_due():
    from participants.tasks import rewards_release_due_task

    program = stocked_program(reward_review_days=3)
    _, code = advocate_with_code(program)
    post(client_for(program), program, order(code=code.code))
    reward = Reward.objects.get()
    assert reward.status == RewardStatus.PENDING
    assert rewards_release_due_task.delay().get() == 0
    Reward.objects.update(available_at=timezone.now() - timedelta(seconds=1))
    assert rewards_release_due_task.delay().get() == 1
    reward.refresh_from_db()
    assert reward.status == RewardStatus.AVAILABLE


@pytest.mark.django_db
def test_an_upserted_friend_becomes_an_advocate_with_codes():
    program = stocked_program()
    _, code = advocate_with_code(program)
    post(client_for(program), program, order(code=code.code))
    friend, created = participant_upsert(program=program, participant_id="friend-1")
    assert not created and friend.is_advocate
    assert PromoCode.objects.filter(holder=friend).exists()
