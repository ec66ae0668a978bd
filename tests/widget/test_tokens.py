"""Bad participant tokens are refused with 401 and a clear message, in the API error shape."""

from datetime import timedelta

import jwt
import pytest
from django.utils import timezone

from participants.models import Participant
from tests.factories import ProgramFactory
from tests.widget.conftest import bearer, token_for

pytestmark = pytest.mark.django_db

ME = "/api/v1/widget/me"


def claims(of, **overrides):
    values = {
        "sub": "alice",
        "program": of.slug,
        "exp": timezone.now() + timedelta(minutes=5),
    }
    values.update(overrides)
    return {k: v for k, v in values.items() if v is not None}


def refused(response, code, words):
    assert response.status_code == 401, response.content
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    error = response.json()["error"]
    assert error["code"] == code
    assert words in error["message"]
    return error


def test_a_good_token_loads_and_creates_the_participant(api, program):
    response = api.get(ME, **bearer(token_for(program, "newcomer")))
    assert response.status_code == 200
    assert Participant.objects.filter(program=program, participant_id="newcomer").exists()


def test_expired(api, program):
    token = jwt.encode(
        claims(program, exp=timezone.now() - timedelta(seconds=5)), program.widget_secret, "HS256"
    )
    refused(api.get(ME, **bearer(token)), "token_expired", "expired")


def test_wrong_signature(api, program):
    token = jwt.encode(claims(program), "another-secret-" * 4, "HS256")
    refused(api.get(ME, **bearer(token)), "bad_signature", "signature")


def test_signed_with_another_programs_secret(api, program):
    other = ProgramFactory(slug="hats")
    # Names this program but carries the other program's signature.
    token = jwt.encode(claims(program), other.widget_secret, "HS256")
    refused(api.get(ME, **bearer(token)), "bad_signature", "signature")
    assert not Participant.objects.filter(participant_id="alice").exists()


def test_a_token_for_another_program_loads_only_that_program(api, program):
    other = ProgramFactory(slug="hats")
    response = api.get(ME, **bearer(token_for(other, "alice")))
    assert response.status_code == 200
    assert response.json()["program"]["slug"] == "hats"
    assert not Participant.objects.filter(program=program, participant_id="alice").exists()


def test_unknown_program(api, program):
    token = jwt.encode(claims(program, program="nope"), program.widget_secret, "HS256")
    refused(api.get(ME, **bearer(token)), "unknown_program", "Unknown program")


def test_missing_sub(api, program):
    token = jwt.encode(claims(program, sub=None), program.widget_secret, "HS256")
    refused(api.get(ME, **bearer(token)), "missing_claim", "'sub'")


def test_missing_exp(api, program):
    token = jwt.encode(claims(program, exp=None), program.widget_secret, "HS256")
    refused(api.get(ME, **bearer(token)), "missing_claim", "'exp'")


def test_missing_program(api, program):
    token = jwt.encode(claims(program, program=None), program.widget_secret, "HS256")
    refused(api.get(ME, **bearer(token)), "missing_claim", "'program'")


def _unsigned(payload, alg):
    header = jwt.utils.base64url_encode(f'{{"alg":"{alg}","typ":"JWT"}}'.encode()).decode()
    body = jwt.utils.base64url_encode(
        jwt.api_jws.json.dumps(payload, default=str).encode()
    ).decode()
    return f"{header}.{body}."


def test_alg_none_is_refused(api, program):
    payload = claims(program, exp=int((timezone.now() + timedelta(minutes=5)).timestamp()))
    refused(api.get(ME, **bearer(_unsigned(payload, "none"))), "bad_algorithm", "HS256")
    assert not Participant.objects.filter(participant_id="alice").exists()


def test_other_algorithms_are_refused(api, program):
    token = jwt.encode(claims(program), program.widget_secret, "HS512")
    refused(api.get(ME, **bearer(token)), "bad_algorithm", "HS256")


@pytest.mark.parametrize("token", ["garbage", "a.b.c", "ey.ey.ey", ""])
def test_malformed(api, program, token):
    response = api.get(ME, HTTP_AUTHORIZATION=f"Bearer {token}")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "malformed_token"


def test_no_token(api, program):
    response = api.get(ME)
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "not_authenticated"
    assert "participant token" in response.json()["error"]["message"]


def test_a_rotated_secret_refuses_old_tokens(api, program):
    from programs.services import program_rotate_widget_secret

    token = token_for(program, "alice")
    program_rotate_widget_secret(program=program)
    refused(api.get(ME, **bearer(token)), "bad_signature", "signature")


def test_a_claim_of_the_wrong_type_is_refused(api, program):
    token = jwt.encode(claims(program, email=["a@b.c"]), program.widget_secret, "HS256")
    response = api.get(ME, **bearer(token))
    assert response.status_code == 401
    assert "'email'" in response.json()["error"]["message"]
