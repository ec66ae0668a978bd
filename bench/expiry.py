"""Benchmark: announcing expired codes (code.expired) against the bare claim, and what the
index of codes still to announce costs an import that gives its codes an expiry.

Each run, on the same PostgreSQL database and the same BENCH_CODES codes (default 200,000,
all expired at once):

- floor: the bare claim, chunk by chunk in its own transaction (`UPDATE … WHERE id IN (SELECT
  … ORDER BY expires_at, id LIMIT 1000 FOR UPDATE SKIP LOCKED)`), no event;
- none: `codes_expired_announce` with no endpoint (the claim, the mark, one indexed lookup);
- 1 endpoint: the same with an endpoint subscribed (the events built and the outbox rows
  written; their sending, asynchronous, is left out);
- the import's UPDATE giving every code its expiry (what a batch with an expiry does when it
  lands), with the index promocode_expiry_unannounced and without it.

Prints each run, then the medians and the ratios against the floor (and with the index against
without), with the codes announced per second.

    .venv/bin/python bench/expiry.py [--codes N] [--runs N]

BENCH_DATABASE_URL (default postgres://root@127.0.0.1:5432/postgres) names the server; the
benchmark creates and finally drops its own database (BENCH_DB_NAME, default bench_events).
"""

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
PYTHON = sys.executable
SERVER_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://root@127.0.0.1:5432/postgres")
DB_NAME = os.environ.get("BENCH_DB_NAME", "bench_events")
CHUNK = 1000


def with_db(url, name):
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def psql(url, *args):
    subprocess.run(["psql", url, "-q", "-v", "ON_ERROR_STOP=1", *args], check=True)


def child(codes: int, runs: int) -> None:
    """Inside Django, on the benchmark's database."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.db import connection

    import webhooks.services
    from codes.models import CodeStatus, PromoCode
    from codes.services import codes_expired_announce, pool_get_or_create_referral
    from programs.services import program_create
    from webhooks.services import endpoint_create

    # The outbox rows are written; their sending (a task after commit) is not measured.
    webhooks.services.enqueue_on_commit = lambda *args, **kwargs: None
    program = program_create(slug="bench", name="Bench")
    pool = pool_get_or_create_referral(program=program)
    table = PromoCode._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (program_id, pool_id, code, usage, source, status, "
            "redemption_count, redeemed_order_id, created_at) "
            "SELECT %s, %s, 'X' || lpad(n::text, 8, '0'), 'single', 'pool', 'available', 0, '', "
            "now() FROM generate_series(1, %s) n",
            [program.pk, pool.pk, codes],
        )
        cursor.execute(f"ANALYZE {table}")

    def execute(sql, params=()):
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.rowcount

    def expire_all():
        execute(
            f"UPDATE {table} SET expires_at = now() - interval '1 minute', "
            "expired_notified_at = NULL"
        )
        execute(f"VACUUM ANALYZE {table}")

    def timed(work):
        start = time.perf_counter()
        work()
        return time.perf_counter() - start

    def floor():
        statuses = [CodeStatus.AVAILABLE, CodeStatus.ASSIGNED]
        while execute(
            f"UPDATE {table} SET expired_notified_at = now() WHERE id IN (SELECT id FROM {table} "
            "WHERE expires_at <= now() AND expired_notified_at IS NULL AND status = ANY(%s) "
            "ORDER BY expires_at, id LIMIT %s FOR UPDATE SKIP LOCKED)",
            [statuses, CHUNK],
        ):
            pass

    def announce():
        while codes_expired_announce(chunk_size=CHUNK).more:
            pass

    def import_expiry():
        execute(f"UPDATE {table} SET expires_at = now() + interval '30 days'")

    rows = {"floor": [], "none": [], "1 endpoint": [], "import, index": [], "import, none": []}
    endpoint = None
    print(f"{codes:,} codes expiring at once; chunks of {CHUNK:,}; {runs} runs")
    for run in range(1, runs + 1):
        expire_all()
        rows["floor"].append(timed(floor))
        expire_all()
        rows["none"].append(timed(announce))
        endpoint = endpoint or endpoint_create(
            program=program, url="http://127.0.0.1:9/", events=["code.expired"]
        )
        endpoint.enabled = True
        endpoint.save()
        expire_all()
        rows["1 endpoint"].append(timed(announce))
        endpoint.enabled = False
        endpoint.save()
        execute("TRUNCATE webhooks_delivery")
        execute(f"UPDATE {table} SET expires_at = NULL, expired_notified_at = NULL")
        execute(f"VACUUM ANALYZE {table}")
        rows["import, index"].append(timed(import_expiry))
        execute("DROP INDEX promocode_expiry_unannounced")
        execute(f"UPDATE {table} SET expires_at = NULL")
        execute(f"VACUUM ANALYZE {table}")
        rows["import, none"].append(timed(import_expiry))
        execute(
            f"CREATE INDEX promocode_expiry_unannounced ON {table} (expires_at, id) "
            "WHERE expires_at IS NOT NULL AND expired_notified_at IS NULL "
            "AND status IN ('available', 'assigned')"
        )
        print(
            f"run {run}: " + ", ".join(f"{name} {times[-1]:.2f} s" for name, times in rows.items())
        )
    median = {name: statistics.median(times) for name, times in rows.items()}
    load = os.getloadavg()
    print(f"median (load average {load[0]:.2f}):")
    for name in ("floor", "none", "1 endpoint"):
        print(
            f"  {name}: {median[name]:.2f} s, {codes / median[name]:,.0f} codes/s, "
            f"×{median[name] / median['floor']:.2f} of the floor"
        )
    print(
        f"  the import's expiry UPDATE: {median['import, index']:.2f} s with the index, "
        f"{median['import, none']:.2f} s without, "
        f"×{median['import, index'] / median['import, none']:.2f}"
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--codes", type=int, default=int(os.environ.get("BENCH_CODES", 200_000)))
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    options = parser.parse_args()
    if options.child:
        child(options.codes, options.runs)
        return
    db_url = with_db(SERVER_URL, DB_NAME)
    env = {**os.environ, "DATABASE_URL": db_url, "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("CELERY_BROKER_URL", None)
    psql(SERVER_URL, "-c", f"DROP DATABASE IF EXISTS {DB_NAME}", "-c", f"CREATE DATABASE {DB_NAME}")
    try:
        subprocess.run(
            [PYTHON, "manage.py", "migrate", "--noinput", "-v0"], cwd=ROOT, env=env, check=True
        )
        subprocess.run(
            [
                PYTHON,
                __file__,
                "--child",
                "--codes",
                str(options.codes),
                "--runs",
                str(options.runs),
            ],
            cwd=ROOT,
            env=env,
            check=True,
        )
    finally:
        psql(SERVER_URL, "-c", f"DROP DATABASE IF EXISTS {DB_NAME}")


if __name__ == "__main__":
    main()
