import pytest

from codes.models import CodeStatus
from conversions.models import Conversion
from participants.models import Referral, ReferralStatus, Reward, RewardStatus
from programs.models import CodeUsage
from tests.api_helpers import advocate_with_code, client_for, stocked_program, url


def attributed_order(program, client, order_id="ORD-1", customer="friend-1"):
    _, code = advocate_with_code(program, f"adv-{order_id}", f"{order_id}@example.com")
    response = client.post(
        url(program, "conversions"),
        {"OrderId": order_id, "OrderPromoCode": code.code, "CustomerId": customer},
    )
    assert response.json()["status"] == "attributed"
    return code


@pytest.mark.django_db
def test_reversal_cancels_the_referral_and_reward_and_keeps_the_code_redeemed():
    program = stocked_program(code_usage=CodeUsage.SINGLE)
    client = client_for(program)
    code = attributed_order(program, client)
    response = client.post(url(program, "conversions/ORD-1/reversal"), {"reason": "Refunded"})
    assert response.status_code == 200
    data = response.json()
    assert data["order_id"] == "ORD-1" and data["status"] == "reversed"
    assert data["reversed_at"] is not None and data["reversal_reason"] == "Refunded"
    assert data["reward"]["status"] == "cancelled"
    assert Referral.objects.get().status == ReferralStatus.CANCELLED
    assert Reward.objects.get().status == RewardStatus.CANCELLED
    code.refresh_from_db()
    assert code.status == CodeStatus.REDEEMED


@pytest.mark.django_db
def test_reversing_twice_answers_the_same():
    program = stocked_program()
    client = client_for(program)
    attributed_order(program, client)
    first = client.post(url(program, "conversions/ORD-1/reversal"), {"reason": "Refunded"})
    again = client.post(url(program, "conversions/ORD-1/reversal"), {"reason": "Other"})
    assert again.status_code == 200 and again.json() == first.json()


@pytest.mark.django_db
def test_reversal_without_a_body_is_accepted():
    program = stocked_program()
    client = client_for(program)
    attributed_order(program, client)
    response = client.generic("POST", url(program, "conversions/ORD-1/reversal"))
    assert response.status_code == 200
    assert response.json()["reversal_reason"] == ""


@pytest.mark.django_db
def test_a_paid_reward_stays_paid_and_is_flagged_for_review():
    program = stocked_program()
    client = client_for(program)
    attributed_order(program, client)
    Reward.objects.update(status=RewardStatus.PAID)
    response = client.post(url(program, "conversions/ORD-1/reversal"))
    assert response.json()["reward"]["status"] == "paid"
    assert response.json()["reward"]["needs_review"] is True
    reward = Reward.objects.get()
    assert reward.status == RewardStatus.PAID and reward.needs_review


@pytest.mark.django_db
def test_a_multi_use_codes_count_stays():
    program = stocked_program(code_usage=CodeUsage.MULTI)
    client = client_for(program)
    code = attributed_order(program, client)
    client.post(url(program, "conversions/ORD-1/reversal"))
    code.refresh_from_db()
    assert code.redemption_count == 1 and code.status == CodeStatus.ASSIGNED


@pytest.mark.django_db
def test_an_unattributed_order_can_be_reversed():
    program = stocked_program()
    client = client_for(program)
    client.post(url(program, "conversions"), {"OrderId": "plain"})
    response = client.post(url(program, "conversions/plain/reversal"))
    assert response.status_code == 200
    assert response.json()["status"] == "unattributed" and response.json()["reversed_at"]


@pytest.mark.django_db
def test_a_replayed_post_after_the_reversal_still_returns_the_first_body():
    program = stocked_program()
    client = client_for(program)
    _, code = advocate_with_code(program)
    body = {"OrderId": "O-9", "OrderPromoCode": code.code, "CustomerId": "f"}
    first = client.post(url(program, "conversions"), body)
    client.post(url(program, "conversions/O-9/reversal"))
    again = client.post(url(program, "conversions"), body)
    assert again.status_code == 200 and again.json() == first.json()


@pytest.mark.django_db
def test_an_unknown_order_is_404():
    program = stocked_program()
    response = client_for(program).post(url(program, "conversions/nope/reversal"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_another_programs_order_is_404_and_its_key_403():
    program, other = stocked_program(), stocked_program()
    attributed_order(other, client_for(other))
    assert client_for(program).post(url(program, "conversions/ORD-1/reversal")).status_code == (404)
    assert client_for(program).post(url(other, "conversions/ORD-1/reversal")).status_code == 403
    assert Conversion.objects.get().reversed_at is None


@pytest.mark.django_db
def test_order_ids_with_slashes_can_be_reversed():
    program = stocked_program()
    client = client_for(program)
    client.post(url(program, "conversions"), {"OrderId": "2026/11/42"})
    response = client.post(url(program, "conversions/2026/11/42/reversal"))
    assert response.status_code == 200 and response.json()["order_id"] == "2026/11/42"
