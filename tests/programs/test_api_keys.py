import base64
import io
import os
from datetime import timedelta

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone
from rest_framework.test import APIClient

from programs.api_auth import BASIC_MISMATCH
from programs.keycache import key_cache
from programs.models import ApiKey
from programs.services import api_key_create, api_key_digest, api_key_revoke
from tests.api_helpers import client_for, stocked_program, url
from tests.factories import ProgramFactory


@pytest.mark.django_db
def test_create_api_key_prints_the_key_once_on_its_last_line_and_stores_its_digest():
    program = ProgramFactory(slug="acme")
    out = io.StringIO()
    call_command("create_api_key", "--program", "acme", "--name", "shop backend", stdout=out)
    raw_key = out.getvalue().strip().splitlines()[-1]
    api_key = ApiKey.objects.get(program=program)
    assert api_key.name == "shop backend"
    assert len(raw_key) >= 43 and " " not in raw_key
    assert api_key.digest == api_key_digest(raw_key)
    assert raw_key not in {api_key.digest, api_key.prefix}
    assert out.getvalue().count(raw_key) == 1


@pytest.mark.django_db
def test_create_api_key_refuses_an_unknown_program():
    with pytest.raises(CommandError, match="No program"):
        call_command("create_api_key", "--program", "nope")


@pytest.mark.django_db
def test_a_key_reads_its_own_program():
    program = stocked_program()
    response = client_for(program).get(url(program, "stock"))
    assert response.status_code == 200


@pytest.mark.django_db
def test_another_programs_key_is_forbidden():
    mine, other = stocked_program(), stocked_program()
    response = client_for(other).get(url(mine, "stock"))
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "permission_denied"


@pytest.mark.django_db
def test_an_unknown_program_answers_as_another_programs_does():
    # A key cannot be used to tell which slugs exist: both are 403, word for word.
    program = stocked_program()
    other = stocked_program()
    client = client_for(program)
    unknown = client.get("/api/v1/programs/no-such-program/stock")
    someone_elses = client.get(f"/api/v1/programs/{other.slug}/stock")
    assert unknown.status_code == someone_elses.status_code == 403
    assert unknown.json() == someone_elses.json()
    assert unknown.json()["error"]["code"] == "permission_denied"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "header", [None, "Bearer not-a-key", "Token abc", "Bearer two parts"], ids=str
)
def test_missing_or_wrong_keys_are_401(header):
    program = stocked_program()
    client = APIClient()
    if header:
        client.credentials(HTTP_AUTHORIZATION=header)
    response = client.get(url(program, "stock"))
    assert response.status_code == 401
    assert set(response.json()["error"]) == {"code", "message", "fields"}
    # Both accepted schemes are offered: Bearer, and Basic (program slug : API key).
    challenges = [part.split()[0] for part in response["WWW-Authenticate"].split(", ") if part]
    assert {"Bearer", "Basic"} <= set(challenges)


@pytest.mark.django_db
def test_a_revoked_key_is_401():
    program = stocked_program()
    api_key, raw_key = api_key_create(program=program, name="old")
    api_key_revoke(api_key=api_key)
    response = Client().get(url(program, "stock"), HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    assert response.status_code == 401
    assert "revoked" in response.json()["error"]["message"]


@pytest.mark.django_db
def test_last_used_at_is_written_at_most_once_a_minute():
    program = stocked_program()
    api_key, raw_key = api_key_create(program=program, name="k")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    client.get(url(program, "stock"))
    api_key.refresh_from_db()
    first = api_key.last_used_at
    assert first is not None
    client.get(url(program, "stock"))
    api_key.refresh_from_db()
    assert api_key.last_used_at == first
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=first - timedelta(minutes=2))
    key_cache.clear()  # two minutes on, this process's copy of the key has expired too
    client.get(url(program, "stock"))
    api_key.refresh_from_db()
    assert api_key.last_used_at > first - timedelta(minutes=2)


@pytest.mark.django_db
def test_requests_over_the_keys_rate_are_throttled_429():
    program = stocked_program()
    client = client_for(program, requests_per_minute=3)
    statuses = [client.get(url(program, "stock")).status_code for _ in range(5)]
    assert statuses[:3] == [200, 200, 200]
    assert statuses[3:] == [429, 429]
    response = client.get(url(program, "stock"))
    assert response.json()["error"]["code"] == "throttled"
    # Another key of the same program has its own count.
    assert client_for(program).get(url(program, "stock")).status_code == 200


@pytest.mark.redis
@pytest.mark.django_db
def test_throttle_counts_atomically_in_redis_when_configured(settings):
    import redis

    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["REDIS_URL"],
        }
    }
    program = stocked_program()
    client = client_for(program, requests_per_minute=2)
    statuses = [client.get(url(program, "stock")).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    keys = redis.Redis.from_url(os.environ["REDIS_URL"]).keys("*throttle:apikey:*")
    assert keys


@pytest.mark.django_db
def test_admin_revoke_action_revokes_the_selected_keys():
    program = ProgramFactory()
    api_key, _ = api_key_create(program=program, name="k")
    admin_user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(admin_user)
    response = client.post(
        "/admin/programs/apikey/",
        {"action": "revoke", "_selected_action": [api_key.pk]},
        follow=True,
    )
    assert response.status_code == 200
    api_key.refresh_from_db()
    assert api_key.revoked_at is not None and api_key.revoked_at <= timezone.now()


@pytest.mark.django_db
def test_admin_lists_keys_and_sets_their_name_and_rate():
    program = ProgramFactory()
    api_key, _ = api_key_create(program=program, name="old name")
    admin_user = get_user_model().objects.create_superuser("root", "root@example.com", "pw")
    client = Client()
    client.force_login(admin_user)
    listing = client.get("/admin/programs/apikey/")
    assert "old name" in listing.content.decode()
    assert api_key.digest not in listing.content.decode()
    response = client.post(
        f"/admin/programs/apikey/{api_key.pk}/change/",
        {"name": "shop backend", "requests_per_minute": 120},
    )
    assert response.status_code == 302
    api_key.refresh_from_db()
    assert (api_key.name, api_key.requests_per_minute) == ("shop backend", 120)
    assert api_key.program == program


@pytest.mark.django_db
def test_a_refused_request_does_not_stamp_last_used_at():
    program = stocked_program()
    api_key, raw_key = api_key_create(program=program, name="k")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    response = client.post(
        url(program, "conversions"), "{not json", content_type="application/json"
    )
    assert response.status_code == 400
    api_key.refresh_from_db()
    assert api_key.last_used_at is None


# --- Keys kept by each web process (programs.keycache) -----------------------------------------


@pytest.fixture
def another_process(monkeypatch):
    """The API as served by another web process: its own, warm, copies of the keys."""
    from programs import api_auth
    from programs.keycache import ApiKeyCache

    copies = ApiKeyCache()
    monkeypatch.setattr(api_auth, "key_cache", copies)
    return copies


@pytest.mark.redis
@pytest.mark.django_db
def test_a_key_revoked_elsewhere_is_refused_at_once_by_a_process_holding_a_copy(
    another_process, django_capture_on_commit_callbacks
):
    program = stocked_program()
    api_key, raw_key = api_key_create(program=program, name="leaked")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    assert client.get(url(program, "stock")).status_code == 200
    assert api_key.digest in another_process  # its copy is warm

    with django_capture_on_commit_callbacks(execute=True):
        api_key_revoke(api_key=ApiKey.objects.get(pk=api_key.pk))

    assert api_key.digest in another_process  # nothing told that process directly…
    response = client.get(url(program, "stock"))
    assert response.status_code == 401  # …yet its very next request is refused
    assert "revoked" in response.json()["error"]["message"]


@pytest.mark.redis
@pytest.mark.django_db
def test_a_rate_changed_in_the_admin_applies_at_once_in_a_process_holding_a_copy(
    another_process, django_capture_on_commit_callbacks
):
    program = stocked_program()
    api_key, raw_key = api_key_create(program=program, name="k", requests_per_minute=1000)
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    assert client.get(url(program, "stock")).status_code == 200
    admin = Client()
    admin.force_login(get_user_model().objects.create_superuser("root", "r@example.com", "pw"))
    with django_capture_on_commit_callbacks(execute=True):
        admin.post(
            f"/admin/programs/apikey/{api_key.pk}/change/",
            {"name": "k", "requests_per_minute": 1},
        )
    assert client.get(url(program, "stock")).status_code == 429


@pytest.mark.redis
@pytest.mark.django_db
def test_a_warm_key_is_not_read_from_the_database_and_the_throttle_still_counts():
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    program = stocked_program()
    client = client_for(program, requests_per_minute=3)
    assert client.get(url(program, "stock")).status_code == 200
    with CaptureQueriesContext(connection) as queries:
        statuses = [client.get(url(program, "stock")).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]
    assert not any("programs_apikey" in q["sql"] for q in queries)


@pytest.mark.redis
@pytest.mark.django_db
def test_with_redis_unreachable_keys_are_read_from_the_database(
    another_process, settings, django_capture_on_commit_callbacks
):
    from programs.ratelimit import reset_fail_open
    from tests.config.test_resilience import closed_port

    program = stocked_program()
    api_key, raw_key = api_key_create(program=program, name="k")
    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    assert client.get(url(program, "stock")).status_code == 200
    assert api_key.digest in another_process
    down = f"redis://127.0.0.1:{closed_port()}/0"
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": down,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    reset_fail_open()
    try:
        # Revoked while Redis is down: no process can be told, so none trusts its copies.
        with django_capture_on_commit_callbacks(execute=True):
            api_key_revoke(api_key=ApiKey.objects.get(pk=api_key.pk))
        assert client.get(url(program, "stock")).status_code == 401
    finally:
        reset_fail_open()


def basic(user, password):
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


@pytest.mark.redis
@pytest.mark.django_db
def test_an_unknown_key_costs_what_a_known_key_costs_so_timing_does_not_tell_them_apart():
    """Whether a key exists is never told by the work done: an unknown key is read from the
    database once, as a known one is, then both are one lookup by digest in this process."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    program = stocked_program()
    other = stocked_program()
    _, raw_key = api_key_create(program=other, name="real")
    known = Client(HTTP_AUTHORIZATION=basic(program.slug, raw_key))  # a real key, wrong slug
    unknown = Client(HTTP_AUTHORIZATION=basic(program.slug, "rpc_" + "x" * 43))
    key_queries = {}
    for name, client in (("known", known), ("unknown", unknown)):
        for attempt in ("first", "again"):
            with CaptureQueriesContext(connection) as queries:
                response = client.get(url(program, "stock"))
            assert response.status_code == 401
            assert response.json()["error"]["message"] == BASIC_MISMATCH
            key_queries[name, attempt] = sum("programs_apikey" in q["sql"] for q in queries)
    assert key_queries == {
        ("known", "first"): 1,
        ("known", "again"): 0,
        ("unknown", "first"): 1,
        ("unknown", "again"): 0,
    }
