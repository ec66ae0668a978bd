import pytest

from codes.services import code_redeem
from tests.api_helpers import advocate_with_code, client_for, stocked_program, url


@pytest.mark.django_db
def test_a_held_code_shows_its_status_and_owner_in_any_case():
    program = stocked_program()
    _, code = advocate_with_code(program, "adv-1", "adv@example.com")
    response = client_for(program).get(url(program, f"codes/{code.code.lower()}"))
    assert response.status_code == 200
    data = response.json()
    assert data["code"] == code.code and data["status"] == "assigned"
    assert data["usage"] == "single" and data["pool_kind"] == "referral"
    assert data["owner"] == {"participant_id": "adv-1", "email": "adv@example.com"}
    assert data["assigned_at"] is not None and data["redemption_count"] == 0


@pytest.mark.django_db
def test_a_redeemed_code_keeps_its_owner_and_order():
    program = stocked_program()
    _, code = advocate_with_code(program)
    code_redeem(code=code, order_id="ORD-7")
    data = client_for(program).get(url(program, f"codes/{code.code}")).json()
    assert data["status"] == "redeemed" and data["redeemed_order_id"] == "ORD-7"
    assert data["owner"]["participant_id"] == "adv-1"


@pytest.mark.django_db
def test_an_available_code_has_no_owner():
    program = stocked_program()
    data = client_for(program).get(url(program, "codes/R00003")).json()
    assert data["status"] == "available" and data["owner"] is None


@pytest.mark.django_db
@pytest.mark.parametrize("code", ["NOSUCH", "bad%20code"])
def test_an_unknown_code_is_404(code):
    program = stocked_program()
    response = client_for(program).get(url(program, f"codes/{code}"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_another_programs_code_is_not_found_and_its_key_is_forbidden():
    program, other = stocked_program(), stocked_program()
    _, code = advocate_with_code(other)
    code.__class__.objects.filter(program=program, code=code.code).delete()
    assert client_for(program).get(url(program, f"codes/{code.code}")).status_code == 404
    assert client_for(program).get(url(other, f"codes/{code.code}")).status_code == 403
