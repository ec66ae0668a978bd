"""Benchmark: the code manager (admin codes list) on 1,000,000 codes and 100,000 advocates.

For each search the list answers — none, a code's first characters (typed in lower case), an
advocate's participant id, an advocate's e-mail in another case — it prints the index
PostgreSQL uses (EXPLAIN ANALYZE of the page's query), the whole page's time through the real
admin view (Django's test client, a logged-in superuser), and the raw database time of the
same page query for the ratio.

    .venv/bin/python bench/code_manager.py [--codes N] [--advocates N] [--runs N]

BENCH_DATABASE_URL (default postgres://root@127.0.0.1:5432/postgres) names the server; the
benchmark creates and finally drops its own database, bench_code_manager. Codes and advocates
are written by SQL (generate_series), not through the import, to keep the set-up short.
"""

import argparse
import os
import re
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
SERVER_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://root@127.0.0.1:5432/postgres")
DB_NAME = "bench_code_manager"


def psql(*args):
    subprocess.run(["psql", SERVER_URL, "-q", "-v", "ON_ERROR_STOP=1", *args], check=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--codes", type=int, default=1_000_000)
    parser.add_argument("--advocates", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=5)
    options = parser.parse_args()

    psql("-c", f"DROP DATABASE IF EXISTS {DB_NAME}", "-c", f"CREATE DATABASE {DB_NAME}")
    os.environ["DATABASE_URL"] = urlunsplit(urlsplit(SERVER_URL)._replace(path=f"/{DB_NAME}"))
    os.environ.pop("CELERY_BROKER_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(ROOT))
    try:
        run_benchmark(options)
    finally:
        from django.db import connections

        connections.close_all()
        psql("-c", f"DROP DATABASE IF EXISTS {DB_NAME}")


def fill(program, codes, advocates):
    """`codes` codes in the program's referral pool, the first `advocates` held by one advocate
    each (participant id adv-N, e-mail AdvN@Example.com)."""
    from django.db import connection

    from codes.models import Batch, BatchSource, BatchStatus
    from codes.services import pool_get_or_create_referral

    pool = pool_get_or_create_referral(program=program)
    batch = Batch.objects.create(
        pool=pool,
        source=BatchSource.GENERATED,
        usage=program.code_usage,
        status=BatchStatus.COMPLETED,
        codes_added=codes,
    )
    with connection.cursor() as cursor:
        cursor.execute(
            "INSERT INTO codes_promocode (program_id, pool_id, batch_id, code, usage, source, "
            "status, redemption_count, redeemed_order_id) "
            "SELECT %s, %s, %s, upper(substr(md5(i::text), 1, 12)), %s, 'pool', 'available', 0, '' "
            "FROM generate_series(1, %s) i",
            [program.pk, pool.pk, batch.pk, program.code_usage, codes],
        )
        cursor.execute(
            "INSERT INTO participants_participant (program_id, participant_id, email, first_name, "
            "last_name, account_id, is_advocate, is_blocked, created_at, updated_at) "
            "SELECT %s, 'adv-' || i, 'Adv' || i || '@Example.com', '', '', '', true, false, "
            "now(), now() FROM generate_series(1, %s) i",
            [program.pk, advocates],
        )
        cursor.execute(
            "WITH pairs AS (SELECT p.id AS holder, c.id AS code FROM "
            "(SELECT id, row_number() OVER (ORDER BY id) n FROM participants_participant) p "
            "JOIN (SELECT id, row_number() OVER (ORDER BY id) n FROM codes_promocode "
            "WHERE program_id = %s) c USING (n)) "
            "UPDATE codes_promocode SET holder_id = pairs.holder, status = 'assigned', "
            "assigned_at = now() FROM pairs WHERE codes_promocode.id = pairs.code",
            [program.pk],
        )
        cursor.execute("ANALYZE")


def run_benchmark(options):
    import django

    django.setup()
    from django.contrib.admin.sites import site
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client, RequestFactory

    from codes.models import PromoCode
    from programs.models import CodeUsage, Program

    call_command("migrate", verbosity=0)
    program = Program.objects.create(
        slug="bench", name="Bench", promo_codes_enabled=True, code_usage=CodeUsage.SINGLE
    )
    started = time.perf_counter()
    fill(program, options.codes, options.advocates)
    print(
        f"{options.codes:,} codes, {options.advocates:,} advocates written in "
        f"{time.perf_counter() - started:.0f} s"
    )

    user = get_user_model().objects.create_superuser("bench", "bench@example.com", "pw")
    client = Client()
    client.force_login(user)
    someone = options.advocates // 2
    sample = PromoCode.objects.get(holder__participant_id=f"adv-{someone}").code
    searches = {
        "no search": "",
        "code prefix (lower case)": sample[:4].lower(),
        "participant id": f"adv-{someone}",
        "e-mail (other case)": f"ADV{someone}@example.COM",
    }
    admin = site._registry[PromoCode]
    print(f"{'search':<26} {'index':<50} {'page ms':>8} {'raw ms':>7} {'ratio':>6}")
    for label, term in searches.items():
        query = {"q": term} if term else {}
        request = RequestFactory().get("/admin/codes/promocode/", query)
        request.user = user
        sql, params = admin.get_changelist_instance(request).result_list.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE) " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
        on_codes = re.findall(
            r"(?:Index|Index Only) Scan (?:using|on) (\w+) on codes_promocode|"
            r"Bitmap Index Scan on (\w+)",
            plan,
        )
        indexes = sorted({name for pair in on_codes for name in pair if name})
        if "Seq Scan on codes_promocode" in plan:
            indexes.append("SEQ SCAN")
        client.get("/admin/codes/promocode/", query)  # warm
        page, raw = [], []
        for _ in range(options.runs):
            started = time.perf_counter()
            response = client.get("/admin/codes/promocode/", query)
            page.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200
            with connection.cursor() as cursor:
                started = time.perf_counter()
                cursor.execute(sql, params)
                cursor.fetchall()
                raw.append((time.perf_counter() - started) * 1000)
        best_page, best_raw = min(page), min(raw)
        print(
            f"{label:<26} {', '.join(indexes):<50} {best_page:>8.0f} {best_raw:>7.1f} "
            f"{best_page / best_raw:>6.0f}"
        )


if __name__ == "__main__":
    main()
