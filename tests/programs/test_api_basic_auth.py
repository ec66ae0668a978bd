"""HTTP Basic on the server API: the program's slug as the user, an API key as the password
(what impact.com clients send as AccountSID:AuthToken)."""

import base64

import pytest
from django.test import Client

from conversions.models import Conversion
from programs.models import ApiKey
from programs.services import api_key_create, api_key_revoke
from tests.api_helpers import stocked_program, url


def b64(raw):
    return "Basic " + base64.b64encode(raw).decode("ascii")


def basic(user, password):
    return b64(f"{user}:{password}".encode())


def assert_401_error_shape(response):
    assert response.status_code == 401, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "fields"}
    assert body["error"]["code"] == "authentication_failed"
    return body["error"]["message"]


@pytest.mark.django_db
def test_basic_with_the_program_slug_and_a_key_works_on_the_native_api():
    program = stocked_program()
    _, raw_key = api_key_create(program=program, name="impact")
    client = Client(HTTP_AUTHORIZATION=basic(program.slug, raw_key))
    assert client.get(url(program, "stock")).status_code == 200
    response = client.post(url(program, "conversions"), {"OrderId": "B-1"}, "application/json")
    assert response.status_code == 201
    assert Conversion.objects.get().order_id == "B-1"
    assert ApiKey.objects.get().last_used_at is not None


@pytest.mark.django_db
def test_a_client_that_drops_the_base64_padding_is_forgiven():
    program = stocked_program()
    _, raw_key = api_key_create(program=program, name="impact")
    header = basic(program.slug, raw_key).rstrip("=")
    assert Client(HTTP_AUTHORIZATION=header).get(url(program, "stock")).status_code == 200


@pytest.mark.django_db
def test_a_wrong_user_for_the_key_is_401_like_a_wrong_key():
    program, other = stocked_program(), stocked_program()
    _, raw_key = api_key_create(program=program, name="impact")
    _, other_key = api_key_create(program=other, name="impact")
    wrong_user = Client(HTTP_AUTHORIZATION=basic("someone-else", raw_key))
    # The other program's key, presented with this program's slug as the user.
    borrowed_key = Client(HTTP_AUTHORIZATION=basic(program.slug, other_key))
    wrong_key = Client(HTTP_AUTHORIZATION=basic(program.slug, "rpc_not-a-key"))
    messages = {
        assert_401_error_shape(client.get(url(program, "stock")))
        for client in (wrong_user, borrowed_key, wrong_key)
    }
    assert len(messages) == 1  # one answer: it does not tell which half was wrong


@pytest.mark.django_db
def test_basic_for_one_program_on_another_programs_path_is_403():
    program, other = stocked_program(), stocked_program()
    _, raw_key = api_key_create(program=program, name="impact")
    client = Client(HTTP_AUTHORIZATION=basic(program.slug, raw_key))
    response = client.post(url(other, "conversions"), {"OrderId": "X"}, "application/json")
    assert response.status_code == 403
    assert not Conversion.objects.exists()


@pytest.mark.django_db
def test_a_revoked_key_is_401_over_basic_too():
    program = stocked_program()
    api_key, raw_key = api_key_create(program=program, name="old")
    api_key_revoke(api_key=api_key)
    client = Client(HTTP_AUTHORIZATION=basic(program.slug, raw_key))
    assert "revoked" in assert_401_error_shape(client.get(url(program, "stock")))


BAD_BASIC_HEADERS = {
    "not base64": "Basic %%%not-base64%%%",
    "base64 with a stray byte": "Basic " + base64.b64encode(b"slug:key").decode() + "!",
    "no colon": b64(b"program-slug-and-no-password"),
    "NUL in the user": b64(b"prog\x00ram:rpc_key"),
    "NUL in the password": b64(b"program:rpc_\x00key"),
    "not UTF-8": b64(b"\xff\xfe\xfd:\xc3\x28"),
    "a lone surrogate": b64(b"program:\xed\xa0\x80"),
    "empty password": b64(b"program:"),
    "empty user": b64(b":rpc_key"),
    "nothing after Basic": "Basic",
    "three parts": "Basic abc def",
    "absurdly long": "Basic " + "QUFB" * 5000,
    "another scheme": "Digest username=program",
}


@pytest.mark.django_db
@pytest.mark.parametrize("header", BAD_BASIC_HEADERS.values(), ids=BAD_BASIC_HEADERS.keys())
def test_bad_basic_headers_are_401_in_the_error_shape_never_500(header):
    program = stocked_program()
    api_key_create(program=program, name="impact")
    client = Client(HTTP_AUTHORIZATION=header)
    for path in (url(program, "conversions"), f"/Advertisers/{program.slug}/Conversions"):
        response = client.post(path, {"OrderId": "BAD-1"}, "application/json")
        assert_401_error_shape(response)
    assert not Conversion.objects.exists()


@pytest.mark.django_db
def test_a_header_a_test_client_passes_unencodable_is_401_not_500():
    program = stocked_program()
    response = Client(HTTP_AUTHORIZATION="Basic \u2603").get(url(program, "stock"))
    assert_401_error_shape(response)


@pytest.mark.django_db
def test_the_401_challenge_offers_bearer_and_basic():
    program = stocked_program()
    response = Client().get(url(program, "stock"))
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert 'Basic realm="api"' in response["WWW-Authenticate"]
