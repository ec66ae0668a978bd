"""The production profile as docs/deploy.md documents it, each process started for real:
`check --deploy`, gunicorn with gunicorn.conf.py, the Procfile's worker and beat, JSON logs,
Sentry."""

import gzip
import http.client
import http.server
import json
import os
import re
import secrets
import shlex
import subprocess
import threading
import urllib.error
from datetime import datetime

import pytest
import redis
from django.core.cache import cache
from django.db import connection
from prometheus_client.parser import text_string_to_metric_families

from ops.business_metrics import CACHE_KEY
from tests.config.processes import (
    BIN,
    PYTHON,
    ROOT,
    LineReader,
    clean_env,
    fetch,
    free_port,
    procfile,
    start,
    stop,
    wait_until_serving,
)
from tests.factories import ProgramFactory, stock_pool


def documented_env():
    """The `# production.env` block of docs/deploy.md, each <placeholder> filled in."""
    text = (ROOT / "docs" / "deploy.md").read_text()
    block = re.search(r"```sh\n# production\.env\n(.*?)```", text, re.DOTALL).group(1)
    env = {}
    for line in block.splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, value = line.partition("=")
            env[name] = re.sub(r"<[^>]+>", lambda _: secrets.token_urlsafe(50), value)
    return env


def manage(tmp_path, *args, **extra):
    return subprocess.run(
        [PYTHON, "manage.py", *args],
        cwd=ROOT,
        env=clean_env(tmp_path, **extra),
        capture_output=True,
        text=True,
        timeout=120,
    )


def python(tmp_path, code, **extra):
    prelude = (
        "import django, os\n"
        "os.environ.setdefault('DJANGO_SETTINGS_MODULE', 'config.settings')\n"
        "django.setup()\n"
    )
    return subprocess.run(
        [PYTHON, "-c", prelude + code],
        cwd=ROOT,
        env=clean_env(tmp_path, **extra),
        capture_output=True,
        text=True,
        timeout=120,
    )


def json_lines(lines):
    """Every non-empty line parsed as a JSON object (fails on the first that is not)."""
    parsed = []
    for line in lines:
        if line.strip():
            try:
                parsed.append(json.loads(line))
            except ValueError:
                pytest.fail(f"not a JSON log line: {line!r}")
    return parsed


def test_the_documented_production_variables_pass_check_deploy(tmp_path):
    env = documented_env()
    assert env["DJANGO_ENV"] == "production" and env["METRICS_ENABLED"] == "true"
    result = manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING", **env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_check_deploy_names_what_a_production_setup_lacks(tmp_path):
    result = manage(
        tmp_path,
        "check",
        "--deploy",
        DJANGO_ENV="production",
        SECRET_KEY=secrets.token_urlsafe(50),
        ALLOWED_HOSTS="referrals.example.com",
    )
    for warning in ("ops.W001", "ops.W002", "ops.W003", "ops.W004", "ops.W005"):
        assert warning in result.stderr
    assert "DATABASE_URL" in result.stderr and "REDIS_URL" in result.stderr


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"METRICS_ENABLED": "true"}, "METRICS_ENABLED needs METRICS_ALLOWED_IPS"),
        (
            {"METRICS_ENABLED": "true", "METRICS_ALLOWED_IPS": "10.0.0.1,prometheus"},
            "METRICS_ALLOWED_IPS: 'prometheus' is not an IP address or network",
        ),
        ({"LOG_FORMAT": "xml"}, "LOG_FORMAT must be 'plain' or 'json'"),
    ],
)
def test_operations_settings_refuse_to_start_when_wrong(tmp_path, extra, message):
    result = manage(tmp_path, "check", **extra)
    assert result.returncode != 0
    assert message in result.stderr


def test_the_procfile_runs_web_worker_and_beat_from_the_virtualenv():
    entries = procfile()
    assert set(entries) == {"web", "worker", "beat"}
    assert entries["web"] == "gunicorn -c gunicorn.conf.py config.wsgi"
    for command in entries.values():
        assert (BIN / shlex.split(command)[0]).exists(), command


def gunicorn_config(tmp_path, **extra):
    """{setting: value} as gunicorn reads gunicorn.conf.py (--print-config)."""
    command = [*shlex.split(procfile()["web"]), "--print-config"]
    result = subprocess.run(
        [str(BIN / command[0]), *command[1:]],
        cwd=ROOT,
        env=clean_env(tmp_path, **extra),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    return dict(
        (part.strip() for part in line.split("=", 1))
        for line in result.stdout.splitlines()
        if "=" in line
    )


def test_gunicorn_runs_two_workers_per_cpu_plus_one_in_production_with_upload_timeouts(tmp_path):
    production = gunicorn_config(tmp_path, **documented_env())
    assert production["workers"] == str(2 * len(os.sched_getaffinity(0)) + 1)
    assert production["timeout"] == "120" and production["graceful_timeout"] == "30"
    assert production["accesslog"] == "-" and production["max_requests"] == "2000"
    assert production["worker_class"] == "sync"  # measured: see gunicorn.conf.py
    assert gunicorn_config(tmp_path, **documented_env(), WEB_CONCURRENCY="3")["workers"] == "3"
    threaded = gunicorn_config(tmp_path, **documented_env(), GUNICORN_THREADS="4")
    assert threaded["worker_class"] == "gthread" and threaded["threads"] == "4"
    local = gunicorn_config(tmp_path)  # `gunicorn config.wsgi` on a laptop: gunicorn's defaults
    assert local["workers"] == "1" and local["accesslog"] == "None"


def test_json_logs_are_one_json_object_a_line(tmp_path):
    code = """
import logging, warnings
log = logging.getLogger("codes.tasks")
log.info("Top-up of %s: %d codes", "shoes", 3)
try:
    {}["pool"]
except KeyError:
    log.exception("Top-up failed")
warnings.warn("careful with that pool", UserWarning)
"""
    result = python(tmp_path, code, LOG_FORMAT="json")
    assert result.returncode == 0, result.stderr
    info, error, warning = json_lines(result.stderr.splitlines())
    assert info["level"] == "INFO" and info["logger"] == "codes.tasks"
    assert info["message"] == "Top-up of shoes: 3 codes"
    assert datetime.fromisoformat(info["time"]).utcoffset().total_seconds() == 0
    assert error["level"] == "ERROR" and "KeyError: 'pool'" in error["exc_info"]
    assert warning["logger"] == "py.warnings" and "careful with that pool" in warning["message"]

    plain = python(tmp_path, code)  # the default stays readable lines
    assert "INFO codes.tasks: Top-up of shoes: 3 codes" in plain.stderr


class SentryIngest(http.server.BaseHTTPRequestHandler):
    """A local stand-in for Sentry's ingest endpoint: keeps what it is sent."""

    received = []

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        self.received.append((self.path, body.decode(errors="replace")))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_errors_reach_sentry_only_when_sentry_dsn_is_set(tmp_path):
    code = """
import logging, sentry_sdk
try:
    1 / 0
except ZeroDivisionError:
    logging.getLogger("codes.tasks").exception("Top-up failed")
sentry_sdk.flush(10)
print(sentry_sdk.get_client().is_active())
"""
    off = python(tmp_path, code)
    assert off.returncode == 0, off.stderr
    assert off.stdout.strip() == "False"

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), SentryIngest)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    SentryIngest.received.clear()
    try:
        dsn = f"http://publickey@127.0.0.1:{server.server_port}/42"
        on = python(tmp_path, code, SENTRY_DSN=dsn)
    finally:
        server.shutdown()
    assert on.returncode == 0, on.stderr
    assert on.stdout.strip() == "True"
    events = [body for path, body in SentryIngest.received if path == "/api/42/envelope/"]
    assert any("ZeroDivisionError" in e and "Top-up failed" in e for e in events), events


def database_url():
    db = connection.settings_dict
    password = f":{db['PASSWORD']}" if db["PASSWORD"] else ""
    return f"postgres://{db['USER']}{password}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}"


def production_env(tmp_path, **extra):
    """The documented variables, pointed at this test run's PostgreSQL and Redis."""
    return clean_env(
        tmp_path,
        **{
            **documented_env(),
            "DATABASE_URL": database_url(),
            "REDIS_URL": os.environ["REDIS_URL"],
            "CELERY_BROKER_URL": os.environ["REDIS_URL"],
            "METRICS_ALLOWED_IPS": "127.0.0.1",
            **extra,
        },
    )


def metric_samples(text):
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def get_from(address, port, path):
    """GET from a given local source address (127.0.0.2 is as foreign as any other host)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10, source_address=(address, 0))
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_gunicorn_with_the_production_variables_is_ready_and_measured(tmp_path):
    program = ProgramFactory(slug="shoes")
    pool = stock_pool(program, 7)
    cache.delete(CACHE_KEY)
    port = free_port()
    env = production_env(
        tmp_path, WEB_CONCURRENCY="2", GUNICORN_CMD_ARGS=f"--bind 127.0.0.1:{port}"
    )
    server = start(procfile()["web"], env)
    base = f"http://127.0.0.1:{port}"
    try:
        wait_until_serving(f"{base}/healthz", server)
        # Probed by address over plain HTTP, not by the public host name over HTTPS.
        status, body = fetch(f"{base}/readyz")
        assert status == 200
        assert json.loads(body)["checks"] == {
            "database": "ok",
            "migrations": "ok",
            "redis": "ok",
            "broker": "ok",
        }
        public = {"Host": "referrals.example.com", "X-Forwarded-Proto": "https"}
        for _ in range(12):
            try:
                fetch(f"{base}/api/v1/programs/shoes/stock", headers=public)
            except urllib.error.HTTPError as error:
                assert error.code == 401  # no API key: answered by Django all the same
        # All workers count into one place: every scrape, whichever worker answers, sees all.
        for _ in range(4):
            status, text = fetch(f"{base}/metrics")
            found = metric_samples(text.decode())
            assert (
                found[("django_http_responses_total_by_status_total", (("status", "401"),))] >= 12
            )
            assert (
                found[("django_db_execute_total", (("alias", "default"), ("vendor", "postgresql")))]
                > 0
            )
            labels = (("kind", "referral"), ("pool", pool.name), ("program", "shoes"))
            assert found[("referral_codes_available", labels)] == 7
        assert get_from("127.0.0.2", port, "/metrics")[0] == 403
    finally:
        stdout, stderr = stop(server)
    logged = json_lines(stdout.splitlines() + stderr.splitlines())
    access = [line for line in logged if line["logger"] == "gunicorn.access"]
    assert any(line["path"] == "/readyz" and line["status"] == "200" for line in access)
    assert not any("?" in line["message"] for line in access)


@pytest.mark.postgres
@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_the_procfile_worker_and_beat_start_on_redis_with_json_logs(tmp_path):
    redis.Redis.from_url(os.environ["REDIS_URL"]).flushdb()  # no task left by an earlier test
    env = production_env(tmp_path)
    (tmp_path / "var").mkdir()
    worker = start(procfile()["worker"], env)
    beat = start(procfile()["beat"], env)
    worker_log, beat_log = LineReader(worker.stderr), LineReader(beat.stderr)
    try:
        worker_log.wait_for(lambda line: ' ready."' in line)  # "celery@host ready."
        beat_log.wait_for(lambda line: "beat: Starting" in line)
    finally:
        for process in (worker, beat):
            process.terminate()
        for process in (worker, beat):
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
    assert any(json_lines(worker_log.rest()))
    assert json_lines(beat_log.rest())
    assert list((tmp_path / "var").glob("celerybeat-schedule*"))
