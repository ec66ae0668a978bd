"""Benchmark: the program manager's console pages with 1,000,000 codes in the program (target
≤ 300 ms each): the admin index (its stock dashboard), the program's stock page and the code list.

Builds one program on PostgreSQL with 1,000,000 referral codes in 10 batches (850,000 available,
150,000 handed out over the last 30 days to 50,000 advocates, 10,000 of them redeemed, 5,000
voided), a fuel tank of 20,000 codes, 500 advocates short of codes, and a second program the
manager does not manage. VACUUM ANALYZE afterwards, as autovacuum would. Then renders each page
through Django's test client as a logged-in program manager (never a superuser: the scoping is
part of the cost): warm-up requests, then the median of --runs requests. In the same run it
times a raw SELECT of the same counts (each pool's codes per status, exactly, as `psql` would
count them, and the advocates short of codes) and prints each page's ratio to it. It also
prints the plan of the stock page's use-per-day query, to show which index serves it.

    flock /tmp/bench.lock .venv/bin/python bench/admin_pages.py [--codes N] [--runs N] [--keep]

BENCH_DATABASE_URL (default postgres://root@127.0.0.1:5432/postgres) names the server; the
benchmark creates and finally drops its own database, bench_admin_pages (--keep leaves it).
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
SERVER_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://root@127.0.0.1:5432/postgres")
DB_NAME = "bench_admin_pages"
ADVOCATES = 50_000
PER_ADVOCATE = 3
REDEEMED = 10_000
VOIDED = 5_000
TANK_CODES = 20_000
SHORT = 500
BATCHES = 10
WARMUP = 3


def psql(*args, url=SERVER_URL):
    subprocess.run(["psql", url, "-q", "-v", "ON_ERROR_STOP=1", *args], check=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--codes", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    options = parser.parse_args()

    psql("-c", f"DROP DATABASE IF EXISTS {DB_NAME}", "-c", f"CREATE DATABASE {DB_NAME}")
    db_url = urlunsplit(urlsplit(SERVER_URL)._replace(path=f"/{DB_NAME}"))
    os.environ["DATABASE_URL"] = db_url
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    try:
        run_benchmark(options, db_url)
    finally:
        from django.db import connections

        connections.close_all()
        if not options.keep:
            psql("-c", f"DROP DATABASE IF EXISTS {DB_NAME}")


def build(total_codes, db_url):
    """The program, its pools, batches, advocates and codes; returns (program, manager)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Permission
    from django.db import connection
    from django.utils import timezone

    from codes.models import Batch, BatchSource, CodeShortfall, Pool, PromoCode
    from codes.services import pool_create_fuel_tank, pool_get_or_create_referral
    from participants.models import Participant
    from programs.models import CodeUsage, Program

    program = Program.objects.create(
        slug="big",
        name="Big Shop",
        promo_codes_enabled=True,
        code_usage=CodeUsage.SINGLE,
        codes_per_advocate=PER_ADVOCATE,
        low_stock_threshold=1000,
    )
    other = Program.objects.create(slug="other", name="Other Shop", promo_codes_enabled=True)
    referral = pool_get_or_create_referral(program=program)
    tank = pool_create_fuel_tank(program=program, name="Thank-you codes")
    pool_get_or_create_referral(program=other)
    batches = [
        Batch.objects.create(
            pool=referral,
            source=BatchSource.IMPORT,
            usage=CodeUsage.SINGLE,
            status="completed",
            file_name=f"codes-{n}.csv",
            rows_read=total_codes // BATCHES,
            codes_added=total_codes // BATCHES,
        )
        for n in range(BATCHES)
    ]
    tank_batch = Batch.objects.create(
        pool=tank, source=BatchSource.IMPORT, usage=CodeUsage.SINGLE, status="completed"
    )
    now = timezone.now()
    Participant.objects.bulk_create(
        (
            Participant(
                program=program,
                participant_id=f"adv-{n:06d}",
                email=f"adv-{n}@example.com",
                is_advocate=True,
            )
            for n in range(ADVOCATES + SHORT)
        ),
        batch_size=5000,
    )
    first_participant = Participant.objects.filter(program=program).order_by("pk").first().pk
    handed_out = ADVOCATES * PER_ADVOCATE
    per_batch = total_codes // BATCHES
    codes = PromoCode._meta.db_table
    with connection.cursor() as cursor:
        # Codes 1..handed_out go to advocates (3 each, spread over the last 30 days), the first
        # REDEEMED of them redeemed; the next VOIDED are voided; the rest are available.
        cursor.execute(
            f"""
            INSERT INTO {codes} (program_id, pool_id, batch_id, code, usage, source, status,
                holder_id, assigned_at, redeemed_at, redemption_count, redeemed_order_id,
                voided_at, created_at, void_reason)
            SELECT %(program)s, %(pool)s, %(first_batch)s + (g - 1) / %(per_batch)s,
                'BIG' || lpad(g::text, 8, '0'), 'single', 'pool',
                CASE WHEN g <= %(redeemed)s THEN 'redeemed'
                     WHEN g <= %(handed)s THEN 'assigned'
                     WHEN g <= %(handed)s + %(voided)s THEN 'voided'
                     ELSE 'available' END,
                CASE WHEN g <= %(handed)s THEN %(first_participant)s + (g - 1) / 3 END,
                CASE WHEN g <= %(handed)s
                     THEN %(now)s - ((g %% 30) || ' days')::interval
                          - ((g %% 1440) || ' minutes')::interval END,
                CASE WHEN g <= %(redeemed)s THEN %(now)s END,
                CASE WHEN g <= %(redeemed)s THEN 1 ELSE 0 END,
                CASE WHEN g <= %(redeemed)s THEN 'order-' || g ELSE '' END,
                CASE WHEN g > %(handed)s AND g <= %(handed)s + %(voided)s THEN %(now)s END,
                %(now)s, ''
            FROM generate_series(1, %(total)s) AS g
            """,
            {
                "program": program.pk,
                "pool": referral.pk,
                "first_batch": batches[0].pk,
                "per_batch": per_batch,
                "redeemed": REDEEMED,
                "handed": handed_out,
                "voided": VOIDED,
                "first_participant": first_participant,
                "now": now,
                "total": total_codes,
            },
        )
        cursor.execute(
            f"""
            INSERT INTO {codes} (program_id, pool_id, batch_id, code, usage, source, status,
                redemption_count, redeemed_order_id, created_at, void_reason)
            SELECT %s, %s, %s, 'TANK' || lpad(g::text, 8, '0'), 'single', 'pool', 'available',
                0, '', %s, ''
            FROM generate_series(1, %s) AS g
            """,
            [program.pk, tank.pk, tank_batch.pk, now, TANK_CODES],
        )
    short = Participant.objects.filter(program=program).order_by("-pk")[:SHORT]
    CodeShortfall.objects.bulk_create(
        CodeShortfall(holder=p, program=program, since=now) for p in short
    )
    psql("-c", f"VACUUM ANALYZE {codes}", url=db_url)
    manager = get_user_model().objects.create_user(
        "manager", "manager@example.com", "bench", is_staff=True
    )
    try:
        from django.core.management import call_command

        call_command("create_manager", "manager", "--program", program.slug, verbosity=0)
    except Exception:  # no create_manager command here: the permissions a manager needs
        manager.user_permissions.add(
            *Permission.objects.filter(
                content_type__app_label__in=["codes", "programs", "participants"],
                codename__startswith="view_",
            ),
            *Permission.objects.filter(codename__in=["add_batch", "change_program"]),
        )
        program.managers.add(manager)
    assert Pool.objects.filter(program=program).count() == 2
    return program, manager


def median_ms(fn, runs):
    for _ in range(WARMUP):
        fn()
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times), times


def run_benchmark(options, db_url):
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.urls import reverse

    from codes.models import Pool, PromoCode

    setup_test_environment(debug=False)
    call_command("migrate", "--noinput", verbosity=0)
    started = time.perf_counter()
    program, manager = build(options.codes, db_url)
    print(
        f"built {options.codes:,} codes + {TANK_CODES:,} in a fuel tank, "
        f"{ADVOCATES + SHORT:,} advocates in {time.perf_counter() - started:.0f} s"
    )
    client = Client()
    client.force_login(manager)
    pages = {
        "admin index": reverse("admin:index"),
        "stock page": reverse("admin:codes_program_stock", args=[program.pk]),
        "code list": reverse("admin:codes_promocode_changelist"),
    }

    pools = list(Pool.objects.filter(program=program).values_list("pk", flat=True))
    codes = PromoCode._meta.db_table

    def raw_counts():
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT pool_id, status, count(*) FROM {codes} WHERE pool_id = ANY(%s) "
                "GROUP BY pool_id, status",
                [pools],
            )
            cursor.fetchall()
            cursor.execute(
                "SELECT count(*) FROM codes_codeshortfall WHERE program_id = %s", [program.pk]
            )
            cursor.fetchone()

    raw_ms, _ = median_ms(raw_counts, options.runs)
    print(f"raw SELECT of the same counts (exact, every status of both pools): {raw_ms:.1f} ms")
    for name, url in pages.items():

        def get(url=url):
            response = client.get(url)
            assert response.status_code == 200, (url, response.status_code)

        ms, times = median_ms(get, options.runs)
        spread = f"min {min(times):.0f}, max {max(times):.0f}"
        print(
            f"{name:12} {url:34} median {ms:6.1f} ms ({spread}) ratio to the raw counts "
            f"{ms / raw_ms:.2f}  {'met' if ms <= 300 else 'MISSED'} (≤ 300 ms)"
        )
    from datetime import timedelta

    from django.utils import timezone

    from codes.selectors import STOCK_CHART_DAYS, use_per_day_rows

    since = timezone.now() - timedelta(days=STOCK_CHART_DAYS)
    plan = use_per_day_rows(pool_ids=pools, since=since).explain().splitlines()
    print("use-per-day query plan:")
    for line in plan:
        print("   ", line)


if __name__ == "__main__":
    main()
