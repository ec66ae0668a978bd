"""Does the audit trail cost the hot paths anything? Times 10,000 `codes_top_up` calls and a
200,000-code `import_codes` on PostgreSQL in two checkouts (one with the audit trail, one
without), alternating runs in one session, and counts the audit rows each writes and the SQL
statements each sends (a count no neighbour's load can blur, unlike the times).

    git archive main | (mkdir -p /tmp/base && tar -x -C /tmp/base)
    .venv/bin/python scripts/measure_audit_overhead.py --without /tmp/base [--with DIR] [--runs 3]

`--with` defaults to this checkout. Both run on this checkout's virtualenv.

MEASURE_DATABASE_URL (default postgres://root@127.0.0.1:5432/postgres) names the server; each
run creates and drops its own database, measure_audit. A measurement, not a test: the shared
machines are noisy, so it prints every run and the medians.
"""

import argparse
import io
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
SERVER_URL = os.environ.get("MEASURE_DATABASE_URL", "postgres://root@127.0.0.1:5432/postgres")
DB_NAME = "measure_audit"
ADVOCATES = 10_000
IMPORT_ROWS = 200_000
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def with_db(url, name):
    return urlunsplit(urlsplit(url)._replace(path=f"/{name}"))


def psql(*sql):
    for statement in sql:
        subprocess.run(
            ["psql", SERVER_URL, "-q", "-v", "ON_ERROR_STOP=1", "-c", statement],
            check=True,
            capture_output=True,
        )


def worker(codes_file):
    """Runs inside a checkout (its directory first on sys.path): set up, time, report JSON."""
    import django

    django.setup()
    from django.apps import apps
    from django.core.management import call_command
    from django.db import connection

    from codes.models import Batch, BatchSource, PromoCode
    from codes.services import codes_top_up, referral_pool_of
    from participants.models import Participant
    from programs.services import program_create

    call_command("migrate", verbosity=0)
    program = program_create(
        slug="measure", name="Measure", promo_codes_enabled=True, code_usage="single"
    )
    pool = referral_pool_of(program)
    batch = Batch.objects.create(pool=pool, source=BatchSource.IMPORT, usage="single")
    PromoCode.objects.bulk_create(
        PromoCode(program=program, pool=pool, batch=batch, code=f"S{i:07d}", usage="single")
        for i in range(ADVOCATES)
    )
    Participant.objects.bulk_create(
        Participant(program=program, participant_id=f"adv-{i}", is_advocate=True)
        for i in range(ADVOCATES)
    )
    advocates = list(Participant.objects.filter(program=program).order_by("pk"))

    def audit_rows():
        if not apps.is_installed("audit"):
            return None
        return apps.get_model("audit", "AuditEntry").objects.count()

    statements = [0]

    def count(execute, sql, params, many, context):
        statements[0] += 1
        return execute(sql, params, many, context)

    before = audit_rows()
    started, cpu = time.perf_counter(), time.process_time()
    with connection.execute_wrapper(count):
        for advocate in advocates:
            codes_top_up(holder=advocate)
    top_up = (time.perf_counter() - started, time.process_time() - cpu, statements[0])
    after_top_up = audit_rows()
    assert PromoCode.objects.filter(holder__isnull=False).count() == ADVOCATES

    statements[0] = 0
    started, cpu = time.perf_counter(), time.process_time()
    with connection.execute_wrapper(count):
        call_command("import_codes", "--program", "measure", codes_file, stdout=io.StringIO())
    imported = (time.perf_counter() - started, time.process_time() - cpu, statements[0])
    after_import = audit_rows()
    assert PromoCode.objects.count() == ADVOCATES + IMPORT_ROWS
    print(
        json.dumps(
            {
                "top_up_seconds": top_up[0],
                "top_up_cpu_seconds": top_up[1],
                "top_up_statements": top_up[2],
                "import_seconds": imported[0],
                "import_cpu_seconds": imported[1],
                "import_statements": imported[2],
                "audit_rows_top_up": None if before is None else after_top_up - before,
                "audit_rows_import": None if before is None else after_import - after_top_up,
            }
        )
    )


def run(checkout, codes_file):
    psql(f"DROP DATABASE IF EXISTS {DB_NAME}", f"CREATE DATABASE {DB_NAME}")
    try:
        env = {
            **os.environ,
            "DATABASE_URL": with_db(SERVER_URL, DB_NAME),
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "PYTHONPATH": str(checkout),
            "LOG_LEVEL": "WARNING",
        }
        env.pop("CELERY_BROKER_URL", None)
        env.pop("REDIS_URL", None)
        out = subprocess.run(
            [sys.executable, __file__, "--worker", codes_file],
            cwd=checkout,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        return json.loads(out.strip().splitlines()[-1])
    finally:
        psql(f"DROP DATABASE IF EXISTS {DB_NAME}")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--without", help="A checkout without the audit trail (e.g. main).")
    parser.add_argument("--with", dest="with_", default=str(ROOT), help="One with it.")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--worker", metavar="CODES_FILE")
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker)
    sides = {"with": Path(args.with_), "without": Path(args.without)}
    with tempfile.NamedTemporaryFile("w", suffix=".csv", delete=False) as handle:
        rng = random.Random(13)
        handle.write("code\n")
        for i in range(IMPORT_ROWS):
            handle.write(f"I{i:07d}{''.join(rng.choice(ALPHABET) for _ in range(6))}\n")
    results = {side: [] for side in sides}
    try:
        for n in range(args.runs):
            order = ["without", "with"] if n % 2 == 0 else ["with", "without"]
            for side in order:
                result = run(sides[side], handle.name)
                results[side].append(result)
                print(f"run {n + 1} {side:>7}: {json.dumps(result)}", flush=True)
    finally:
        os.unlink(handle.name)
    print(f"medians of {args.runs} runs ({ADVOCATES:,} top-ups; {IMPORT_ROWS:,}-code import):")
    for side, runs in results.items():

        def median(key, runs=runs):
            return statistics.median(r[key] for r in runs)

        last = runs[-1]
        print(
            f"  {side:>7}: codes_top_up ×{ADVOCATES:,} {median('top_up_seconds'):6.1f} s wall, "
            f"{median('top_up_cpu_seconds'):5.1f} s CPU, {last['top_up_statements']:,} "
            f"statements; import_codes {median('import_seconds'):5.1f} s wall, "
            f"{median('import_cpu_seconds'):5.1f} s CPU, {last['import_statements']:,} "
            f"statements; audit rows (top-ups, import): "
            f"{last['audit_rows_top_up']}, {last['audit_rows_import']}"
        )


if __name__ == "__main__":
    main()
