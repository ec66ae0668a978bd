"""The embedded default and the production profile, each in a fresh interpreter."""

import subprocess
import time
from pathlib import Path

import pytest

from tests.config.processes import PYTHON, ROOT, clean_env, fetch, free_port


def settings_value(tmp_path, expression, **extra):
    code = (
        "import django, os; os.environ.setdefault('DJANGO_SETTINGS_MODULE','config.settings');"
        f"from django.conf import settings; print({expression})"
    )
    return subprocess.run(
        [PYTHON, "-c", code],
        cwd=ROOT,
        env=clean_env(tmp_path, **extra),
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_no_environment_means_sqlite_eager_tasks_file_outbox_and_debug(tmp_path):
    result = settings_value(
        tmp_path,
        "settings.DATABASES['default']['ENGINE'], settings.CELERY_TASK_ALWAYS_EAGER, "
        "settings.EMAIL_BACKEND, settings.DEBUG, settings.ALLOWED_HOSTS[0]",
    )
    assert result.returncode == 0, result.stderr
    assert "sqlite3" in result.stdout
    assert "True" in result.stdout and "filebased" in result.stdout
    assert "127.0.0.1" in result.stdout


def test_database_and_broker_come_from_the_environment(tmp_path):
    result = settings_value(
        tmp_path,
        "settings.DATABASES['default']['ENGINE'], settings.CELERY_TASK_ALWAYS_EAGER",
        DATABASE_URL="postgres://someone@db.internal:5432/shop",
        CELERY_BROKER_URL="redis://127.0.0.1:6379/0",
    )
    assert result.returncode == 0, result.stderr
    assert "postgresql" in result.stdout and "False" in result.stdout


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"DEBUG": "true", "SECRET_KEY": "x" * 50}, "DEBUG on"),
        ({}, "SECRET_KEY"),
        ({"SECRET_KEY": "short"}, "SECRET_KEY"),
    ],
)
def test_production_refuses_debug_or_the_default_secret_key(tmp_path, extra, message):
    result = settings_value(tmp_path, "settings.DEBUG", DJANGO_ENV="production", **extra)
    assert result.returncode != 0
    assert message in result.stderr


def test_production_starts_with_a_real_secret_key(tmp_path):
    result = settings_value(
        tmp_path,
        "settings.DEBUG",
        DJANGO_ENV="production",
        SECRET_KEY="k" * 50,
        ALLOWED_HOSTS="shop.example",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"


def test_gunicorn_serves_the_admin_and_static_files_with_no_environment(tmp_path):
    env = clean_env(tmp_path)
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
    )
    port = free_port()
    gunicorn = Path(PYTHON).with_name("gunicorn")
    server = subprocess.Popen(
        [str(gunicorn), "config.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", "1"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):
            try:
                status, page = fetch(f"{base}/admin/login/")
                break
            except OSError:
                time.sleep(0.2)
        else:
            pytest.fail("gunicorn did not answer: " + server.stderr.read1().decode())
        assert status == 200 and b"Referral promo codes" in page
        status, css = fetch(f"{base}/static/admin/css/base.css")
        assert status == 200 and b"body" in css
    finally:
        server.terminate()
        server.wait(timeout=10)
