"""Server API benchmark: the API's fixed cost and conversions on gunicorn + PostgreSQL.

Starts its own stack on loopback: a fresh PostgreSQL database (created, migrated, dropped),
a Celery worker on Redis and gunicorn (serving bench/web_settings.py: the project plus one
plain JSON view), then drives load with wrk (installed with apt-get when missing) and a Lua
script, phase after phase, the ratios printed from the same run:

  plain        GET /bench/plain: a Django JSON view, no database, no cache (the yardstick)
  lookup       GET /codes/{code}: the API's one-lookup endpoint (key auth, throttle, one
               SELECT); target ≥ 0.3× plain
  conversions  POST /conversions, a fresh OrderId and a fresh held single-use code each time
               (attributed: code redeemed, replacement assigned, reward created); target ≥ 0.5×
               lookup, p95 ≤ 50 ms
  mixed        the same conversions plus PUT /participants/{new id} (each new advocate claims 5
               codes), two wrk processes at once
  widget       GET /api/v1/widget/me with a participant token per advocate, one connection
               per gunicorn worker, so p95 is the service time (target ≤ 15 ms)
  review       the conversions phase three times in a row: review off, then every check on
               (set_review_policy strict, and set_reward_caps with caps no order reaches, so
               the caps are counted too), then off again; the ratio on / mean of the two offs
               (target ≥ 0.85). Every order carries IpAddress and CustomerStatus.
  webhooks     the conversions phase with no webhook endpoint, then with three endpoints
               subscribed to every event (add_webhook; a receiver in this process answers 204,
               the Celery worker delivers while the load runs), then with none again: the
               ratio three / none (target ≥ 0.90, same sitting). Not in the default phases.

Prints requests/s and p50/p95/p99 per phase. Bounded: BENCH_SECONDS (default 20) per phase.

Environment: BENCH_DATABASE_URL (server, default postgres://root@127.0.0.1:5432/postgres),
BENCH_DB_NAME (default bench_api), BENCH_REDIS_URL (default redis://127.0.0.1:6379/12),
BENCH_SECONDS, BENCH_CONNECTIONS (default 8), BENCH_PHASES (default all but webhooks,
comma-separated),
BENCH_SERVERS (gunicorn set-ups measured in turn on one database, class:workers[:threads]
separated by ";", e.g. "sync:2;sync:5;gthread:2:4"; default gunicorn.conf.py's production
choice: sync, 2 × CPUs + 1 workers), BENCH_ADVOCATES (default 3000; each holds 5 codes, and every
conversion spends one).
"""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PY = str(ROOT / ".venv" / "bin" / "python")
SERVER_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://root@127.0.0.1:5432/postgres")
DB_NAME = os.environ.get("BENCH_DB_NAME", "bench_api")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
SECONDS = int(os.environ.get("BENCH_SECONDS", "20"))
CONNECTIONS = int(os.environ.get("BENCH_CONNECTIONS", "8"))
# Extra gunicorn options.
GUNICORN_ARGS = os.environ.get("BENCH_GUNICORN_ARGS", "").split()
# The gunicorn set-ups to measure in turn on one database: class:workers[:threads], ";"-separated.
# Default: what gunicorn.conf.py runs in production here, sync workers, 2 × CPUs + 1.
SERVERS_TEXT = os.environ.get("BENCH_SERVERS", f"sync:{2 * len(os.sched_getaffinity(0)) + 1}")
PHASES = os.environ.get("BENCH_PHASES", "plain,lookup,conversions,mixed,widget,review").split(",")
ADVOCATES = int(os.environ.get("BENCH_ADVOCATES", "3000"))
PER_ADVOCATE = 5
SPARE = 40_000

LUA = r"""
-- Each wrk thread takes every Nth line of the codes file, so no two requests share a code.
local codes = {}
for line in io.lines(os.getenv("BENCH_CODES")) do codes[#codes + 1] = line end
local tokens = {}
for line in io.lines(os.getenv("BENCH_TOKENS")) do tokens[#tokens + 1] = line end
local threads = {}
local counter = 0
function setup(thread)
  thread:set("tid", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  n = 0
  nthreads = tonumber(os.getenv("BENCH_THREADS"))
  mode = os.getenv("BENCH_MODE")
  run = os.getenv("BENCH_RUN") .. os.getenv("BENCH_PHASE")
  key = os.getenv("BENCH_KEY")
  slug = os.getenv("BENCH_SLUG")
  offset = tonumber(os.getenv("BENCH_OFFSET"))
  headers = {["Authorization"] = "Bearer " .. key, ["Content-Type"] = "application/json"}
end
function request()
  local i = offset + tid + n * nthreads
  n = n + 1
  if mode == "plain" then
    return wrk.format("GET", "/bench/plain", headers)
  end
  if mode == "lookup" then
    -- The one-lookup endpoint: key authentication, throttle, one SELECT of a code.
    local code = codes[(i % #codes) + 1]
    return wrk.format("GET", string.format("/api/v1/programs/%s/codes/%s", slug, code), headers)
  end
  if mode == "widget" then
    -- An advocate's widget load: one participant token per advocate, round-robin.
    local token = tokens[(i % #tokens) + 1]
    return wrk.format("GET", "/api/v1/widget/me", {["Authorization"] = "Bearer " .. token})
  end
  if mode == "participants" then
    local body = string.format('{"email": "p-%s-%d-%d@example.com", "first_name": "B"}',
                               run, tid, n)
    return wrk.format("PUT", string.format("/api/v1/programs/%s/participants/p-%s-%d-%d",
                                           slug, run, tid, n), headers, body)
  end
  local code = codes[(i % #codes) + 1]
  local body = string.format(
    '{"OrderId": "o-%s-%d-%d", "OrderPromoCode": "%s", "CustomerId": "c-%s-%d-%d", ' ..
    '"OrderSubtotal": "80.00", "CurrencyCode": "USD", "CustomerStatus": "New", ' ..
    '"IpAddress": "198.51.%d.%d"}', run, tid, n, code, run, tid, n, tid % 250, n % 250)
  return wrk.format("POST", string.format("/api/v1/programs/%s/conversions", slug),
                    headers, body)
end
function done(summary, latency, requests)
  local non2xx = summary.errors.status
  -- The first code index no thread reached: where the next run's orders start.
  local next_offset = 0
  for _, thread in ipairs(threads) do
    local reached = tonumber(os.getenv("BENCH_OFFSET")) + thread:get("tid") +
                    (thread:get("n") or 0) * tonumber(os.getenv("BENCH_THREADS"))
    if reached > next_offset then next_offset = reached end
  end
  io.write(string.format(
    'RESULT {"requests": %d, "seconds": %.3f, "rps": %.1f, "p50_ms": %.2f, ' ..
    '"p95_ms": %.2f, "p99_ms": %.2f, "non_2xx": %d, "socket_errors": %d, ' ..
    '"next_offset": %d}\n',
    summary.requests, summary.duration / 1e6, summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(95) / 1000,
    latency:percentile(99) / 1000, non2xx,
    summary.errors.connect + summary.errors.read + summary.errors.write +
    summary.errors.timeout, next_offset))
end
"""


def setup_data(codes_file, tokens_file):
    """Runs inside Django (called as `bench/api.py --setup CODES TOKENS` with the bench env)."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.db import transaction
    from django.utils import timezone

    from codes.models import Batch, BatchSource, BatchStatus, CodeStatus, PromoCode
    from codes.services import pool_get_or_create_referral
    from participants.models import Participant
    from participants.widget.tokens import widget_token_encode
    from programs.models import CodeUsage
    from programs.services import api_key_create, program_create

    with transaction.atomic():
        program = program_create(
            slug="bench",
            name="Bench",
            promo_codes_enabled=True,
            code_usage=CodeUsage.SINGLE,
            codes_per_advocate=PER_ADVOCATE,
            low_stock_threshold=10,
        )
        _, raw_key = api_key_create(program=program, name="bench", requests_per_minute=10**7)
        pool = pool_get_or_create_referral(program=program)
        batch = Batch.objects.create(
            pool=pool,
            source=BatchSource.GENERATED,
            usage=CodeUsage.SINGLE,
            status=BatchStatus.COMPLETED,
        )
        PromoCode.objects.bulk_create(
            (
                PromoCode(program=program, pool=pool, batch=batch, code=f"B{i:08d}", usage="single")
                for i in range(ADVOCATES * PER_ADVOCATE + SPARE)
            ),
            batch_size=5000,
        )
        advocates = Participant.objects.bulk_create(
            Participant(
                program=program,
                participant_id=f"adv-{i}",
                email=f"adv-{i}@example.com",
                is_advocate=True,
            )
            for i in range(ADVOCATES)
        )
        held = list(
            PromoCode.objects.filter(batch=batch).order_by("id")[: ADVOCATES * PER_ADVOCATE]
        )
        now = timezone.now()
        for index, code in enumerate(held):
            code.status = CodeStatus.ASSIGNED
            code.holder = advocates[index % ADVOCATES]
            code.assigned_at = now
        PromoCode.objects.bulk_update(held, ["status", "holder", "assigned_at"], batch_size=5000)
    Path(codes_file).write_text("\n".join(code.code for code in held) + "\n")
    Path(tokens_file).write_text(
        "\n".join(
            widget_token_encode(program=program, participant_id=a.participant_id, ttl_seconds=3600)
            for a in advocates
        )
        + "\n"
    )
    print(json.dumps({"slug": program.slug, "key": raw_key}))


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def psql(sql, dbname=None):
    import psycopg

    url = SERVER_URL if dbname is None else f"{SERVER_URL.rsplit('/', 1)[0]}/{dbname}"
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(sql)


def ensure_wrk():
    if shutil.which("wrk"):
        return
    print("wrk not found: installing it with apt-get (Debian package wrk)")
    subprocess.run(["apt-get", "install", "-y", "-q", "wrk"], check=True)


def wait_for(url, seconds=60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            return
        except urllib.error.HTTPError:
            return  # the server answers (401 etc.)
        except OSError:
            time.sleep(0.3)
    raise RuntimeError(f"{url} did not come up")


def start_wrk(env, mode, threads, connections, offset, lua_path, base):
    wrk_env = {
        **env,
        "BENCH_MODE": mode,
        "BENCH_THREADS": str(threads),
        "BENCH_OFFSET": str(offset),
        "BENCH_PHASE": f"{mode[0]}{offset}",
    }
    return subprocess.Popen(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{SECONDS}s",
            "--timeout",
            "10s",
            "-s",
            lua_path,
            base,
        ],
        env=wrk_env,
        stdout=subprocess.PIPE,
        text=True,
    )


def result(process):
    out, _ = process.communicate(timeout=SECONDS + 60)
    line = next((x for x in out.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        raise RuntimeError(f"wrk gave no result:\n{out}")
    return json.loads(line[len("RESULT ") :])


def review_settings(env, policy):
    """Every check on (strict, with caps no order reaches) or off, through the commands, so
    every web process sees the change (a program change renews the API-key copies)."""
    caps = "10000000" if policy != "off" else "0"
    for command in (
        ["set_review_policy", "--program", "bench", "--policy", policy],
        [
            "set_reward_caps",
            "--program",
            "bench",
            "--per-advocate-month",
            caps,
            "--per-advocate-total",
            caps,
            "--per-program-day",
            caps,
        ],
    ):
        subprocess.run(
            [PY, "manage.py", *command], cwd=ROOT, env=env, check=True, capture_output=True
        )


def show(name, r):
    print(
        f"{name:<34} {r['rps']:8.1f} req/s   p50 {r['p50_ms']:6.2f} ms   "
        f"p95 {r['p95_ms']:6.2f} ms   p99 {r['p99_ms']:6.2f} ms   "
        f"({r['requests']} requests, non-2xx {r['non_2xx']}, socket errors "
        f"{r['socket_errors']})"
    )


def parse_servers(text):
    """ "sync:2;gthread:2:4" → [("sync", 2, 1), ("gthread", 2, 4)]."""
    servers = []
    for item in filter(None, (part.strip() for part in text.split(";"))):
        kind, workers, *threads = item.split(":")
        servers.append((kind, int(workers), int(threads[0]) if threads else 1))
    return servers


def server_args(kind, workers, threads):
    args = ["--worker-class", kind, "--workers", str(workers)]
    if kind == "gthread":
        args += ["--threads", str(threads)]
    return args


def server_name(kind, workers, threads):
    return f"{kind} {workers} workers" + (f" × {threads} threads" if kind == "gthread" else "")


def stop(process):
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def main():
    ensure_wrk()
    base_db = SERVER_URL.rsplit("/", 1)[0]
    db_url = f"{base_db}/{DB_NAME}"
    env = {
        **os.environ,
        "DATABASE_URL": db_url,
        "REDIS_URL": REDIS_URL,
        "CELERY_BROKER_URL": REDIS_URL,
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
    }
    env.pop("TEST_DATABASE_NAME", None)
    processes = []
    tmp = Path(tempfile.mkdtemp(prefix="bench-api-"))
    psql(f'DROP DATABASE IF EXISTS "{DB_NAME}"')
    psql(f'CREATE DATABASE "{DB_NAME}"')
    subprocess.run(["redis-cli", "-u", REDIS_URL, "FLUSHDB"], check=False, capture_output=True)
    try:
        subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        codes_file = tmp / "codes.txt"
        tokens_file = tmp / "tokens.txt"
        out = subprocess.run(
            [PY, __file__, "--setup", str(codes_file), str(tokens_file)],
            cwd=ROOT,
            env=env,
            check=True,
            capture_output=True,
            text=True,
        ).stdout
        data = json.loads(out.strip().splitlines()[-1])
        # Fresh statistics after the bulk load, as autovacuum would have in production.
        psql("VACUUM ANALYZE", dbname=DB_NAME)
        lua_path = tmp / "api.lua"
        lua_path.write_text(LUA)
        processes.append(
            subprocess.Popen(
                [
                    str(ROOT / ".venv" / "bin" / "celery"),
                    "-A",
                    "config",
                    "worker",
                    "--concurrency",
                    "1",
                    "--loglevel",
                    "WARNING",
                ],
                cwd=ROOT,
                env=env,
            )
        )
        run_env = {
            **env,
            "BENCH_CODES": str(codes_file),
            "BENCH_TOKENS": str(tokens_file),
            "BENCH_KEY": data["key"],
            "BENCH_SLUG": data["slug"],
            "BENCH_RUN": str(int(time.time())),
        }
        held = ADVOCATES * PER_ADVOCATE
        print(
            f"PostgreSQL {DB_NAME}, Redis, Celery worker; wrk {CONNECTIONS} connections, "
            f"{SECONDS} s per phase; {held} held codes; phases {','.join(PHASES)}"
        )
        used = 0  # held codes spent by earlier conversions: each order gets a fresh one
        for kind, workers, threads in parse_servers(SERVERS_TEXT):
            port = free_port()
            web_env = {**env, "DJANGO_SETTINGS_MODULE": "bench.web_settings"}
            gunicorn = subprocess.Popen(
                [
                    str(ROOT / ".venv" / "bin" / "gunicorn"),
                    "config.wsgi",
                    *server_args(kind, workers, threads),
                    "--bind",
                    f"127.0.0.1:{port}",
                    "--log-level",
                    "warning",
                    *GUNICORN_ARGS,
                ],
                cwd=ROOT,
                env=web_env,
            )
            base = f"http://127.0.0.1:{port}"
            try:
                wait_for(f"{base}/bench/plain")
                for _ in range(10 * workers):  # warm every worker before measuring
                    request = urllib.request.Request(
                        f"{base}/api/v1/programs/bench/participants/adv-0",
                        headers={"Authorization": f"Bearer {data['key']}"},
                    )
                    urllib.request.urlopen(request, timeout=30).read()
                used = run_phases(
                    server_name(kind, workers, threads),
                    workers,
                    run_env,
                    str(lua_path),
                    base,
                    used,
                )
            finally:
                stop(gunicorn)
            if used >= held:
                print("(held codes exhausted: later orders reused codes; raise BENCH_ADVOCATES)")
        check = subprocess.run(
            [
                PY,
                "manage.py",
                "shell",
                "--verbosity",
                "0",
                "-c",
                "from conversions.models import Conversion as C; from participants.models "
                "import Reward as R; from codes.models import PromoCode as P; "
                "from django.db.models import Count; "
                "print(dict(C.objects.values_list('status').annotate(Count('id'))), "
                "R.objects.count(), "
                "P.objects.filter(status='assigned').values('holder')"
                ".annotate(n=Count('id')).filter(n__gt=5, holder__isnull=False).count())",
            ],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
        )
        print(f"stored outcomes, rewards, over-quota advocates: {check.stdout.strip()}")
        if check.returncode:
            print(f"(the check failed: {check.stderr.strip()[-500:]})")
    finally:
        for process in reversed(processes):
            stop(process)
        psql(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        shutil.rmtree(tmp, ignore_errors=True)


def start_receiver():
    """A webhook receiver answering 204 to everything (counting what it got)."""
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    got = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            got.append(self.headers.get("webhook-id"))
            self.send_response(204)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, got


def manage(run_env, *args):
    return subprocess.run(
        [PY, "manage.py", *args], cwd=ROOT, env=run_env, check=True, capture_output=True, text=True
    ).stdout


def webhooks_phase(run_env, lua_path, base, used):
    """Conversions with no endpoint, three, none again; returns the held codes spent."""
    server, got = start_receiver()
    url = f"http://127.0.0.1:{server.server_address[1]}/hooks"
    try:
        none = result(start_wrk(run_env, "conversions", 2, CONNECTIONS, used, lua_path, base))
        used = none["next_offset"]
        show("conversions, no webhook endpoint", none)
        for n in range(3):
            manage(run_env, "add_webhook", "--program", "bench", "--url", f"{url}?n={n}")
        three = result(start_wrk(run_env, "conversions", 2, CONNECTIONS, used, lua_path, base))
        used = three["next_offset"]
        show("conversions, 3 webhook endpoints", three)
        manage(
            run_env,
            "shell",
            "-c",
            "from webhooks.models import Endpoint; Endpoint.objects.all().delete()",
        )
        again = result(start_wrk(run_env, "conversions", 2, CONNECTIONS, used, lua_path, base))
        used = again["next_offset"]
        show("conversions, no endpoint (again)", again)
        ratio = three["rps"] / ((none["rps"] + again["rps"]) / 2)
        print(f"ratio 3 endpoints / none           {ratio:8.2f}   (target ≥ 0.90)")
        print(f"webhook requests received          {len(got):8d}")
    finally:
        server.shutdown()
        server.server_close()
    return used


def run_phases(name, workers, run_env, lua_path, base, used):
    """The phases against one gunicorn; returns the held codes spent so far."""
    print(f"--- gunicorn {name}")
    results = {}
    if "plain" in PHASES:
        results["plain"] = result(start_wrk(run_env, "plain", 2, CONNECTIONS, 0, lua_path, base))
        show("plain Django JSON view", results["plain"])
    if "lookup" in PHASES:
        results["lookup"] = result(start_wrk(run_env, "lookup", 2, CONNECTIONS, 0, lua_path, base))
        show("one-lookup endpoint (GET code)", results["lookup"])
    if "conversions" in PHASES:
        conversions = result(
            start_wrk(run_env, "conversions", 2, CONNECTIONS, used, lua_path, base)
        )
        used = conversions["next_offset"]
        results["conversions"] = conversions
        show("attributed conversions", conversions)
    if "mixed" in PHASES:
        mixed_conv = start_wrk(
            run_env, "conversions", 2, max(2, CONNECTIONS * 3 // 4), used, lua_path, base
        )
        mixed_part = start_wrk(
            run_env, "participants", 1, max(1, CONNECTIONS // 4), used, lua_path, base
        )
        conv2, part2 = result(mixed_conv), result(mixed_part)
        used = conv2["next_offset"]
        show("mixed: conversions", conv2)
        show("mixed: participant upserts", part2)
        print(f"mixed total                        {conv2['rps'] + part2['rps']:8.1f} req/s")
    if "widget" in PHASES:
        # Widget loads (GET /api/v1/widget/me), one connection per gunicorn worker so the
        # latency is the service time, not time queued behind other requests.
        threads = min(2, workers)
        widget = result(start_wrk(run_env, "widget", threads, workers, 0, lua_path, base))
        show(f"widget GET /me ({workers} conns)", widget)
        results["widget"] = widget
    if "review" in PHASES:
        rounds = []
        for policy in ("off", "strict", "off"):
            review_settings(run_env, policy)
            run = result(start_wrk(run_env, "conversions", 2, CONNECTIONS, used, lua_path, base))
            used = run["next_offset"]
            show(f"conversions, review {policy}", run)
            rounds.append(run)
        ratio = rounds[1]["rps"] / ((rounds[0]["rps"] + rounds[2]["rps"]) / 2)
        print(f"ratio review on / off              {ratio:8.2f}   (target ≥ 0.85)")
    if "webhooks" in PHASES:
        used = webhooks_phase(run_env, lua_path, base, used)
    if "plain" in results and "lookup" in results:
        ratio = results["lookup"]["rps"] / results["plain"]["rps"]
        print(f"ratio lookup / plain               {ratio:8.2f}   (target ≥ 0.30)")
    if "lookup" in results and "conversions" in results:
        ratio = results["conversions"]["rps"] / results["lookup"]["rps"]
        print(
            f"ratio conversions / lookup         {ratio:8.2f}   (target ≥ 0.50; "
            f"p95 {results['conversions']['p95_ms']:.1f} ms, target ≤ 50)"
        )
    if "widget" in results:
        p95 = results["widget"]["p95_ms"]
        print(f"widget /me p95                     {p95:8.2f} ms (target ≤ 15)")
    return used


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "--setup":
        setup_data(sys.argv[2], sys.argv[3])
    else:
        main()
