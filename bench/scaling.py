"""Capacity on paper, from measurements: the hot statements at 1 M, 10 M and 100 M codes.

For each size in SCALING_SIZES it builds a database (bench_cluster_scale_<size>) with the
project's schema (migrate) and fills it with generate_series: 100 programs, one of them ("big")
holding 80 % of the codes, the other 99 sharing the rest; in each program the first 30 % of its
codes (in claim order) were handed out, evenly over the last year, one in ten of those
redeemed, one code in 200 of the rest voided; one advocate per 5 handed-out codes. The codes
table's indexes are dropped before the load and built after it (as a restore would), then
VACUUM ANALYZE.

Then it measures, in-process through the project's own code paths (the Django test client,
the services), as a program manager of the big program or with its API key:

  lookup        GET …/codes/{code}: the one-lookup endpoint (one SELECT)
  attribution   POST …/conversions with a held code: attributed, rewarded, topped up
  top-up        PUT …/participants/{new id}: a new advocate claims their codes
  code list     the code manager's first page
  prefix        the code manager searched by a code's first characters
  advocate      the code manager searched by an advocate's participant id
  stock page    the program's stock page

and prints, per action, the median wall time, the database time (the sum of the action's
statements), the time of its slowest statement on the codes table, the pages (8 kB buffers)
that statement touched and its access path (EXPLAIN ANALYZE, BUFFERS), so a plan that flips
between sizes shows. Pages do not depend on the machine's load; times do. Markdown rows,
ready for docs/scaling.md.

Environment: BENCH_DATABASE_URL (server, default postgres://root@127.0.0.1:5432/postgres),
SCALING_SIZES (default "1000000,10000000"; add 100000000 knowingly: ~40 GB of disk and an hour
or more), SCALING_KEEP=1 keeps the databases (default: dropped), SCALING_REUSE=1 measures an
existing database of that size without building it again, SCALING_ROUNDS (default 3) rounds
of measurements, interleaved across the sizes, SCALING_DB_PREFIX (default
bench_cluster_scale) names the databases.
"""

import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python")
SERVER_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://root@127.0.0.1:5432/postgres")
SIZES = [int(s) for s in os.environ.get("SCALING_SIZES", "1000000,10000000").split(",") if s]
KEEP = os.environ.get("SCALING_KEEP") == "1"
REUSE = os.environ.get("SCALING_REUSE") == "1"
ROUNDS = int(os.environ.get("SCALING_ROUNDS", "3"))
PROGRAMS = 100
PER_ADVOCATE = 5
BLOCK = 1000  # codes are dealt to programs in blocks of this many ids
# The statements reported: those of the codes table and the functions that work on it.
HOT_TABLES = ("codes_promocode", "conversions_attribute", "codes_top_up_holder")
# Handed-out codes were assigned evenly over this many days before the build.
HANDED_OUT_OVER_DAYS = 365


def db_name(size):
    return f"{os.environ.get('SCALING_DB_PREFIX', 'bench_cluster_scale')}_{size}"


def url_of(dbname):
    return f"{SERVER_URL.rsplit('/', 1)[0]}/{dbname}"


def log(message):
    print(f"[{time.strftime('%H:%M:%S')}] {message}", flush=True)


# --- Building ----------------------------------------------------------------------------------


def setup_programs():
    """Inside Django: the programs, their referral pools and one batch each, an API key and a
    manager of the big program. Prints what the load needs as JSON."""
    import django

    django.setup()
    from django.db import transaction

    from codes.models import Batch, BatchSource, BatchStatus
    from codes.services import pool_get_or_create_referral
    from programs.models import CodeUsage, Program
    from programs.services import api_key_create, program_create, program_manager_add

    programs, pools, batches = [], [], []
    with transaction.atomic():
        for n in range(PROGRAMS):
            program = program_create(
                slug="big" if n == 0 else f"small-{n}",
                name="Big" if n == 0 else f"Small {n}",
                promo_codes_enabled=True,
                code_usage=CodeUsage.SINGLE,
                codes_per_advocate=PER_ADVOCATE,
                low_stock_threshold=10,
            )
            pool = pool_get_or_create_referral(program=program)
            batch = Batch.objects.create(
                pool=pool,
                source=BatchSource.GENERATED,
                usage=CodeUsage.SINGLE,
                status=BatchStatus.COMPLETED,
            )
            programs.append(program.pk)
            pools.append(pool.pk)
            batches.append(batch.pk)
        big = Program.objects.get(pk=programs[0])
        _, key = api_key_create(program=big, name="bench", requests_per_minute=10**8)
        program_manager_add(
            program=big,
            username="manager",
            email="manager@example.com",
            password="manager-password-1",
        )
    print(json.dumps({"programs": programs, "pools": pools, "batches": batches, "key": key}))


def program_of(alias):
    """SQL: the index (1-based) into the program arrays of a code id or advocate's first code."""
    block = f"(({alias} - 1) / {BLOCK})"
    return f"(CASE WHEN {block} % 5 <> 0 THEN 1 ELSE 2 + ({block} / 5) % {PROGRAMS - 1} END)"


def build(size):
    import psycopg

    name = db_name(size)
    log(f"{name}: creating, migrating")
    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    env = {**os.environ, "DATABASE_URL": url_of(name), "LOG_LEVEL": "WARNING"}
    for var in ("DATABASE_POOLER", "DATABASE_REPLICA_URL", "TEST_DATABASE_NAME"):
        env.pop(var, None)
    subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    out = subprocess.run(
        [PY, __file__, "--setup"], cwd=ROOT, env=env, check=True, capture_output=True, text=True
    ).stdout
    setup = json.loads(out.strip().splitlines()[-1])
    handed_out = int(size * 0.3) // PER_ADVOCATE * PER_ADVOCATE
    advocates = handed_out // PER_ADVOCATE
    programs = "ARRAY[" + ",".join(map(str, setup["programs"])) + "]::bigint[]"
    pools = "ARRAY[" + ",".join(map(str, setup["pools"])) + "]::bigint[]"
    batches = "ARRAY[" + ",".join(map(str, setup["batches"])) + "]::bigint[]"
    with psycopg.connect(url_of(name), autocommit=True) as conn:
        # The backend doing the work yields to everyone else's on this shared machine.
        pid = conn.execute("SELECT pg_backend_pid()").fetchone()[0]
        subprocess.run(["renice", "-n", "19", "-p", str(pid)], capture_output=True)
        conn.execute("SET maintenance_work_mem = '1GB'")
        conn.execute("SET max_parallel_maintenance_workers = 2")
        conn.execute("SET session_replication_role = replica")  # foreign keys: built valid
        indexes = {}
        for table in ("codes_promocode", "participants_participant"):
            indexes[table] = conn.execute(
                "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = %s AND indexname "
                "NOT IN (SELECT conname FROM pg_constraint)",
                [table],
            ).fetchall()
            for index, _ in indexes[table]:
                conn.execute(f'DROP INDEX "{index}"')
        log(f"{name}: {advocates:,} advocates")
        conn.execute(
            "INSERT INTO participants_participant (id, participant_id, email, first_name, "
            "last_name, account_id, is_advocate, is_blocked, created_at, updated_at, program_id) "
            f"SELECT a, 'adv-' || a, 'adv-' || a || '@example.com', 'Ada', '', '', true, false, "
            f"now(), now(), ({programs})[{program_of(f'((a - 1) * {PER_ADVOCATE} + 1)')}] "
            f"FROM generate_series(1, {advocates}) a"
        )
        log(f"{name}: {size:,} codes")
        status = (
            f"CASE WHEN g <= {handed_out} THEN CASE WHEN g % 10 = 0 THEN 'redeemed' "
            "ELSE 'assigned' END WHEN g % 200 = 0 THEN 'voided' ELSE 'available' END"
        )
        conn.execute(
            "INSERT INTO codes_promocode (id, code, usage, source, status, created_at, "
            "assigned_at, redeemed_at, redemption_count, redeemed_order_id, batch_id, holder_id, "
            "pool_id, program_id, void_reason, voided_at) "
            f"SELECT g, 'C' || g, 'single', 'pool', {status}, now() - interval '400 days', "
            f"CASE WHEN g <= {handed_out} THEN now() - (g % {HANDED_OUT_OVER_DAYS * 1440}) "
            "* interval '1 minute' END, "
            f"CASE WHEN g <= {handed_out} AND g % 10 = 0 THEN now() END, "
            f"CASE WHEN g <= {handed_out} AND g % 10 = 0 THEN 1 ELSE 0 END, "
            f"CASE WHEN g <= {handed_out} AND g % 10 = 0 THEN 'order-' || g ELSE '' END, "
            f"({batches})[{program_of('g')}], "
            f"CASE WHEN g <= {handed_out} THEN (g - 1) / {PER_ADVOCATE} + 1 END, "
            f"({pools})[{program_of('g')}], ({programs})[{program_of('g')}], '', "
            f"CASE WHEN g > {handed_out} AND g % 200 = 0 THEN now() END "
            f"FROM generate_series(1, {size}) g"
        )
        for rows in indexes.values():
            for index, definition in rows:
                log(f"{name}: index {index}")
                conn.execute(definition)
        for table in ("codes_promocode", "participants_participant"):
            conn.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT max(id) FROM {table}))"
            )
        log(f"{name}: VACUUM ANALYZE")
        conn.execute("VACUUM ANALYZE")
        size_text = conn.execute(
            "SELECT pg_size_pretty(pg_total_relation_size('codes_promocode'))"
        ).fetchone()[0]
    log(f"{name}: built; the codes table with its indexes: {size_text}")
    return setup


# --- Measuring ---------------------------------------------------------------------------------


def measure(size):
    """Inside Django, on the database of `size`: print one JSON line of results."""
    import django

    django.setup()
    import random

    from django.contrib.auth import get_user_model
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from django.urls import reverse

    from programs.models import Program
    from programs.services import api_key_create

    big = Program.objects.get(slug="big")
    _, key = api_key_create(program=big, name="measure", requests_per_minute=10**8)
    auth = {"HTTP_AUTHORIZATION": f"Bearer {key}"}
    api = Client()
    console = Client()
    console.force_login(get_user_model().objects.get(username="manager"))
    rng = random.Random(size)
    handed_out = int(size * 0.3) // PER_ADVOCATE * PER_ADVOCATE

    def big_code(low, high):
        while True:  # a code id in the big program's blocks
            g = rng.randint(low, high)
            if ((g - 1) // BLOCK) % 5 != 0:
                return g

    list_url = reverse("admin:codes_promocode_changelist")
    stock_url = reverse("admin:codes_program_stock", args=[big.pk])
    unredeemed = iter(
        big_code(1, handed_out) for _ in range(10**6)
    )  # held codes: assigned unless g % 10 == 0

    def held_code():
        while True:
            g = next(unredeemed)
            if g % 10:
                return f"C{g}"

    run = int(time.time())
    counter = iter(range(10**9))
    actions = {
        "lookup": (
            200,
            lambda: api.get(f"/api/v1/programs/big/codes/C{big_code(1, size)}", **auth),
        ),
        "attribution": (
            40,
            lambda: api.post(
                "/api/v1/programs/big/conversions",
                {"OrderId": f"m-{run}-{next(counter)}", "OrderPromoCode": held_code()},
                content_type="application/json",
                **auth,
            ),
        ),
        "top-up": (
            40,
            lambda: api.put(
                f"/api/v1/programs/big/participants/new-{run}-{next(counter)}",
                {"email": "new@example.com"},
                content_type="application/json",
                **auth,
            ),
        ),
        "code list": (10, lambda: console.get(list_url)),
        "prefix": (10, lambda: console.get(list_url, {"q": f"C{big_code(1, size) // 100}"})),
        "advocate": (
            10,
            lambda: console.get(
                list_url, {"q": f"adv-{(big_code(1, handed_out) - 1) // PER_ADVOCATE + 1}"}
            ),
        ),
        "stock page": (10, lambda: console.get(stock_url)),
    }
    results = {}
    for name, (reps, action) in actions.items():
        action()  # warm: connection, compiled statements, caches
        walls, reps_seen = [], []
        for _ in range(reps):
            with CaptureQueriesContext(connection) as queries:
                started = time.perf_counter()
                response = action()
                if hasattr(response, "streaming_content"):
                    b"".join(response.streaming_content)
                walls.append((time.perf_counter() - started) * 1000)
            if response.status_code >= 400:
                raise RuntimeError(f"{name}: {response.status_code} {response.content[:300]}")
            statements = queries.captured_queries
            hot = [q for q in statements if any(t in q["sql"] for t in HOT_TABLES)] or statements
            top = max(hot, key=lambda q: float(q["time"]))
            reps_seen.append((sum(float(q["time"]) for q in statements) * 1000, top))
        # The statement shown is the slowest codes statement of the median repetition.
        reps_seen.sort(key=lambda seen: seen[0])
        db_ms, slowest = reps_seen[len(reps_seen) // 2]
        results[name] = {
            "wall_ms": statistics.median(walls),
            "db_ms": db_ms,
            "slowest_ms": statistics.median(float(top["time"]) * 1000 for _, top in reps_seen),
            "plan": plan_of(connection, slowest["sql"]),
            "statement": slowest["sql"][:160],
        }
    print(json.dumps(results))


def plan_of(connection, sql):
    """The access path of a statement (its plan's nodes that read a table or an index) and,
    for a read, what running it cost: {"path", "pages", "exec_ms"}. Pages (shared buffers hit
    or read) do not depend on how busy the machine is; times do."""
    # The attribution and the top-up are functions that write: never run them again here.
    functions = ("conversions_attribute", "codes_top_up_holder")
    read = sql.lstrip().upper().startswith(("SELECT", "WITH"))
    if not read or any(name in sql for name in functions):
        return {"path": "(" + sql.split()[0].lower() + ")", "pages": None, "exec_ms": None}
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) {sql}")
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    found = []

    def walk(node):
        kind = node["Node Type"]
        if "Index" in kind or "Scan" in kind:
            target = node.get("Index Name") or node.get("Relation Name") or ""
            if "codes_promocode" in target or target.startswith("promocode"):
                found.append(f"{kind} {target}".strip())
        for child in node.get("Plans", []):
            walk(child)

    top = plan[0]["Plan"]
    walk(top)
    return {
        "path": "; ".join(dict.fromkeys(found)) or top["Node Type"],
        "pages": top.get("Shared Hit Blocks", 0) + top.get("Shared Read Blocks", 0),
        "exec_ms": plan[0].get("Execution Time"),
    }


def measure_once(size):
    env = {**os.environ, "DATABASE_URL": url_of(db_name(size)), "LOG_LEVEL": "WARNING"}
    for var in ("DATABASE_POOLER", "DATABASE_REPLICA_URL", "TEST_DATABASE_NAME"):
        env.pop(var, None)
    done = subprocess.run(
        [PY, __file__, "--measure", str(size)], cwd=ROOT, env=env, capture_output=True, text=True
    )
    if done.returncode:
        raise RuntimeError(f"measuring {db_name(size)} failed:\n{done.stderr[-3000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    import psycopg

    for size in SIZES:
        if REUSE:
            log(f"{db_name(size)}: reusing")
        else:
            build(size)
    # Rounds interleave the sizes (1 M, 10 M, …, 1 M, 10 M, …) so that a neighbour's load on
    # this shared machine falls on every size alike; each figure is the median of the rounds.
    runs = {size: [] for size in SIZES}
    for round_number in range(ROUNDS):
        for size in SIZES:
            log(f"{db_name(size)}: measuring (round {round_number + 1} of {ROUNDS})")
            runs[size].append(measure_once(size))
    if not ROUNDS:
        return
    print("|        codes | action      |  wall ms |    db ms | stmt ms |  pages | access path |")
    print("| -----------: | ----------- | -------: | -------: | ------: | -----: | ----------- |")
    table = {}
    for size in SIZES:
        table[size] = {}
        for action in runs[size][0]:
            seen = [run[action] for run in runs[size]]
            row = {
                key: statistics.median(r[key] for r in seen)
                for key in ("wall_ms", "db_ms", "slowest_ms")
            }
            row.update(seen[-1]["plan"])
            row["statement"] = seen[-1]["statement"]
            table[size][action] = row
            pages = "—" if row["pages"] is None else f"{row['pages']:,}"
            print(
                f"| {size:>12,} | {action:<11} | {row['wall_ms']:8.1f} | {row['db_ms']:8.1f} | "
                f"{row['slowest_ms']:7.1f} | {pages:>6} | {row['path']} |",
                flush=True,
            )
    if not KEEP:
        with psycopg.connect(SERVER_URL, autocommit=True) as conn:
            for size in SIZES:
                conn.execute(f'DROP DATABASE IF EXISTS "{db_name(size)}" WITH (FORCE)')
                log(f"{db_name(size)}: dropped")
    print(json.dumps({str(k): v for k, v in table.items()}))


if __name__ == "__main__":
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    if sys.argv[1:2] == ["--setup"]:
        setup_programs()
    elif sys.argv[1:2] == ["--measure"]:
        measure(int(sys.argv[2]))
    else:
        main()
