"""Webhook load: BENCH_EVENTS events (default 10,000) delivered to a local receiver.

Starts its own stack on loopback: a fresh PostgreSQL database (created, migrated, dropped), a
Celery worker on Redis consuming the `webhooks` queue, and a receiver (a threaded HTTP server
in this process) that verifies every signature with the Standard Webhooks library and notes
when each event arrived. A producer process (Django) then commits the events one transaction
each, as the services do (each change emits its event in its own transaction; the send is
enqueued on commit), and notes when each committed.

Prints: events delivered, duplicates and bad signatures (both must be 0), the throughput
(events delivered per second, first commit to last arrival), and the time from commit to
arrival (p50/p95/p99/max). The delivery log is checked at the end (every row delivered).

Environment: BENCH_DATABASE_URL (server, default postgres://root@127.0.0.1:5432/postgres),
BENCH_DB_NAME (default bench_webhooks), BENCH_REDIS_URL (default redis://127.0.0.1:6379/12),
BENCH_EVENTS (default 10000), BENCH_WORKER_CONCURRENCY (default 2), BENCH_ENDPOINTS (default 1:
each event goes to every endpoint, all on the same receiver).
"""

import json
import os
import signal
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python")
SERVER_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://root@127.0.0.1:5432/postgres")
DB_NAME = os.environ.get("BENCH_DB_NAME", "bench_webhooks")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
EVENTS = int(os.environ.get("BENCH_EVENTS", "10000"))
CONCURRENCY = int(os.environ.get("BENCH_WORKER_CONCURRENCY", "2"))
ENDPOINTS = int(os.environ.get("BENCH_ENDPOINTS", "1"))
WAIT_SECONDS = 600


def psql(sql, dbname=None):
    import psycopg

    url = SERVER_URL if dbname is None else f"{SERVER_URL.rsplit('/', 1)[0]}/{dbname}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


def django_setup():
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()


def setup(receiver_url):
    """Inside Django: the program and its endpoints; prints their ids and secrets."""
    django_setup()
    from programs.services import program_create
    from webhooks.services import endpoint_create

    program = program_create(slug="bench", name="Bench")
    endpoints = [
        endpoint_create(program=program, url=f"{receiver_url}?endpoint={n}", events=["reward.paid"])
        for n in range(ENDPOINTS)
    ]
    print(
        json.dumps({"program": program.pk, "secrets": [endpoint.secret for endpoint in endpoints]})
    )


def produce(program_id, times_file):
    """Inside Django: EVENTS events, one transaction each; the commit times to `times_file`."""
    django_setup()
    from django.db import transaction

    from foundation.events import REWARD_PAID, event_emit

    committed = []
    for seq in range(EVENTS):
        with transaction.atomic():
            event_emit(
                program_id=program_id,
                type=REWARD_PAID,
                data={"reward_id": seq, "amount": "10.00", "currency": "EUR"},
            )
        committed.append(time.time())
    Path(times_file).write_text(json.dumps(committed))


class Receiver:
    def __init__(self, secrets):
        self.set_secrets(secrets)
        self.arrivals = {}  # (endpoint, seq) -> time
        self.duplicates = 0
        self.bad = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                arrived = time.time()
                body = self.rfile.read(int(self.headers["Content-Length"])).decode()
                endpoint = int(self.path.rsplit("=", 1)[1])
                headers = {key.lower(): value for key, value in self.headers.items()}
                try:
                    event = receiver.hooks[endpoint].verify(body, headers)
                    key = (endpoint, event["data"]["reward_id"])
                    with receiver.lock:
                        if key in receiver.arrivals:
                            receiver.duplicates += 1
                        else:
                            receiver.arrivals[key] = arrived
                except Exception:
                    with receiver.lock:
                        receiver.bad += 1
                self.send_response(204)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def set_secrets(self, secrets):
        from standardwebhooks.webhooks import Webhook

        self.hooks = [Webhook(secret) for secret in secrets]

    @property
    def url(self):
        return f"http://127.0.0.1:{self.server.server_address[1]}/hooks"


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def stop(process):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()


def main():
    db_url = f"{SERVER_URL.rsplit('/', 1)[0]}/{DB_NAME}"
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "REDIS_URL": REDIS_URL,
        "CELERY_BROKER_URL": REDIS_URL,
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("TEST_DATABASE_NAME", None)
    psql(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
    psql(f'CREATE DATABASE "{DB_NAME}"')
    subprocess.run(["redis-cli", "-u", REDIS_URL, "FLUSHDB"], check=False, capture_output=True)
    worker = None
    times_file = Path(f"/tmp/bench-webhooks-{os.getpid()}.json")
    try:
        subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        receiver = Receiver([])
        out = subprocess.run(
            [PY, __file__, "--setup", receiver.url],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        data = json.loads(out.strip().splitlines()[-1])
        receiver.set_secrets(data["secrets"])
        worker = subprocess.Popen(
            [
                str(ROOT / ".venv" / "bin" / "celery"),
                "-A",
                "config",
                "worker",
                "-Q",
                "webhooks",
                "--concurrency",
                str(CONCURRENCY),
                "--loglevel",
                "WARNING",
            ],
            cwd=ROOT,
            env=env,
        )
        time.sleep(5)  # the worker connects to the broker
        expected = EVENTS * ENDPOINTS
        print(
            f"PostgreSQL {DB_NAME}, Redis, Celery worker (-Q webhooks, concurrency "
            f"{CONCURRENCY}); {EVENTS} events, one transaction each, to {ENDPOINTS} endpoint(s)"
        )
        started = time.time()
        subprocess.run(
            [PY, __file__, "--produce", str(data["program"]), str(times_file)],
            cwd=ROOT,
            env=env,
            check=True,
        )
        produced = time.time()
        deadline = produced + WAIT_SECONDS
        while len(receiver.arrivals) < expected and time.time() < deadline:
            time.sleep(0.2)
        committed = json.loads(times_file.read_text())
        arrivals = receiver.arrivals
        delays = [arrived - committed[seq] for (_, seq), arrived in arrivals.items()]
        last = max(arrivals.values()) if arrivals else produced
        print(f"produced (committed) in         {produced - started:8.1f} s")
        print(f"delivered                       {len(arrivals):8d} of {expected}")
        print(f"duplicates, bad signatures      {receiver.duplicates:8d}, {receiver.bad}")
        print(
            f"throughput                      {len(arrivals) / (last - committed[0]):8.1f} events/s"
        )
        if delays:
            print(
                "commit → delivery               "
                f"p50 {percentile(delays, 0.50) * 1000:.0f} ms, "
                f"p95 {percentile(delays, 0.95) * 1000:.0f} ms, "
                f"p99 {percentile(delays, 0.99) * 1000:.0f} ms, "
                f"max {max(delays) * 1000:.0f} ms"
            )
        check = subprocess.run(
            [
                PY,
                "manage.py",
                "shell",
                "--verbosity",
                "0",
                "-c",
                "from webhooks.models import Delivery as D; from django.db.models import Count; "
                "print(dict(D.objects.values_list('status').annotate(Count('id'))))",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        print(f"delivery log by status          {check.stdout.strip() or check.stderr[-300:]}")
    finally:
        if worker is not None:
            stop(worker)
        times_file.unlink(missing_ok=True)
        psql(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


if __name__ == "__main__":
    if sys.argv[1:2] == ["--setup"]:
        setup(sys.argv[2])
    elif sys.argv[1:2] == ["--produce"]:
        produce(int(sys.argv[2]), sys.argv[3])
    else:
        main()
