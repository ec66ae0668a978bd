"""Starting the project in fresh processes, with a clean environment, as on a new machine."""

import os
import queue
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
BIN = Path(PYTHON).parent
# None of the project's variables leak in from the developer's shell.
PROJECT_VARS = {
    "DATABASE_URL",
    "REDIS_URL",
    "CELERY_BROKER_URL",
    "DJANGO_ENV",
    "DEBUG",
    "SECRET_KEY",
    "ALLOWED_HOSTS",
    "DJANGO_SETTINGS_MODULE",
    "EMAIL_HOST",
    "TEST_DATABASE_NAME",
    "REQUIRE_SERVICES",
    "SITE_URL",
    "LOG_FORMAT",
    "LOG_LEVEL",
    "METRICS_ENABLED",
    "METRICS_ALLOWED_IPS",
    "METRICS_CACHE_SECONDS",
    "PROMETHEUS_MULTIPROC_DIR",
    "SENTRY_DSN",
    "WEB_CONCURRENCY",
    "PORT",
    "GUNICORN_CMD_ARGS",
}


def clean_env(tmp_path, **extra):
    env = {k: v for k, v in os.environ.items() if k not in PROJECT_VARS}
    env["VAR_DIR"] = str(tmp_path / "var")
    env["PATH"] = f"{BIN}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


def free_port():
    """A local port nothing listens on (bound, then released): closed until someone binds it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def fetch(url, headers=None):
    request = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(request, timeout=10) as response:
        return response.status, response.read()


def wait_until_serving(url, server, seconds=120):
    """The first answer at `url`; on a busy machine workers may take a while to boot."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if server.poll() is not None:
            break
        try:
            return fetch(url)
        except OSError:
            time.sleep(0.2)
    out, err = stop(server, seconds=10)
    raise AssertionError(
        f"nothing answered at {url} within {seconds} s (exit {server.returncode}):\n{out}\n{err}"
    )


def procfile():
    """{process type: command} of the Procfile."""
    entries = {}
    for line in (ROOT / "Procfile").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            name, _, command = line.partition(":")
            entries[name.strip()] = command.strip()
    return entries


class LineReader:
    """Reads a process's stream line by line in a thread, so a test can wait for one line."""

    def __init__(self, stream):
        self.lines = []
        self._queue = queue.Queue()
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream):
        for line in iter(stream.readline, ""):
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def wait_for(self, predicate, seconds=60):
        deadline = time.monotonic() + seconds
        while (left := deadline - time.monotonic()) > 0:
            try:
                line = self._queue.get(timeout=left)
            except queue.Empty:
                break
            if line is None:
                break
            self.lines.append(line)
            if predicate(line):
                return line
        raise AssertionError("line not seen; got:\n" + "\n".join(self.lines))

    def rest(self):
        self._thread.join(timeout=30)
        while (line := self._queue.get_nowait() if not self._queue.empty() else None) is not None:
            self.lines.append(line)
        return self.lines


def start(command, env):
    """Start a Procfile command as a Procfile runner does (through the shell, which `exec`s it,
    so that signals reach the process itself)."""
    return subprocess.Popen(
        ["/bin/sh", "-c", f"exec {command}"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(process, seconds=60):
    """SIGTERM (a graceful stop), then SIGKILL if it is still there after `seconds`."""
    process.terminate()
    try:
        return process.communicate(timeout=seconds)
    except subprocess.TimeoutExpired:
        process.kill()
        return process.communicate()
