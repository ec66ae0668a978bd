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
  webhooks 0/3 ms per attributed conversion of a program without webhook endpoints and of one
               with three endpoints subscribed to every event, interleaved the same way; the
               ratio 3 / 0 (target ≤ 1.10) and the outbox rows each order wrote. Delivery is
               asynchronous: the child runs with a Celery broker (the bench's Redis) and no
               worker, so an order pays the outbox write and the enqueue, as in production.

A fresh PostgreSQL database (created, migrated, dropped) and Redis, like bench/api.py.
`BENCH_ROOT=/path/to/checkout` measures another checkout with this script (before/after).

Environment: BENCH_DATABASE_URL (server, default postgres://root@127.0.0.1:5432/postgres),
BENCH_DB_NAME (default bench_api_cost), BENCH_REDIS_URL (default redis://127.0.0.1:6379/12),
BENCH_ROUNDS (default 300), BENCH_SECTIONS (default all: conversion,reads,review,webhooks),
BENCH_PROFILE (cProfile's N costliest calls of the conversions and the read endpoints). A
checkout without the review or webhooks prints that it has none for those rows.
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
# BENCH_SECTIONS: which parts to run (default all): conversion (the attributed order, its
# statements and profile), reads (the lookup, widget, key auth and refused-key rows, after
# conversion), review (off / on), webhooks (0 / 3 endpoints).
SECTIONS = os.environ.get("BENCH_SECTIONS", "conversion,reads,review,webhooks").split(",")


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


def _paired_program(slug, prefix, extra, after=None):
    """A program like the others of a paired row, `extra` set on it; its client and codes."""
    from django.db import transaction

    from codes.models import PromoCode
    from participants.services import participant_upsert
    from programs.models import CodeUsage
    from programs.services import program_create
    from tests.factories import stock_pool

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
        stock_pool(program, ROUNDS * 4 + 100, prefix=prefix)
    codes = []
    for i in range(ROUNDS):
        advocate, _ = participant_upsert(
            program=program, participant_id=f"adv-{i}", email=f"adv-{i}@example.com"
        )
        codes.append(PromoCode.objects.filter(holder=advocate).values_list("code", flat=True)[0])
    if after is not None:
        after(program)
    return program, api_client_for(program), codes


def paired_rounds(sides, check=None):
    """Attributed conversions to two programs alike but for what `sides` (two of (slug, code
    prefix, program fields, a callable run on the program once made)) says, their orders
    interleaved one for one so both see the same load; prints each side's statements of its
    last order (a round not timed). Returns the two lists of times;
    `check(index, answer)` is called on every answer."""
    from django.db import connection

    made = [_paired_program(*side) for side in sides]
    connection.close()
    warm = 20
    times = ([], [])
    statements = ([], [])
    profiler = None
    if PROFILE:
        import cProfile

        profiler = cProfile.Profile()
    for i in range(ROUNDS):
        if profiler is not None and i == warm:
            profiler.enable()
        for index in (0, 1) if i % 2 else (1, 0):
            program, client, codes = made[index]
            body = {
                "OrderId": f"R-{i}",
                "OrderPromoCode": codes[i],
                "CustomerId": f"f-{i}",
                "CustomerEmail": f"f-{i}@example.com",
                "IpAddress": f"198.51.100.{i % 250}",
                "CustomerStatus": "New",
            }
            path = f"/api/v1/programs/{program.slug}/conversions"
            last = i == ROUNDS - 1
            started = time.perf_counter()
            if last:  # the last round (not timed): each side's statements
                seen = statements[index]
                with connection.execute_wrapper(
                    lambda execute, sql, *args, seen=seen: seen.append(sql) or execute(sql, *args)
                ):
                    response = client.post(path, body, content_type="application/json")
            else:
                response = client.post(path, body, content_type="application/json")
            elapsed = time.perf_counter() - started
            answer = response.json()
            assert response.status_code == 201 and answer["status"] == "attributed", answer
            if check is not None:
                check(index, answer)
            if i >= warm and not last:
                times[index].append(elapsed)
    if profiler is not None:
        import pstats

        profiler.disable()
        print(f"--- profile: {sides[0][0]} and {sides[1][0]} ({ROUNDS - warm} orders each)")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(PROFILE)
    for (slug, *_), seen in zip(sides, statements, strict=True):
        print(f"statements of {slug}'s last order: {len(seen)}")
        for sql in seen:
            print(f"  {sql[:150]}")
    return times


def review_rounds():
    """The review off and every check on (policy strict, reward caps no order reaches):
    (off times, on times, reasons seen); None on a checkout without the review."""
    from programs.models import Program

    if not hasattr(Program, "review_policy"):
        return None
    on = {
        "review_policy": "strict",
        "reward_cap_advocate_month": 10**6,
        "reward_cap_advocate_total": 10**6,
        "reward_cap_program_day": 10**6,
    }
    reasons = set()

    def check(index, answer):
        assert (answer["review"] is not None) == (index == 1), answer
        reasons.update((answer["review"] or {}).get("reasons", ()))

    off, on = paired_rounds((("cost-off", "F", {}), ("cost-on", "R", on)), check)
    return off, on, sorted(reasons)


def webhooks_rounds():
    """No webhook endpoint and three subscribed to every event: (none times, three times,
    outbox rows written per order with three); None on a checkout without webhooks.
    Delivery is asynchronous (the child runs with a broker and no worker), so the order pays
    the outbox write and the enqueue."""
    try:
        from webhooks.models import Delivery
        from webhooks.services import endpoint_create
    except ImportError:
        return None

    def three(program):
        for n in range(3):
            endpoint_create(program=program, url=f"http://127.0.0.1:9/hook-{n}", allow_private=True)

    none, with_three = paired_rounds((("hooks-none", "N", {}), ("hooks-three", "T", {}, three)))
    per_order = Delivery.objects.filter(endpoint__program__slug="hooks-three").count() / ROUNDS
    return none, with_three, per_order


def measure():
    sys.path.insert(0, str(ROOT))
    os.chdir(ROOT)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    print(f"checkout: {ROOT}")
    if "conversion" in SECTIONS:
        conversion_and_reads()
    if "review" in SECTIONS:
        rounds = review_rounds()
        if rounds is None:
            print("review off / on:       (no review in this checkout)")
        else:
            review_off, review_on, reasons = rounds
            off, on = median_ms(review_off), median_ms(review_on)
            print(
                f"review off / on:       {off:.2f} / {on:.2f} ms median in-process, "
                f"ratio on/off {on / off:.3f} (target ≤ 1.15); reasons seen: {reasons}"
            )
    if "webhooks" in SECTIONS:
        rounds = webhooks_rounds()
        if rounds is None:
            print("webhooks 0 / 3:        (no webhooks in this checkout)")
        else:
            none, three, per_order = rounds
            zero, with_three = median_ms(none), median_ms(three)
            print(
                f"webhooks 0 / 3:        {zero:.2f} / {with_three:.2f} ms median in-process, "
                f"ratio 3/0 {with_three / zero:.3f} (target ≤ 1.10); "
                f"{per_order:.1f} outbox rows per order with 3"
            )


def conversion_and_reads():
    """The attributed conversion (statements, time, profile), then the read endpoints."""
    from django.db import connection, transaction
    from django.test import Client
    from rest_framework.test import APIRequestFactory

    from codes.models import PromoCode
    from participants.services import participant_upsert
    from programs.api_auth import ApiKeyAuthentication, ApiKeyRateThrottle
    from programs.models import CodeUsage
    from programs.services import api_key_create, program_create
    from tests.factories import stock_pool

    rounds = ROUNDS * 2 if PROFILE else ROUNDS
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
        stock_pool(program, rounds * 4 + 100, prefix="C")
    codes = []
    for i in range(rounds):
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

    def convert(i, code):
        body = {"OrderId": f"O-{i}", "OrderPromoCode": code, "CustomerId": f"f-{i}"}
        response = client.post(path, body, content_type="application/json")
        assert response.status_code == 201 and response.json()["status"] == "attributed", (
            response.content
        )

    warm = 20
    times, per_order, savepoints = [], [], []
    for i, code in enumerate(codes[:ROUNDS]):
        statements.clear()
        with connection.execute_wrapper(count):
            started = time.perf_counter()
            convert(i, code)
            elapsed = time.perf_counter() - started
        if i >= warm:
            times.append(elapsed)
            per_order.append(len(statements))
            savepoints.append(sum(s.startswith(("SAVEPOINT", "RELEASE")) for s in statements))
    sample = list(statements)
    print(
        f"attributed conversion: {statistics.median(per_order):.0f} statements "
        f"({statistics.median(savepoints):.0f} SAVEPOINT/RELEASE), "
        f"{median_ms(times):.2f} ms median in-process"
    )
    print("statements of the last conversion:")
    for sql in sample:
        print(f"  {sql[:150]}")
    if PROFILE:
        import cProfile
        import pstats

        profiler = cProfile.Profile()
        profiler.enable()
        for i, code in enumerate(codes[ROUNDS:], start=ROUNDS):
            convert(i, code)
        profiler.disable()
        print(f"--- profile: attributed conversion ({ROUNDS} requests)")
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(PROFILE)
        pstats.Stats(profiler).sort_stats("tottime").print_stats(PROFILE)
    if "reads" not in SECTIONS:
        return

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
    for name, samples in existence.items():
        print(f"refused, {name + ':':<25} {median_ms(samples):.2f} ms median")
    print(f"one-lookup endpoint:   {median_ms(lookup_times):.2f} ms median in-process")
    print(f"widget /me:            {median_ms(widget_times):.2f} ms median in-process")
    print(f"key auth + throttle:   {median_ms(auth_times):.3f} ms median")


def main():
    db_url = f"{SERVER_URL.rsplit('/', 1)[0]}/{DB_NAME}"
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "REDIS_URL": REDIS_URL,
        # A broker and no worker: what a task enqueued on commit costs the request, as in
        # production (webhook deliveries are sent by a worker, never on the order's path).
        "CELERY_BROKER_URL": REDIS_URL,
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
