"""The server API's cost in-process (no HTTP server): what one request spends where.

  statements   SQL statements (and how many of them SAVEPOINT/RELEASE) of one attributed
               conversion, counted on the connection
  conversion   ms per attributed conversion (POST through Django's test client: middleware,
               DRF, the service, the database)
  key auth     ms for API key authentication + throttle together (ApiKeyAuthentication and
               ApiKeyRateThrottle on one request), with the key cache warm
  lookup       ms per request of the one-lookup endpoint (GET .../codes/{code})
  widget /me   ms per request of GET /api/v1/widget/me (participant token, upsert, state)
  key exists?  ms of a refused request (401, Basic, GET …/stock) with a key of another
               program and with a key that does not exist, each the first time its digest
               is seen and sent again: equal times tell nothing of whether a key exists
  review       ms per attributed conversion with the review off and with every check on
               (policy strict, reward caps set but not reached), two programs alike but for
               that, their orders interleaved one for one so both see the same load; the ratio
               on / off (target ≤ 1.15). Each order carries IpAddress and CustomerStatus.

A fresh PostgreSQL database (created, migrated, dropped) and Redis, like bench/api.py.
`BENCH_ROOT=/path/to/checkout` measures another checkout with this script (before/after).

Environment: BENCH_DATABASE_URL (server, default postgres://root@127.0.0.1:5432/postgres),
BENCH_DB_NAME (default bench_api_cost), BENCH_REDIS_URL (default redis://127.0.0.1:6379/12),
BENCH_ROUNDS (default 300).
"""

import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(os.environ.get("BENCH_ROOT") or Path(__file__).resolve().parent.parent)
SERVER_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://root@127.0.0.1:5432/postgres")
DB_NAME = os.environ.get("BENCH_DB_NAME", "bench_api_cost")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "300"))
# BENCH_PROFILE=N: also print cProfile's N costliest calls (cumulative) of each GET endpoint.
PROFILE = int(os.environ.get("BENCH_PROFILE", "0"))


def psql(sql):
    import psycopg

    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        conn.execute(sql)


def median_ms(samples):
    return statistics.median(samples) * 1000


def api_client_for(program):
    from django.test import Client

    from programs.services import api_key_create

    _, raw_key = api_key_create(program=program, name="cost", requests_per_minute=10**7)
    return Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}")


def review_rounds(*, client_for_program):
    """Attributed conversions to two programs alike but for the review (off; strict with
    reward caps no order reaches), interleaved; (off times, on times, reasons seen)."""
    from django.db import connection, transaction

    from codes.models import PromoCode
    from participants.services import participant_upsert
    from programs.models import CodeUsage
    from programs.services import program_create
    from tests.factories import stock_pool

    sides = []
    for slug, on in (("cost-off", False), ("cost-on", True)):
        extra = {}
        if on:
            extra = {
                "review_policy": "strict",
                "reward_cap_advocate_month": 10**6,
                "reward_cap_advocate_total": 10**6,
                "reward_cap_program_day": 10**6,
            }
        with transaction.atomic():
            program = program_create(
                slug=slug,
                name=slug,
                promo_codes_enabled=True,
                code_usage=CodeUsage.SINGLE,
                codes_per_advocate=2,
                low_stock_threshold=10,
            )
            if extra:
                type(program).objects.filter(pk=program.pk).update(**extra)
                program.refresh_from_db()
            stock_pool(program, ROUNDS * 4 + 100, prefix="R" if on else "F")
        codes = []
        for i in range(ROUNDS):
            advocate, _ = participant_upsert(
                program=program, participant_id=f"adv-{i}", email=f"adv-{i}@example.com"
            )
            codes.append(
                PromoCode.objects.filter(holder=advocate).values_list("code", flat=True)[0]
            )
        sides.append((program, client_for_program(program), codes))
    connection.close()
    warm = 20
    times = {False: [], True: []}
    reasons = set()
    for i in range(ROUNDS):
        order = ((0, False), (1, True)) if i % 2 else ((1, True), (0, False))
        for index, on in order:
            program, client, codes = sides[index]
            body = {
                "OrderId": f"R-{i}",
                "OrderPromoCode": codes[i],
                "CustomerId": f"f-{i}",
                "CustomerEmail": f"f-{i}@example.com",
                "IpAddress": f"198.51.100.{i % 250}",
                "CustomerStatus": "New",
            }
            path = f"/api/v1/programs/{program.slug}/conversions"
            started = time.perf_counter()
            response = client.post(path, body, content_type="application/json")
            elapsed = time.perf_counter() - started
            answer = response.json()
            assert response.status_code == 201 and answer["status"] == "attributed", answer
            assert (answer["review"] is not None) == on, answer
            if on:
                reasons.update(answer["review"]["reasons"])
            if i >= warm:
                times[on].append(elapsed)
    return times[False], times[True], sorted(reasons)


def measure():
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import connection, transaction
    from django.test import Client
    from rest_framework.test import APIRequestFactory

    from codes.models import PromoCode
    from participants.services import participant_upsert
    from programs.api_auth import ApiKeyAuthentication, ApiKeyRateThrottle
    from programs.models import CodeUsage
    from programs.services import api_key_create, program_create
    from tests.factories import stock_pool

    with transaction.atomic():
        program = program_create(
            slug="cost",
            name="Cost",
            promo_codes_enabled=True,
            code_usage=CodeUsage.SINGLE,
            codes_per_advocate=2,
            low_stock_threshold=10,
        )
        _, raw_key = api_key_create(program=program, name="cost", requests_per_minute=10**7)
        stock_pool(program, ROUNDS * 4 + 100, prefix="C")
    codes = []
    for i in range(ROUNDS):
        advocate, _ = participant_upsert(
            program=program, participant_id=f"adv-{i}", email=f"adv-{i}@example.com"
        )
        codes.append(PromoCode.objects.filter(holder=advocate).values_list("code", flat=True)[0])
    connection.close()

    client = Client(HTTP_AUTHORIZATION=f"Bearer {raw_key}")
    path = f"/api/v1/programs/{program.slug}/conversions"
    statements = []

    def count(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    warm = 20
    times, per_order, savepoints = [], [], []
    for i, code in enumerate(codes):
        body = {"OrderId": f"O-{i}", "OrderPromoCode": code, "CustomerId": f"f-{i}"}
        statements.clear()
        with connection.execute_wrapper(count):
            started = time.perf_counter()
            response = client.post(path, body, content_type="application/json")
            elapsed = time.perf_counter() - started
        assert response.status_code == 201 and response.json()["status"] == "attributed", (
            response.content
        )
        if i >= warm:
            times.append(elapsed)
            per_order.append(len(statements))
            savepoints.append(sum(s.startswith(("SAVEPOINT", "RELEASE")) for s in statements))
    sample = list(statements)

    lookup = f"/api/v1/programs/{program.slug}/codes/{codes[0]}"
    lookup_times = []
    for i in range(ROUNDS):
        started = time.perf_counter()
        response = client.get(lookup)
        if i >= warm:
            lookup_times.append(time.perf_counter() - started)
        assert response.status_code == 200

    from participants.widget.tokens import widget_token_encode

    token = widget_token_encode(program=program, participant_id="adv-0", ttl_seconds=3600)
    widget_client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    widget_times = []
    for i in range(ROUNDS):
        started = time.perf_counter()
        response = widget_client.get("/api/v1/widget/me")
        if i >= warm:
            widget_times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.content

    if PROFILE:
        import cProfile
        import pstats

        for name, do in (
            ("lookup", lambda: client.get(lookup)),
            ("widget", lambda: widget_client.get("/api/v1/widget/me")),
        ):
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(ROUNDS):
                do()
            profiler.disable()
            print(f"--- profile: {name} ({ROUNDS} requests)")
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(PROFILE)

    factory = APIRequestFactory()
    auth_times = []
    for i in range(ROUNDS * 3):
        request = factory.get(lookup, HTTP_AUTHORIZATION=f"Bearer {raw_key}")
        started = time.perf_counter()
        _, api_key = ApiKeyAuthentication().authenticate(request)
        request.auth = api_key
        allowed = ApiKeyRateThrottle().allow_request(request, None)
        if i >= warm:
            auth_times.append(time.perf_counter() - started)
        assert allowed

    import base64
    import secrets

    other = program_create(slug="other", name="Other", promo_codes_enabled=True)
    other_keys = [
        api_key_create(program=other, name=f"k{i}", requests_per_minute=10**7)[1]
        for i in range(ROUNDS)
    ]

    def refused(raw):
        basic = base64.b64encode(f"{program.slug}:{raw}".encode()).decode()
        started = time.perf_counter()
        response = Client(HTTP_AUTHORIZATION=f"Basic {basic}").get(
            f"/api/v1/programs/{program.slug}/stock"
        )
        elapsed = time.perf_counter() - started
        assert response.status_code == 401, response.content
        return elapsed

    def unknown_key():
        return "rpc_" + secrets.token_urlsafe(32)

    refused(other_keys[0])  # warm
    existence = {
        "real key, first seen": [refused(raw) for raw in other_keys],
        "unknown key, first seen": [refused(unknown_key()) for _ in range(ROUNDS)],
        "real key, again": [refused(other_keys[0]) for _ in range(ROUNDS)],
    }
    again = unknown_key()
    existence["unknown key, again"] = [refused(again) for _ in range(ROUNDS)]
    review_off, review_on, reasons = review_rounds(client_for_program=api_client_for)

    print(f"checkout: {ROOT}")
    for name, samples in existence.items():
        print(f"refused, {name + ':':<25} {median_ms(samples):.2f} ms median")
    print(
        f"attributed conversion: {statistics.median(per_order):.0f} statements "
        f"({statistics.median(savepoints):.0f} SAVEPOINT/RELEASE), "
        f"{median_ms(times):.2f} ms median in-process"
    )
    print(f"one-lookup endpoint:   {median_ms(lookup_times):.2f} ms median in-process")
    print(f"widget /me:            {median_ms(widget_times):.2f} ms median in-process")
    print(f"key auth + throttle:   {median_ms(auth_times):.3f} ms median")
    if review_off:
        off, on = median_ms(review_off), median_ms(review_on)
        print(
            f"review off / on:       {off:.2f} / {on:.2f} ms median in-process, "
            f"ratio on/off {on / off:.3f} (target ≤ 1.15); reasons seen: {reasons}"
        )
    print("statements of the last conversion:")
    for sql in sample:
        print(f"  {sql[:150]}")


def main():
    db_url = f"{SERVER_URL.rsplit('/', 1)[0]}/{DB_NAME}"
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "REDIS_URL": REDIS_URL,
        "CELERY_BROKER_URL": "",
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "WIDGET_API_RATE": "1000000/min",
        "_BENCH_API_COST_CHILD": "1",
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
    if os.environ.get("_BENCH_API_COST_CHILD"):
        measure()
    else:
        main()
