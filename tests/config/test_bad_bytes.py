"""Bad bytes from outside get a 4xx in the error shape, never a 500 (docs/architecture.md,
Resilience).

Each case is one the adversarial pass found answering 500 (or the wrong thing).
"""

import io
import json
import time

import jwt
import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import override_settings
from rest_framework.test import APIClient

from conversions.models import Conversion
from participants.models import Participant
from programs import ratelimit
from programs.services import program_create
from tests.api_helpers import client_for, stocked_program, url
from tests.widget.conftest import bearer, token_for

pytestmark = pytest.mark.django_db
ME = "/api/v1/widget/me"


def assert_error(response, status, code=None):
    assert response.status_code == status, response.content[:300]
    assert response["Content-Type"].startswith("application/json")
    body = response.json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "fields"}
    if code:
        assert body["error"]["code"] == code
    return body["error"]


@pytest.fixture
def program():
    return stocked_program()


@pytest.fixture
def client(program):
    return client_for(program)


# --- Path segments ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "field"),
    [
        ("get", "participants/alice%00x", "participant_id"),
        ("put", "participants/alice%00x", "participant_id"),
        ("get", "codes/AB%00C", "code"),
        ("post", "conversions/ORD%00-1/reversal", "order_id"),
        ("get", "participants/tab%09id", "participant_id"),
    ],
)
def test_nul_or_control_characters_in_a_path_segment_are_refused(
    client, program, method, path, field
):
    response = getattr(client, method)(url(program, path), {}, format="json")
    error = assert_error(response, 400, "invalid")
    assert field in error["fields"]
    assert not Participant.objects.filter(participant_id__startswith="alice").exists()


def test_nul_in_the_widget_copy_path_is_refused(program):
    api = APIClient()
    response = api.post("/api/v1/widget/codes/AB%00C/copy", **bearer(token_for(program, "alice")))
    assert_error(response, 400, "invalid")


# --- Bodies ----------------------------------------------------------------------------------


def test_a_json_body_nested_absurdly_deep_is_a_400(client, program):
    body = b"[" * 100_000 + b"]" * 100_000
    response = client.generic(
        "POST", url(program, "conversions"), body, content_type="application/json"
    )
    assert_error(response, 400, "malformed_request")


@pytest.mark.parametrize("value", ["a\x00b", "\ud800x"])
def test_nul_and_lone_surrogates_in_body_fields_are_a_400(client, program, value):
    body = json.dumps({"OrderId": "ORD-1", "CustomerId": value})
    response = client.generic(
        "POST", url(program, "conversions"), body, content_type="application/json"
    )
    error = assert_error(response, 400, "invalid")
    assert "CustomerId" in error["fields"]
    assert not Conversion.objects.exists()


def test_more_than_a_thousand_form_fields_is_refused_in_the_error_shape(client, program):
    fields = "&".join(f"f{n}=x" for n in range(1500))
    response = client.generic(
        "POST",
        url(program, "conversions"),
        f"OrderId=ORD-1&{fields}",
        content_type="application/x-www-form-urlencoded",
    )
    # (413 from the form parser: a long impact.com order is best sent as JSON)
    error = assert_error(response, 413, "too_large")
    assert "more than 1000 fields" in error["message"]


@pytest.mark.parametrize("field", ["OrderSubtotal", "OrderDiscount"])
def test_negative_amounts_are_refused(client, program, field):
    response = client.post(
        url(program, "conversions"), {"OrderId": "ORD-1", field: "-5.00"}, format="json"
    )
    error = assert_error(response, 400, "invalid")
    assert field in error["fields"]
    assert not Conversion.objects.exists()


def chunked(client, program, body, *, terminated):
    body = body.encode()
    # What the server hands over: the de-chunked body, without a Content-Length.
    extra = {
        "HTTP_TRANSFER_ENCODING": "chunked",
        "CONTENT_LENGTH": "",
        "wsgi.input": io.BytesIO(body),
    }
    if terminated:
        extra["wsgi.input_terminated"] = True
    return client.generic(
        "POST", url(program, "conversions"), body, content_type="application/json", **extra
    )


def test_a_chunked_body_is_read_when_the_server_de_chunks_it(client, program):
    # gunicorn de-chunks and says so (wsgi.input_terminated); Django alone read it as empty.
    response = chunked(client, program, json.dumps({"OrderId": "ORD-7"}), terminated=True)
    assert response.status_code == 201
    assert Conversion.objects.filter(order_id="ORD-7").exists()


def test_a_chunked_body_the_server_cannot_read_asks_for_a_length(client, program):
    response = chunked(client, program, json.dumps({"OrderId": "ORD-7"}), terminated=False)
    assert_error(response, 411, "length_required")
    assert not Conversion.objects.exists()


def test_a_chunked_body_past_the_limit_is_a_413(client, program, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 100
    body = json.dumps({"OrderId": "ORD-7", "CustomerId": "x" * 200})
    assert_error(chunked(client, program, body, terminated=True), 413, "too_large")


# --- Participant tokens ----------------------------------------------------------------------


def test_a_token_header_with_an_unsupported_crit_extension_is_a_401(program):
    token = jwt.encode(
        {"sub": "alice", "program": program.slug, "exp": int(time.time()) + 60},
        program.widget_secret,
        algorithm="HS256",
        headers={"crit": ["exp"]},
    )
    assert_error(APIClient().get(ME, **bearer(token)), 401)


@pytest.mark.parametrize(
    ("claims", "says"),
    [
        ({"participant_id": "al\x00ice"}, "'sub'"),
        ({"participant_id": "\ud800ice"}, "'sub'"),
        ({"participant_id": "alice", "email": "a\x00@example.com"}, "'email'"),
        ({"participant_id": "alice", "first_name": "\ud800"}, "'first_name'"),
        ({"participant_id": "alice", "email": "not an e-mail"}, "not an e-mail address"),
    ],
)
def test_token_claims_with_bad_bytes_or_a_non_email_are_a_401(program, claims, says):
    participant_id = claims.pop("participant_id")
    token = token_for(program, participant_id, **claims)
    error = assert_error(APIClient().get(ME, **bearer(token)), 401)
    assert says in error["message"]
    assert not Participant.objects.exists()


def test_a_token_naming_a_slug_with_bad_bytes_is_a_401(program):
    token = jwt.encode(
        {"sub": "alice", "program": "sho\x00es", "exp": int(time.time()) + 60},
        "x" * 32,
        algorithm="HS256",
    )
    assert_error(APIClient().get(ME, **bearer(token)), 401, "unknown_program")


# --- Throttling ------------------------------------------------------------------------------


@override_settings(WIDGET_API_RATE="2/min")
def test_widget_retry_after_is_the_time_left_in_the_window(program, monkeypatch):
    from django.core.cache import cache

    cache.clear()
    moment = (int(time.time()) // 60 + 1) * 60 + 45.0  # 45 s into a fresh window
    monkeypatch.setattr(ratelimit.time, "time", lambda: moment)
    api = APIClient()
    token = token_for(program, "alice")
    statuses = [api.get(ME, **bearer(token)).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    limited = api.get(ME, **bearer(token))
    assert limited["Retry-After"] == "15"


# --- Names that reach e-mail subjects ---------------------------------------------------------


@pytest.mark.parametrize("name", ["Shoes\r\nBcc: x@example.com", "Shoes\x00", "Sho\tes"])
def test_a_program_name_with_control_characters_is_refused_by_the_service(name):
    with pytest.raises(ValidationError) as refused:
        program_create(slug="shoes", name=name)
    assert "control character" in str(refused.value)


def test_a_program_name_with_a_line_break_is_refused_by_the_command():
    with pytest.raises(CommandError, match="control character"):
        call_command("create_program", "shoes", "--name", "Shoes\nBcc: x@example.com")


def test_a_program_name_with_a_line_break_is_refused_by_the_admin(admin_client, program):
    response = admin_client.post(
        f"/admin/programs/program/{program.pk}/change/",
        {"name": "Shoes\r\nBcc: x@example.com", "slug": program.slug},
    )
    assert response.status_code == 200
    assert "control character" in response.text
    program.refresh_from_db()
    assert "\n" not in program.name


def test_a_fuel_tank_name_with_a_line_break_is_refused_by_the_admin(admin_client, program):
    response = admin_client.post(
        "/admin/codes/pool/add/",
        {
            "program": program.pk,
            "kind": "fuel_tank",
            "name": "Tank\r\nBcc: x@example.com",
            "low_stock_threshold": 5,
            "low_stock_recipients": "",
        },
    )
    assert response.status_code == 200
    assert "control character" in response.text
    assert not program.pools.filter(kind="fuel_tank").exists()


def test_the_migration_cleans_existing_program_names():
    import importlib

    from django.apps import apps

    from programs.models import Program

    migration = importlib.import_module("programs.migrations.0002_program_name_single_line")
    broken = stocked_program()
    Program.objects.filter(pk=broken.pk).update(name="Summer\r\nsale\x1b")
    fine = stocked_program(name="Winter sale")
    migration.clean_program_names(apps, None)
    broken.refresh_from_db()
    fine.refresh_from_db()
    assert (broken.name, fine.name) == ("Summer sale", "Winter sale")


def test_the_migration_cleans_existing_pool_names():
    import importlib

    from django.apps import apps

    from codes.models import Pool

    migration = importlib.import_module("codes.migrations.0008_pool_name_single_line")
    program = stocked_program()
    broken = Pool.objects.create(program=program, kind="fuel_tank", name="x")
    Pool.objects.filter(pk=broken.pk).update(name="Tank\r\nBcc: x@example.com")
    migration.clean_pool_names(apps, None)
    broken.refresh_from_db()
    assert broken.name == "Tank Bcc: x@example.com"
    assert program.pools.get(kind="referral").name == "Referral codes"


def test_a_pool_name_with_a_line_break_is_refused_by_the_model():
    from codes.models import Pool

    pool = Pool(program=stocked_program(), kind="fuel_tank", name="Tank\nBcc: x@example.com")
    with pytest.raises(ValidationError, match="control character"):
        pool.full_clean()


def test_the_api_refuses_an_unparseable_body_in_the_error_shape(client, program):
    response = client.generic(
        "POST",
        url(program, "conversions"),
        io.BytesIO(b"\xff\xfe not json").read(),
        content_type="application/json",
    )
    assert_error(response, 400, "malformed_request")


# --- Error bodies stay small ---------------------------------------------------------------


def test_an_error_body_names_the_first_fields_and_counts_the_rest(client, program):
    # 1.9 MB of item keys numbered past the last line: one error each, once a 6.5 MB answer.
    body = {"OrderId": "ORD-1", **{f"ItemSku{n}": "A" for n in range(1001, 91001)}}
    response = client.post(url(program, "conversions"), body, format="json")
    error = assert_error(response, 400, "invalid")
    assert len(response.content) < 20_000
    assert len(error["fields"]) == 50
    assert next(iter(error["fields"])) == "ItemSku1001"
    assert error["message"].endswith("(and 89,950 more invalid fields)")
    assert not Conversion.objects.exists()
