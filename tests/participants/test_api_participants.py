import pytest

from codes.models import CodeStatus, PromoCode
from codes.services import code_redeem
from participants.models import Participant, Referral, ReferralStatus
from programs.models import CodeUsage
from tests.api_helpers import (
    REFERRAL_CODE_FIELDS,
    advocate_with_code,
    client_for,
    stocked_program,
    url,
)
from tests.factories import BatchFactory, PoolFactory, PromoCodeFactory


@pytest.mark.django_db
def test_put_creates_the_participant_with_their_codes_in_assignment_order():
    program = stocked_program(code_usage=CodeUsage.SINGLE, codes_per_advocate=3)
    client = client_for(program)
    body = {"email": "ada@example.com", "first_name": "Ada", "last_name": "L", "account_id": "a7"}
    response = client.put(url(program, "participants/cust-1"), body, format="json")
    assert response.status_code == 201
    data = response.json()
    assert data["participant_id"] == "cust-1"
    assert data["email"] == "ada@example.com" and data["account_id"] == "a7"
    assert [c["code"] for c in data["referral_codes"]] == ["R00000", "R00001", "R00002"]
    first = data["referral_codes"][0]
    assert set(first) == REFERRAL_CODE_FIELDS
    assert first["usage"] == "single" and first["status"] == "assigned"
    assert first["copied_before"] is False and first["first_copied_at"] is None
    assert data["referred_by"] is None


@pytest.mark.django_db
def test_put_again_updates_and_answers_200_with_the_same_codes():
    program = stocked_program(code_usage=CodeUsage.SINGLE, codes_per_advocate=2)
    client = client_for(program)
    client.put(url(program, "participants/cust-1"), {"email": "a@example.com"}, format="json")
    response = client.put(url(program, "participants/cust-1"), {"first_name": "Ada"})
    assert response.status_code == 200
    data = response.json()
    assert data["first_name"] == "Ada" and data["email"] == "a@example.com"
    assert [c["code"] for c in data["referral_codes"]] == ["R00000", "R00001"]


@pytest.mark.django_db
def test_redeemed_codes_are_no_longer_listed_and_the_replacement_comes_last():
    program = stocked_program(code_usage=CodeUsage.SINGLE, codes_per_advocate=2)
    advocate, code = advocate_with_code(program)
    code_redeem(code=code, order_id="O-1")
    response = client_for(program).get(url(program, f"participants/{advocate.participant_id}"))
    assert response.status_code == 200
    assert [c["code"] for c in response.json()["referral_codes"]] == ["R00001", "R00002"]


@pytest.mark.django_db
def test_referred_by_code_links_the_friend_as_a_pending_referral_in_any_case():
    program = stocked_program()
    advocate, code = advocate_with_code(program)
    response = client_for(program).put(
        url(program, "participants/friend-1"),
        {"referred_by_code": f"  {code.code.lower()} "},
        format="json",
    )
    assert response.status_code == 201
    referred_by = response.json()["referred_by"]
    assert referred_by["participant_id"] == advocate.participant_id
    assert referred_by["code"] == code.code and referred_by["status"] == "pending"
    referral = Referral.objects.get(friend__participant_id="friend-1")
    assert referral.advocate == advocate and referral.status == ReferralStatus.PENDING


@pytest.mark.django_db
def test_a_friend_already_referred_keeps_the_first_referral():
    program = stocked_program()
    first, first_code = advocate_with_code(program, "adv-1", "a1@example.com")
    _, second_code = advocate_with_code(program, "adv-2", "a2@example.com")
    client = client_for(program)
    client.put(url(program, "participants/f"), {"referred_by_code": first_code.code})
    response = client.put(url(program, "participants/f"), {"referred_by_code": second_code.code})
    assert response.status_code == 200
    assert response.json()["referred_by"]["participant_id"] == first.participant_id
    assert Referral.objects.filter(friend__participant_id="f").count() == 1


@pytest.mark.django_db
@pytest.mark.parametrize(
    "code, message",
    [
        ("NOSUCHCODE", "not one of this program's referral codes"),
        ("bad code!", "Not a valid code"),
        ("R00019", "not held by any advocate"),
    ],
)
def test_a_refused_referred_by_code_is_400_naming_the_field_and_writes_nothing(code, message):
    program = stocked_program()
    advocate_with_code(program)
    response = client_for(program).put(
        url(program, "participants/friend-1"), {"referred_by_code": code}, format="json"
    )
    assert response.status_code == 400
    error = response.json()["error"]
    assert error["code"] == "invalid"
    assert message in error["fields"]["referred_by_code"][0]
    assert not Participant.objects.filter(participant_id="friend-1").exists()


@pytest.mark.django_db
def test_a_fuel_tank_code_cannot_refer():
    program = stocked_program()
    tank = PoolFactory(program=program, kind="fuel_tank", name="Tank")
    PromoCodeFactory(batch=BatchFactory(pool=tank), code="TANK1")
    response = client_for(program).put(
        url(program, "participants/friend-1"), {"referred_by_code": "tank1"}
    )
    assert response.status_code == 400
    assert "referred_by_code" in response.json()["error"]["fields"]


@pytest.mark.django_db
def test_own_code_is_refused():
    program = stocked_program()
    advocate, code = advocate_with_code(program)
    response = client_for(program).put(
        url(program, f"participants/{advocate.participant_id}"),
        {"referred_by_code": code.code},
        format="json",
    )
    assert response.status_code == 400
    assert "own code" in response.json()["error"]["fields"]["referred_by_code"][0]
    assert not Referral.objects.exists()


@pytest.mark.django_db
def test_a_blocked_advocates_code_is_refused():
    program = stocked_program()
    advocate, code = advocate_with_code(program)
    Participant.objects.filter(pk=advocate.pk).update(is_blocked=True)
    response = client_for(program).put(
        url(program, "participants/f"), {"referred_by_code": code.code}
    )
    assert response.status_code == 400


@pytest.mark.django_db
def test_invalid_fields_are_400_naming_them():
    program = stocked_program()
    response = client_for(program).put(
        url(program, "participants/p1"), {"email": "not-an-email"}, format="json"
    )
    assert response.status_code == 400
    assert list(response.json()["error"]["fields"]) == ["email"]


@pytest.mark.django_db
def test_get_an_unknown_participant_is_404():
    program = stocked_program()
    response = client_for(program).get(url(program, "participants/nobody"))
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.django_db
def test_get_shows_copied_codes():
    program = stocked_program()
    advocate, code = advocate_with_code(program)
    PromoCode.objects.filter(pk=code.pk).update(first_copied_at=code.assigned_at)
    response = client_for(program).get(url(program, f"participants/{advocate.participant_id}"))
    first = response.json()["referral_codes"][0]
    assert first["copied_before"] is True and first["first_copied_at"] is not None


@pytest.mark.django_db
def test_malformed_json_is_400_and_other_media_types_415():
    program = stocked_program()
    client = client_for(program)
    response = client.generic(
        "PUT", url(program, "participants/p1"), b'{"email": ', content_type="application/json"
    )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "malformed_request"
    response = client.generic(
        "PUT", url(program, "participants/p1"), b"email", content_type="text/plain"
    )
    assert response.status_code == 415
    assert response.json()["error"]["code"] == "unsupported_media_type"
    assert not Participant.objects.exists()


@pytest.mark.django_db
def test_an_oversize_body_is_413(settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    program = stocked_program()
    body = b'{"first_name": "' + b"x" * 2000 + b'"}'
    response = client_for(program).generic(
        "PUT", url(program, "participants/p1"), body, content_type="application/json"
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "too_large"
    assert not Participant.objects.exists()


@pytest.mark.django_db
def test_a_participant_of_another_program_is_not_visible():
    program, other = stocked_program(), stocked_program()
    advocate_with_code(other, "shared-id")
    response = client_for(program).get(url(program, "participants/shared-id"))
    assert response.status_code == 404
    assert response.status_code == 404
    assert PromoCode.objects.filter(status=CodeStatus.ASSIGNED, program=program).count() == 0


@pytest.mark.django_db
def test_unknown_api_paths_and_trailing_slashes_get_the_json_404():
    program = stocked_program()
    client = client_for(program)
    for path in ["/api/v1/nothing", url(program, "stock/"), url(program, "participants/p/")]:
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.json()["error"]["code"] == "not_found"
