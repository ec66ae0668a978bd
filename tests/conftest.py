import os

import pytest
from django.conf import settings
from django.db import connection
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings

# Property tests: the same examples on every CI run (CI=true), fresh random ones locally. How
# fast examples are made on a busy machine is not behaviour: no deadline, no too-slow check.
_PATIENT = {"deadline": None, "suppress_health_check": [HealthCheck.too_slow]}
hypothesis_settings.register_profile("ci", derandomize=True, database=None, **_PATIENT)
hypothesis_settings.register_profile("local", **_PATIENT)
hypothesis_settings.load_profile("ci" if os.environ.get("CI") == "true" else "local")

# In the strict PostgreSQL pass (scripts/test sets it) a test that needs a service it cannot
# reach fails instead of skipping.
STRICT = os.environ.get("REQUIRE_SERVICES") == "1"


def pytest_configure(config):
    # The .mo files Django reads, compiled from locale/ as `make install` does, so a test run
    # straight after editing a .po sees it.
    from foundation.translations import compile_catalogs

    compile_catalogs(only_stale=True)


@pytest.fixture(autouse=True)
def _default_language():
    """Each test starts and ends in the default language: a request's language stays active in
    its thread after the response (the LocaleMiddleware activates it, nothing deactivates it),
    and sentences built outside a request follow the active language."""
    from django.utils import translation

    translation.deactivate()
    yield
    translation.deactivate()


def service_unavailable(reason):
    """Skip, or fail in the strict PostgreSQL pass (a service CI must have is missing)."""
    if STRICT:
        pytest.fail(f"{reason} (REQUIRE_SERVICES=1: this pass must not skip it)", pytrace=False)
    pytest.skip(reason)


def redis_url():
    return os.environ.get("REDIS_URL", "")


def redis_reachable():
    url = redis_url()
    if not url:
        return False
    import redis

    try:
        return redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError:
        return False


def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres") and connection.vendor != "postgresql":
        service_unavailable("needs PostgreSQL (set TEST_DATABASE_URL)")
    if item.get_closest_marker("redis") and not redis_reachable():
        service_unavailable(f"needs Redis (REDIS_URL={redis_url() or 'unset'} is not reachable)")
    if item.get_closest_marker("replica") and "replica" not in settings.DATABASES:
        service_unavailable(
            "needs a streaming replica (DATABASE_REPLICA_URL; scripts/test starts one with "
            "scripts/replica)"
        )
    if item.get_closest_marker("pgbouncer") and settings.DATABASE_POOLER != "pgbouncer":
        service_unavailable(
            "needs PgBouncer (DATABASE_POOLER=pgbouncer; scripts/test starts one with "
            "scripts/pgbouncer)"
        )


@pytest.fixture(autouse=True)
def _answers_match_the_published_schema(monkeypatch):
    """Every API answer a test gets through Django's test client (APIClient included) is
    validated against the published schema (tests/openapi_responses.py)."""
    from django.test.client import Client

    from tests.openapi_responses import check_response

    send = Client.request

    def request_and_check(self, **request):
        response = send(self, **request)
        check_response(response)
        return response

    monkeypatch.setattr(Client, "request", request_and_check)
