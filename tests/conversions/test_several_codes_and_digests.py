"""What integrators send that the first version refused or missed: CustomerEmail as a SHA-256
digest, and several coupons in one OrderPromoCode."""

import hashlib

import pytest

from conversions.models import Conversion, ConversionStatus
from participants.models import Participant
from participants.services import participant_erase
from tests.api_helpers import advocate_with_code, client_for, stocked_program, url


def sha256(email):
    return hashlib.sha256(email.strip().lower().encode()).hexdigest()


def sha1(email):
    return hashlib.sha1(email.strip().lower().encode()).hexdigest()


def post(client, program, **body):
    return client.post(url(program, "conversions"), body, format="json")


@pytest.mark.django_db
@pytest.mark.parametrize("digest", [sha1, sha256], ids=["sha1", "sha256"])
def test_a_digest_of_the_advocates_address_in_any_case_is_a_self_referral(digest):
    program = stocked_program()
    _, code = advocate_with_code(program, email="Anna.Lind@Example.com")
    response = post(
        client_for(program),
        program,
        OrderId="SELF-1",
        OrderPromoCode=code.code,
        CustomerEmail=digest("anna.lind@example.com").upper(),
    )
    assert response.status_code == 201
    assert response.json()["status"] == ConversionStatus.REJECTED
    assert "Self-referral" in response.json()["reason"]


@pytest.mark.django_db
def test_a_sha256_customer_email_is_stored_and_the_order_attributed():
    program = stocked_program()
    advocate, code = advocate_with_code(program)
    digest = sha256("grace@example.com")
    response = post(
        client_for(program),
        program,
        OrderId="ORD-1",
        OrderPromoCode=code.code,
        CustomerEmail=digest.upper(),
    )
    assert response.status_code == 201
    assert response.json()["status"] == ConversionStatus.ATTRIBUTED
    assert response.json()["advocate_id"] == advocate.participant_id
    conversion = Conversion.objects.get()
    assert conversion.customer_email == digest
    # A digest is no address: the friend is not given it.
    assert conversion.friend.email == ""
    assert not Participant.objects.filter(email__iexact=digest).exists()


@pytest.mark.django_db
def test_a_hex_string_of_another_length_is_refused_naming_the_field():
    program = stocked_program()
    response = post(
        client_for(program), program, OrderId="ORD-1", CustomerEmail="ab" * 30
    )  # 60 hex digits: neither SHA-1 nor SHA-256
    assert response.status_code == 400
    assert "SHA-256" in response.json()["error"]["fields"]["CustomerEmail"][0]
    assert not Conversion.objects.exists()


@pytest.mark.django_db
def test_erasing_the_customer_blanks_their_sha256_digest_on_their_orders():
    program = stocked_program()
    _, code = advocate_with_code(program)
    client = client_for(program)
    post(
        client,
        program,
        OrderId="ORD-1",
        OrderPromoCode=code.code,
        CustomerId="grace",
        CustomerEmail="grace@example.com",
    )
    post(client, program, OrderId="ORD-2", CustomerEmail=sha256("grace@example.com"))
    participant_erase(program=program, participant_id="grace")
    assert not Conversion.objects.exclude(customer_email="").exists()


@pytest.mark.django_db
@pytest.mark.parametrize("separator", [",", ";", " ", ", "])
def test_a_shop_coupon_beside_the_referral_code_attributes_and_is_kept(separator):
    program = stocked_program()
    advocate, code = advocate_with_code(program)
    client = client_for(program)
    promo = f"welcome10{separator}{code.code.lower()}"
    response = post(client, program, OrderId="ORD-1", OrderPromoCode=promo)
    assert response.status_code == 201
    body = response.json()
    assert body["status"] == ConversionStatus.ATTRIBUTED
    assert body["advocate_id"] == advocate.participant_id
    assert body["code_used"] == code.code
    assert body["codes_ignored"] == ["WELCOME10"]
    assert body["reward"] is not None
    conversion = Conversion.objects.get()
    assert conversion.promo_code == promo.upper()
    assert conversion.code == code
    # A replay answers the same, and the list shows the same.
    assert post(client, program, OrderId="ORD-1", OrderPromoCode=promo).json() == body
    listed = client.get(url(program, "conversions")).json()["results"][0]
    assert listed["code_used"] == code.code
    assert listed["codes_ignored"] == ["WELCOME10"]


@pytest.mark.django_db
def test_two_advocates_codes_the_first_in_the_list_wins():
    program = stocked_program()
    _first, first_code = advocate_with_code(program, "adv-1", "one@example.com")
    second, second_code = advocate_with_code(program, "adv-2", "two@example.com")
    response = post(
        client_for(program),
        program,
        OrderId="ORD-1",
        OrderPromoCode=f"SUMMER;{second_code.code};{first_code.code}",
        CustomerId="grace",
    )
    body = response.json()
    assert body["status"] == ConversionStatus.ATTRIBUTED
    assert body["advocate_id"] == second.participant_id
    assert body["code_used"] == second_code.code
    assert body["codes_ignored"] == ["SUMMER", first_code.code]
    first_code.refresh_from_db()
    assert first_code.redemption_count == 0


@pytest.mark.django_db
def test_a_held_referral_code_wins_over_an_earlier_unheld_one():
    program = stocked_program()
    _, code = advocate_with_code(program)
    unheld = program.codes.filter(holder__isnull=True).first()
    response = post(
        client_for(program), program, OrderId="ORD-1", OrderPromoCode=f"{unheld.code},{code.code}"
    )
    assert response.json()["status"] == ConversionStatus.ATTRIBUTED
    assert response.json()["code_used"] == code.code


@pytest.mark.django_db
def test_several_codes_none_a_referral_code_are_unattributed_and_all_listed_as_ignored():
    program = stocked_program()
    advocate_with_code(program)
    response = post(client_for(program), program, OrderId="ORD-1", OrderPromoCode="A1, B2")
    body = response.json()
    assert body["status"] == ConversionStatus.UNATTRIBUTED
    assert body["code_used"] is None
    assert body["codes_ignored"] == ["A1", "B2"]
