import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from participants.widget.tokens import widget_token_decode
from tests.factories import ProgramFactory
from tests.widget.conftest import bearer, token_for

pytestmark = pytest.mark.django_db

ME = "/api/v1/widget/me"
SHOP = "https://shop.example"


# --- The page -------------------------------------------------------------------------------------


def test_the_widget_page_renders_without_secrets_and_sends_no_referrer(client, program):
    response = client.get(f"/widget/{program.slug}/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "data-promo-codes" in page
    assert "promo-codes/promo-codes.js" in page
    assert "promo-codes/promo-codes.css" in page
    assert program.widget_secret not in page
    assert response["Referrer-Policy"] == "no-referrer"


def test_an_unknown_program_page_is_404(client, db):
    assert client.get("/widget/nope/").status_code == 404


def test_the_widget_script_and_stylesheet_are_served(client, db):
    for name in ["promo-codes.js", "promo-codes.css"]:
        response = client.get(f"/static/promo-codes/{name}")
        assert response.status_code == 200, name
        body = b"".join(response.streaming_content) if response.streaming else response.content
        assert b"pc-" in body


# --- CORS ---------------------------------------------------------------------------------------


def preflight(client, origin):
    return client.options(
        ME,
        HTTP_ORIGIN=origin,
        HTTP_ACCESS_CONTROL_REQUEST_METHOD="GET",
        HTTP_ACCESS_CONTROL_REQUEST_HEADERS="authorization",
    )


def test_cors_allows_the_programs_origins_only(client, program):
    program.widget_allowed_origins = f"{SHOP}/\nhttps://other.example"
    program.save()
    allowed = preflight(client, SHOP)
    assert allowed["Access-Control-Allow-Origin"] == SHOP
    assert "authorization" in allowed["Access-Control-Allow-Headers"]
    assert "Access-Control-Allow-Origin" not in preflight(client, "https://evil.example")

    token = token_for(program, "alice")
    ok = client.get(ME, HTTP_ORIGIN=SHOP, **bearer(token))
    assert ok.status_code == 200
    assert ok["Access-Control-Allow-Origin"] == SHOP


def test_an_origin_of_another_program_gets_no_cors_and_no_write(client, program):
    ProgramFactory(slug="hats", widget_allowed_origins="https://hats.example")
    token = token_for(program, "mallory")
    response = client.get(ME, HTTP_ORIGIN="https://hats.example", **bearer(token))
    assert "Access-Control-Allow-Origin" not in response
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"
    assert not program.participants.filter(participant_id="mallory").exists()


@override_settings(CORS_ALLOWED_ORIGINS=["https://global.example"])
def test_settings_cors_allowed_origins_apply_too(client, program):
    response = client.get(
        ME, HTTP_ORIGIN="https://global.example", **bearer(token_for(program, "a"))
    )
    assert response.status_code == 200
    assert response["Access-Control-Allow-Origin"] == "https://global.example"


def test_same_origin_calls_need_no_allowlist(client, program):
    response = client.post(
        "/api/v1/widget/codes/NOPE/copy",
        HTTP_ORIGIN="http://testserver",
        **bearer(token_for(program, "a")),
    )
    assert response.status_code == 404  # past the origin check; the code is not theirs


# --- widget_token -------------------------------------------------------------------------------


def test_widget_token_prints_the_token_then_the_demo_url(program, capsys):
    call_command(
        "widget_token", "--program", program.slug, "--participant", "newbie", "--ttl", "60"
    )
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2
    token = lines[0]
    assert lines[1] == f"http://127.0.0.1:8000/widget/{program.slug}/#token={token}"
    identity = widget_token_decode(token)
    assert identity.program == program and identity.participant_id == "newbie"
    assert identity.claims["exp"] - identity.claims["iat"] == 60
    # The participant does not exist yet; loading the widget creates it.
    assert not program.participants.filter(participant_id="newbie").exists()


def test_widget_token_builds_the_url_from_site_url(program, capsys, settings):
    settings.SITE_URL = "https://referrals.example.com/"
    call_command("widget_token", "--program", program.slug, "--participant", "newbie")
    token, url = capsys.readouterr().out.splitlines()
    assert url == f"https://referrals.example.com/widget/{program.slug}/#token={token}"


def test_widget_token_refuses_an_unknown_program(db):
    with pytest.raises(CommandError, match="No program"):
        call_command("widget_token", "--program", "nope", "--participant", "x")


def test_widget_token_refuses_a_bad_ttl(program):
    with pytest.raises(CommandError, match="ttl"):
        call_command("widget_token", "--program", program.slug, "--participant", "x", "--ttl", "0")
