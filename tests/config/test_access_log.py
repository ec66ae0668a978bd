"""Participant ids stay out of the logs: gunicorn's access log and Django's request log lines
write the id in an API participant path as an opaque reference (foundation.access_log)."""

import json
import urllib.error
import urllib.request

from foundation.access_log import opaque_participant_id, opaque_paths
from tests.config.processes import clean_env, free_port, start, stop, wait_until_serving

SECRET = "a-test-secret-key-that-is-long-enough-for-the-settings-0123456789"
PERSON = "erase.target+r1@example.com"


def test_gunicorn_and_django_log_an_opaque_reference_instead_of_the_participant_id(tmp_path):
    port = free_port()
    env = clean_env(
        tmp_path,
        GUNICORN_CMD_ARGS=f"--bind 127.0.0.1:{port}",
        GUNICORN_ACCESS_LOG="-",
        LOG_FORMAT="json",
        SECRET_KEY=SECRET,
    )
    server = start("gunicorn -c gunicorn.conf.py config.wsgi", env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{base}/healthz", server)
        for path in (
            f"/api/v1/programs/shoes/participants/{PERSON.replace('@', '%40')}",
            "/api/v1/programs/shoes/participants/cust-1042/rewards?cursor=x",
        ):
            try:
                urllib.request.urlopen(base + path, timeout=10)
            except urllib.error.HTTPError as error:
                assert error.code in (401, 404)
    finally:
        stdout, stderr = stop(server)
    logged = stdout + stderr
    assert PERSON not in logged and "erase.target" not in logged and "cust-1042" not in logged
    lines = [json.loads(line) for line in logged.splitlines() if line.startswith("{")]
    access = [line for line in lines if line["logger"] == "gunicorn.access"]
    paths = {line["path"] for line in access}
    with_key = {"SECRET_KEY": SECRET}
    reference = _reference(PERSON, with_key)
    assert f"/api/v1/programs/shoes/participants/{reference}" in paths
    assert any(reference in line["message"] for line in access)
    # Django's own line for the refused request ("Unauthorized: <path>") is opaque too.
    refused = [line for line in lines if line["logger"] == "django.request"]
    assert refused and all("/participants/~" in line["message"] for line in refused)


def _reference(participant_id, settings_values):
    from django.test import override_settings

    with override_settings(**settings_values):
        return opaque_participant_id(participant_id)


def test_the_reference_is_keyed_and_only_participant_paths_change(settings):
    settings.SECRET_KEY = SECRET
    reference = opaque_participant_id("cust-1042")
    assert reference.startswith("~") and len(reference) == 17
    assert opaque_paths("GET /api/v1/programs/shoes/participants/cust-1042 HTTP/1.1") == (
        f"GET /api/v1/programs/shoes/participants/{reference} HTTP/1.1"
    )
    assert opaque_paths("/api/v1/programs/shoes/codes/ABC") == "/api/v1/programs/shoes/codes/ABC"
    settings.SECRET_KEY = SECRET + "-other"
    assert opaque_participant_id("cust-1042") != reference  # not a plain hash of the id
