"""The read API's rewards list: pages through 10,000 rewards with its cursor while new orders
arrive, and reports ms per page, against the raw keyset query on the database.

  page          ms per GET …/rewards?limit=100 in-process (Django's test client: middleware,
                key auth, DRF, the selector, the serializer, the database), median and p95
  raw           ms for the page's keyset SQL alone on the same connection (the ratio's base)
  available     the same with ?status=available (what a shop pays out)
  no dup/miss   every reward listed once, the ones earned while paging included

Between two pages an attributed order is posted to the conversions API (untimed), so the list
grows while it is read. The program's 10,000 rewards sit beside another program's 40,000 (the
index must keep a page to its program), their creation times spread over days with ties (three
rewards per minute share one time).

A fresh PostgreSQL database (created, migrated, dropped) and Redis, like bench/api.py.
Environment: BENCH_DATABASE_URL (server, default postgres://root@127.0.0.1:5432/postgres),
BENCH_DB_NAME (default bench_readapi_pages), BENCH_REDIS_URL (default
redis://127.0.0.1:6379/8), BENCH_REWARDS (default 10000), BENCH_PAGE (default 100).
"""

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SERVER_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://root@127.0.0.1:5432/postgres")
DB_NAME = os.environ.get("BENCH_DB_NAME", "bench_readapi_pages")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/8")
REWARDS = int(os.environ.get("BENCH_REWARDS", "10000"))
PAGE = int(os.environ.get("BENCH_PAGE", "100"))
NOISE = 4 * REWARDS


def psql(sql):
    import psycopg

    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        conn.execute(sql)


def percentile(samples, fraction):
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] * 1000


def build(program, count, advocates):
    """`count` converted referrals with credit rewards, spread over `advocates` advocates."""
    from django.db import connection

    from participants.models import Participant, Referral, Reward, RewardStatus

    people = Participant.objects.bulk_create(
        [
            Participant(program=program, participant_id=f"{program.slug}-adv-{n}", is_advocate=True)
            for n in range(advocates)
        ]
        + [
            Participant(program=program, participant_id=f"{program.slug}-friend-{n}")
            for n in range(count)
        ],
        batch_size=5000,
    )
    holders, friends = people[:advocates], people[advocates:]
    referrals = Referral.objects.bulk_create(
        [
            Referral(
                program=program,
                advocate=holders[n % advocates],
                friend=friend,
                status="converted",
                order_id=f"order-{n}",
            )
            for n, friend in enumerate(friends)
        ],
        batch_size=5000,
    )
    statuses = [RewardStatus.AVAILABLE] * 6 + [RewardStatus.PAID] * 3 + [RewardStatus.CANCELLED]
    Reward.objects.bulk_create(
        [
            Reward(
                program=program,
                advocate_id=referral.advocate_id,
                referral=referral,
                kind="credit",
                amount=10,
                currency="USD",
                status=statuses[n % len(statuses)],
            )
            for n, referral in enumerate(referrals)
        ],
        batch_size=5000,
    )
    # Creation times over the past days, three rewards to a minute (ties the id breaks).
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Reward._meta.db_table} SET created_at = now() - interval '30 days' "
            "+ (id / 3) * interval '1 minute' WHERE program_id = %s",
            [program.pk],
        )


def measure():
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection, transaction
    from django.test import Client

    from codes.models import PromoCode
    from participants.models import Reward
    from participants.selectors import _reward_rows
    from participants.services import participant_upsert
    from programs.models import CodeUsage
    from programs.services import api_key_create, program_create
    from tests.factories import stock_pool

    started = time.perf_counter()
    with transaction.atomic():
        noise = program_create(slug="noise", name="Noise", promo_codes_enabled=True)
        build(noise, NOISE, advocates=400)
        program = program_create(
            slug="shop",
            name="Shop",
            promo_codes_enabled=True,
            code_usage=CodeUsage.SINGLE,
            codes_per_advocate=1,
        )
        build(program, REWARDS, advocates=100)
        _, key = api_key_create(program=program, name="bench", requests_per_minute=10**7)
        stock_pool(program, 4 * (REWARDS // PAGE) + 100, prefix="M")  # one per order
    alice, _ = participant_upsert(program=program, participant_id="alice", email="a@example.com")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    print(
        f"built {REWARDS:,} rewards (+{NOISE:,} in another program) in "
        f"{time.perf_counter() - started:.1f} s"
    )

    client = Client(HTTP_AUTHORIZATION=f"Bearer {key}")
    orders = 0

    def new_order():
        nonlocal orders
        orders += 1
        code = PromoCode.objects.held_by(alice).get().code  # single-use: replaced once used
        body = {"OrderId": f"late-{orders}", "OrderPromoCode": code, "CustomerId": f"c-{orders}"}
        response = client.post("/api/v1/programs/shop/conversions", body, "application/json")
        assert response.status_code == 201 and response.json()["status"] == "attributed"

    def page_through(query):
        """(seconds per page, ids seen) following next links, an order posted between pages."""
        timings, seen, link = [], [], f"/api/v1/programs/shop/rewards?limit={PAGE}{query}"
        while link:
            began = time.perf_counter()
            response = client.get(link)
            timings.append(time.perf_counter() - began)
            assert response.status_code == 200, response.content
            body = response.json()
            seen += [row["id"] for row in body["results"]]
            link = body["next"]
            if link:
                new_order()
        return timings, seen

    def raw_page_seconds(status):
        """The keyset SQL of a page in the middle of the list, alone, on this connection."""
        rewards = Reward.objects.filter(program=program)
        if status:
            rewards = rewards.filter(status=status)
        middle = rewards.order_by("created_at", "id")[REWARDS // 2]
        queryset = _reward_rows(
            rewards.filter(created_at__gte=middle.created_at).exclude(
                created_at=middle.created_at, id__lte=middle.id
            )
        ).order_by("created_at", "id")[: PAGE + 1]
        sql, params = queryset.query.sql_with_params()
        samples = []
        with connection.cursor() as cursor:
            for _ in range(50):
                began = time.perf_counter()
                cursor.execute(sql, params)
                cursor.fetchall()
                samples.append(time.perf_counter() - began)
            cursor.execute(f"EXPLAIN {sql}", params)
            plan = [line for (line,) in cursor.fetchall() if "Index" in line]
        return samples, plan

    page_through("")  # warm up: compiled statements, key cache
    if os.environ.get("BENCH_PROFILE"):  # BENCH_PROFILE=N: the N costliest calls of a page
        import cProfile
        import pstats

        profile = cProfile.Profile()
        profile.enable()
        for _ in range(20):
            client.get(f"/api/v1/programs/shop/rewards?limit={PAGE}")
        profile.disable()
        pstats.Stats(profile).sort_stats("cumulative").print_stats(int(os.environ["BENCH_PROFILE"]))
    for label, query, status in (
        ("all", "", None),
        ("available", "&status=available", "available"),
    ):
        before = set(Reward.objects.filter(program=program).values_list("pk", flat=True))
        timings, seen = page_through(query)
        after = Reward.objects.filter(program=program)
        if status:
            after = after.filter(status=status)
            before = set(
                Reward.objects.filter(pk__in=before, status=status).values_list("pk", flat=True)
            )
        expected = set(after.values_list("pk", flat=True))
        duplicates = len(seen) - len(set(seen))
        missed = len(expected - set(seen))
        raw, plan = raw_page_seconds(status)
        median_page = statistics.median(timings) * 1000
        median_raw = statistics.median(raw) * 1000
        print(
            f"rewards list ({label}): {len(timings)} pages of {PAGE}, {len(seen):,} rows "
            f"({len(expected) - len(before)} earned while paging); page median "
            f"{median_page:.1f} ms, p95 {percentile(timings, 0.95):.1f} ms; raw keyset SQL "
            f"{median_raw:.2f} ms (page/raw {median_page / median_raw:.1f}x); "
            f"duplicates {duplicates}, missed {missed}"
        )
        print(f"  plan: {plan[0].strip() if plan else '(no index scan)'}")
        if duplicates or missed:
            raise SystemExit("FAILED: the cursor listed a reward twice or skipped one")


def main():
    db_url = f"{SERVER_URL.rsplit('/', 1)[0]}/{DB_NAME}"
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "REDIS_URL": REDIS_URL,
        "CELERY_BROKER_URL": "",
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "_BENCH_READ_API_CHILD": "1",
    }
    env.pop("TEST_DATABASE_NAME", None)
    python = str(ROOT / ".venv" / "bin" / "python")
    psql(f'DROP DATABASE IF EXISTS "{DB_NAME}"')
    psql(f'CREATE DATABASE "{DB_NAME}"')
    subprocess.run(["redis-cli", "-u", REDIS_URL, "FLUSHDB"], check=False, capture_output=True)
    try:
        subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        subprocess.run([python, __file__], env=env, check=True)
    finally:
        psql(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')


if __name__ == "__main__":
    if os.environ.get("_BENCH_READ_API_CHILD"):
        measure()
    else:
        main()
