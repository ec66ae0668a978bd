"""Assignment benchmark (docs/architecture.md): 10,000 advocates brought to quota by 32 concurrent
worker
threads, each with its own database connection, calling codes.services.codes_top_up — beside a
raw SQL claim loop (one UPDATE … WHERE id = (SELECT … FOR UPDATE SKIP LOCKED) per code, 32
threads, same data shape) in the same run.

Runs on its own PostgreSQL database (created, migrated and dropped here). Prints codes claimed
per second for both, their ratio (target ≥ 0.8, median of the runs), claims/s early vs late in
each run (target: the late rate within 15 % of the early one, i.e. no slowdown as claimed rows
pile up) and the number of codes held twice (must be 0).

    .venv/bin/python bench/assign.py [--advocates 10000] [--quota 3] [--threads 32] [--runs 1]

Environment: BENCH_DATABASE_URL (default postgres://root@127.0.0.1:5432/postgres) names the
server; the database bench_assign on it is created and dropped.
"""

import argparse
import os
import statistics
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

SERVER_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://root@127.0.0.1:5432/postgres")
DB_NAME = "bench_assign"
parts = urlsplit(SERVER_URL)
DB_URL = urlunsplit(parts._replace(path=f"/{DB_NAME}"))

RAW_CLAIM = """
UPDATE codes_promocode SET status = 'assigned', holder_id = %(holder)s, assigned_at = now()
WHERE id = (
    SELECT id FROM codes_promocode
    WHERE pool_id = %(pool)s AND status = 'available' AND usage = 'single'
    ORDER BY batch_id, id LIMIT 1 FOR UPDATE SKIP LOCKED
)
RETURNING id
"""


def admin_sql(statement):
    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        conn.execute(statement)


def setup_django():
    os.environ["DATABASE_URL"] = DB_URL
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    os.environ.pop("CELERY_BROKER_URL", None)  # tasks (alert e-mails) run eagerly
    os.environ["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
    os.environ.setdefault("LOG_LEVEL", "WARNING")
    os.environ["DEBUG"] = "0"  # as in production: no per-query log kept in memory
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def make_program(label, advocates, quota, batches=4):
    """A single-use program with `advocates` advocates holding nothing yet and enough codes for
    all of them plus a margin (so no alert fires), spread over a few batches."""
    from codes.models import PromoCode
    from codes.services import pool_get_or_create_referral
    from participants.models import Participant
    from programs.services import program_create
    from tests.factories import BatchFactory

    program = program_create(
        slug=f"bench-{label}-{time.time_ns()}",
        name=f"Bench {label}",
        promo_codes_enabled=True,
        code_usage="single",
        codes_per_advocate=quota,
        low_stock_threshold=100,
        low_stock_recipients="ops@example.com",
    )
    pool = pool_get_or_create_referral(program=program)
    total = advocates * quota + 1000
    per_batch = -(-total // batches)
    n = 0
    for _ in range(batches):
        batch = BatchFactory(pool=pool, usage="single")
        rows = [
            PromoCode(program=program, pool=pool, batch=batch, code=f"B{n + i:09d}", usage="single")
            for i in range(min(per_batch, total - n))
        ]
        PromoCode.objects.bulk_create(rows, batch_size=5000)
        n += len(rows)
    Participant.objects.bulk_create(
        [
            Participant(program=program, participant_id=f"adv-{i}", is_advocate=True)
            for i in range(advocates)
        ],
        batch_size=5000,
    )
    ids = list(
        Participant.objects.filter(program=program).order_by("pk").values_list("pk", flat=True)
    )
    with psycopg.connect(DB_URL, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE codes_promocode")
        conn.execute("VACUUM ANALYZE participants_participant")
    return program, pool, ids


def run_threads(threads, work):
    barrier = threading.Barrier(threads + 1)
    errors = []

    def body(index):
        try:
            barrier.wait()
            work(index)
        except Exception as error:
            errors.append(repr(error))

    pool = [threading.Thread(target=body, args=(i,)) for i in range(threads)]
    for t in pool:
        t.start()
    barrier.wait()
    started = time.perf_counter()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - started
    if errors:
        raise SystemExit(f"{len(errors)} worker errors, first: {errors[0]}")
    return started, elapsed


def rate_between(events, started, lo, hi):
    """Claims/s between the lo and hi fractions of all claims (events: (time, claims))."""
    events = sorted(events)
    total = sum(c for _, c in events)
    done, t_lo, t_hi, n_lo, n_hi = 0, None, None, 0, 0
    for t, c in events:
        done += c
        if t_lo is None and done >= lo * total:
            t_lo, n_lo = t, done
        if t_hi is None and done >= hi * total:
            t_hi, n_hi = t, done
            break
    return (n_hi - n_lo) / (t_hi - t_lo) if t_hi and t_hi > t_lo else float("nan")


def bench_service(advocates, quota, threads):
    from django.db import connection

    from codes.models import CodeStatus, PromoCode
    from codes.services import codes_top_up
    from participants.models import Participant

    program, pool, ids = make_program("service", advocates, quota)
    events = [[] for _ in range(threads)]
    told = {}

    def work(index):
        mine = events[index]
        try:
            for pk in ids[index::threads]:
                advocate = Participant(pk=pk, program_id=program.pk, is_advocate=True)
                claimed = codes_top_up(holder=advocate)
                mine.append((time.perf_counter(), claimed))
                told[pk] = claimed
        finally:
            connection.close()

    started, elapsed = run_threads(threads, work)
    flat = [e for per in events for e in per]
    claimed = sum(c for _, c in flat)
    held = dict.fromkeys(ids, 0)
    rows = PromoCode.objects.filter(pool=pool, holder__isnull=False, status=CodeStatus.ASSIGNED)
    for holder_id in rows.values_list("holder_id", flat=True):
        held[holder_id] += 1
    # A code handed to two advocates shows as a claim some advocate was told of but does not hold.
    held_twice = sum(max(0, told.get(pk, 0) - held[pk]) for pk in ids)
    at_quota = sum(1 for n in held.values() if n == quota)
    return {
        "claimed": claimed,
        "elapsed": elapsed,
        "rate": claimed / elapsed,
        "early": rate_between(flat, started, 0.1, 0.3),
        "late": rate_between(flat, started, 0.7, 0.9),
        "held_twice": held_twice,
        "at_quota": at_quota,
    }


def bench_raw(advocates, quota, threads):
    _program, pool, ids = make_program("raw", advocates, quota)
    events = [[] for _ in range(threads)]
    claimed_ids = [[] for _ in range(threads)]

    def work(index):
        mine, got = events[index], claimed_ids[index]
        with psycopg.connect(DB_URL, autocommit=True) as conn:
            for pk in ids[index::threads]:
                for _ in range(quota):
                    row = conn.execute(RAW_CLAIM, {"holder": pk, "pool": pool.pk}).fetchone()
                    if row:
                        got.append(row[0])
                        mine.append((time.perf_counter(), 1))

    started, elapsed = run_threads(threads, work)
    flat = [e for per in events for e in per]
    all_ids = [i for per in claimed_ids for i in per]
    return {
        "claimed": len(all_ids),
        "elapsed": elapsed,
        "rate": len(all_ids) / elapsed,
        "early": rate_between(flat, started, 0.1, 0.3),
        "late": rate_between(flat, started, 0.7, 0.9),
        "held_twice": len(all_ids) - len(set(all_ids)),
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--advocates", type=int, default=10_000)
    parser.add_argument("--quota", type=int, default=3, help="codes per advocate (single-use)")
    parser.add_argument("--threads", type=int, default=32)
    parser.add_argument("--runs", type=int, default=1)
    args = parser.parse_args()

    admin_sql(f"DROP DATABASE IF EXISTS {DB_NAME}")
    admin_sql(f"CREATE DATABASE {DB_NAME}")
    try:
        setup_django()
        print(
            f"Assignment: {args.advocates:,} advocates × {args.quota} single-use codes, "
            f"{args.threads} threads, PostgreSQL {DB_URL.rsplit('@', 1)[-1]}"
        )
        ratios = []
        for run in range(1, args.runs + 1):
            svc = bench_service(args.advocates, args.quota, args.threads)
            raw = bench_raw(args.advocates, args.quota, args.threads)
            ratio = svc["rate"] / raw["rate"]
            ratios.append(ratio)
            print(f"run {run}:")
            print(
                f"  codes_top_up   {svc['claimed']:>7,} codes in {svc['elapsed']:6.1f} s = "
                f"{svc['rate']:8,.0f} claims/s  (early {svc['early']:,.0f}/s, "
                f"late {svc['late']:,.0f}/s)  held twice: {svc['held_twice']}  "
                f"advocates at quota: {svc['at_quota']:,}/{args.advocates:,}"
            )
            print(
                f"  raw SQL loop   {raw['claimed']:>7,} codes in {raw['elapsed']:6.1f} s = "
                f"{raw['rate']:8,.0f} claims/s  (early {raw['early']:,.0f}/s, "
                f"late {raw['late']:,.0f}/s)  held twice: {raw['held_twice']}"
            )
            print(
                f"  ratio service/raw: {ratio:.2f} (target ≥ 0.8); service late/early: "
                f"{svc['late'] / svc['early']:.2f} (target ≥ 0.85)"
            )
        print(f"Assignment: median ratio {statistics.median(ratios):.2f} over {len(ratios)} run(s)")
    finally:
        from django.db import connections

        connections.close_all()
        admin_sql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


if __name__ == "__main__":
    main()
