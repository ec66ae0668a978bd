"""/healthz and /readyz: what a load balancer or an orchestrator sees."""

import os

import pytest
from django.db import connection
from django.test import Client, override_settings

from tests.config.processes import free_port as closed_port


def test_healthz_answers_without_the_database(client):
    # No django_db mark: any query would raise instead of answering.
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert "no-cache" in response["Cache-Control"]


def test_probes_answer_any_host_over_plain_http_and_only_at_their_exact_path(client):
    # A probe addresses the machine by its IP: no ALLOWED_HOSTS match, no HTTPS redirect.
    with override_settings(ALLOWED_HOSTS=["referrals.example.com"], SECURE_SSL_REDIRECT=True):
        assert client.get("/healthz", HTTP_HOST="10.0.3.7:8000").status_code == 200
        # Any other page for that host is refused as usual, and the right host is redirected.
        other = Client(raise_request_exception=False)
        assert other.get("/admin/login/", HTTP_HOST="10.0.3.7:8000").status_code == 400
        assert other.get("/admin/login/", HTTP_HOST="referrals.example.com").status_code == 301
    plain = Client()  # middleware loaded without the overrides above
    assert plain.get("/healthz/").status_code == 404
    assert plain.post("/healthz").status_code == 405


@pytest.mark.django_db
@override_settings(REDIS_URL="", CELERY_BROKER_URL="")
def test_readyz_with_the_embedded_default_checks_what_is_configured(client):
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "checks": {"database": "ok", "migrations": "ok"}}
    assert client.head("/readyz").status_code == 200


@pytest.mark.django_db
def test_readyz_is_503_naming_redis_when_redis_is_unreachable(client):
    with override_settings(REDIS_URL=f"redis://127.0.0.1:{closed_port()}/0", CELERY_BROKER_URL=""):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unavailable"
    assert body["failed"] == ["redis"]
    assert body["checks"]["database"] == "ok" and body["checks"]["migrations"] == "ok"
    assert "Unable to connect to Redis" in body["checks"]["redis"]
    assert body["error"]["code"] == "not_ready"
    assert body["error"]["message"] == "Not ready: redis."
    assert set(body["error"]["fields"]) == {"redis"}


@pytest.mark.django_db
@pytest.mark.parametrize("scheme", ["redis", "amqp"])
def test_readyz_is_503_naming_the_broker_when_the_broker_is_unreachable(client, scheme):
    broker = f"{scheme}://guest@127.0.0.1:{closed_port()}/0"
    with override_settings(REDIS_URL="", CELERY_BROKER_URL=broker):
        response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["broker"]
    assert body["checks"]["broker"].startswith("Unavailable:")
    # Hosts and ports stay in the log; the body names the check only.
    assert "127.0.0.1" not in response.content.decode()


@pytest.mark.django_db
@override_settings(REDIS_URL="", CELERY_BROKER_URL="")
def test_readyz_is_503_until_every_migration_is_applied(client):
    with connection.cursor() as cursor:  # as if a newer release's migration had not run yet
        cursor.execute(
            "DELETE FROM django_migrations WHERE app = 'codes' AND name = "
            "(SELECT MAX(name) FROM django_migrations WHERE app = 'codes')"
        )
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["migrations"]
    assert body["checks"]["migrations"] == (
        "Unavailable: 1 migrations not applied (run manage.py migrate)"
    )


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db
def test_readyz_is_200_on_postgresql_with_redis_as_cache_and_broker(client):
    redis_url = os.environ["REDIS_URL"]
    with override_settings(REDIS_URL=redis_url, CELERY_BROKER_URL=redis_url):
        response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert response.json() == {
        "status": "ok",
        "checks": {"database": "ok", "migrations": "ok", "redis": "ok", "broker": "ok"},
    }


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@override_settings(REDIS_URL="", CELERY_BROKER_URL="")
def test_readyz_reconnects_when_its_idle_connection_was_cut(client):
    import psycopg

    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    settings = connection.settings_dict
    with psycopg.connect(
        host=settings["HOST"],
        port=settings["PORT"] or 5432,
        user=settings["USER"],
        dbname=settings["NAME"],
        autocommit=True,
    ) as other:  # as a server restart would
        other.execute("SELECT pg_terminate_backend(%s)", [pid])
    response = client.get("/readyz")
    assert response.status_code == 200, response.content
    assert connection.connection.info.backend_pid != pid
