"""The cluster scenario: the project run past one machine's shape, on loopback, and checked.

Starts, each on its own port: PgBouncer in transaction mode (scripts/pgbouncer, 6432) and a
streaming replica (scripts/replica, 5433) unless they run already; a fresh PostgreSQL database
(created, migrated, dropped); two gunicorn nodes (CLUSTER_PORT + 1, + 2) reaching PostgreSQL
through PgBouncer and reading the replica; HAProxy (CLUSTER_PORT, Debian's package installed
when missing) balancing them, probing /readyz; two Celery workers (one on every queue, one on
the topups and alerts queues only) and beat, on Redis.

Then 32 clients (4 processes × 8 threads) post participant upserts and orders through the
balancer, phase after phase (CLUSTER_SECONDS each):

  one node    the second node held out of the balancer (HAProxy's maintenance state)
  two nodes   both nodes
  chaos       both nodes, while a manager downloads the code export again and again (the
              replica serves it) and the second node is killed (SIGKILL) a third of the way
              in and started again at two thirds

and prints requests/s, latency and where the CPU went in each phase. CLUSTER_COMPARE=0 runs
the chaos phase alone (the short run of scripts/test).

After the load it checks, and exits non-zero when a check fails:
  - no code held twice: no single-use code attributed twice, no advocate over quota;
  - one reward per attributed order;
  - every accepted order stored (each 201/200 answer's OrderId is in the database, attributed);
  - a key revoked through the admin of one node is refused by the other node on its next
    request (both nodes had the key in their per-process caches);
  - throttles are shared: a key allowed N requests a minute, called N + 10 times alternately
    on the two nodes, is refused exactly 10 times.

Environment: BENCH_DATABASE_URL (the PostgreSQL server, default
postgres://root@127.0.0.1:5432/postgres), BENCH_DB_NAME (default bench_cluster), BENCH_REDIS_URL
(default redis://127.0.0.1:6379/5), CLUSTER_SECONDS (default 30), CLUSTER_COMPARE (default 1),
CLUSTER_WORKERS (gunicorn workers per node, default 3), CLUSTER_PORT (default 18100),
CLUSTER_ADVOCATES (default 6000), PGBOUNCER_PORT, REPLICA_PORT.
"""

import http.client
import json
import multiprocessing
import os
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from collections import Counter
from http.cookiejar import CookieJar
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = ROOT / ".venv" / "bin"
PY = str(BIN / "python")
SERVER_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://root@127.0.0.1:5432/postgres")
DB_NAME = os.environ.get("BENCH_DB_NAME", "bench_cluster")
REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/5")
SECONDS = float(os.environ.get("CLUSTER_SECONDS", "30"))
COMPARE = os.environ.get("CLUSTER_COMPARE", "1") != "0"
WORKERS = int(os.environ.get("CLUSTER_WORKERS", "3"))
PORT = int(os.environ.get("CLUSTER_PORT", "18100"))
NODE_PORTS = (PORT + 1, PORT + 2)
ADVOCATES = int(os.environ.get("CLUSTER_ADVOCATES", "6000" if COMPARE else "2000"))
PGBOUNCER_PORT = int(os.environ.get("PGBOUNCER_PORT", "6432"))
REPLICA_PORT = int(os.environ.get("REPLICA_PORT", "5433"))
CLIENT_PROCESSES, CLIENT_THREADS = 4, 8
PER_ADVOCATE = 5
THROTTLED_RATE = 30
MANAGER = ("manager", "manager-password-1")


# --- Data, made inside Django -----------------------------------------------------------------


def setup_data(out_path):
    """Runs inside Django (`bench/cluster.py --setup OUT`, with the direct database URL)."""
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.db import transaction
    from django.utils import timezone

    from codes.models import Batch, BatchSource, BatchStatus, CodeStatus, PromoCode
    from codes.services import pool_get_or_create_referral
    from participants.models import Participant
    from programs.models import CodeUsage
    from programs.services import api_key_create, program_create

    spare = ADVOCATES * PER_ADVOCATE * 2 + 20_000
    with transaction.atomic():
        program = program_create(
            slug="cluster",
            name="Cluster",
            promo_codes_enabled=True,
            code_usage=CodeUsage.SINGLE,
            codes_per_advocate=PER_ADVOCATE,
            low_stock_threshold=10,
        )
        _, key = api_key_create(program=program, name="shop", requests_per_minute=10**7)
        revocable, revocable_key = api_key_create(program=program, name="leaked")
        _, throttled_key = api_key_create(
            program=program, name="throttled", requests_per_minute=THROTTLED_RATE
        )
        pool = pool_get_or_create_referral(program=program)
        batch = Batch.objects.create(
            pool=pool,
            source=BatchSource.GENERATED,
            usage=CodeUsage.SINGLE,
            status=BatchStatus.COMPLETED,
        )
        PromoCode.objects.bulk_create(
            (
                PromoCode(program=program, pool=pool, batch=batch, code=f"K{i:08d}", usage="single")
                for i in range(ADVOCATES * PER_ADVOCATE + spare)
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
        get_user_model().objects.create_superuser(MANAGER[0], "m@example.com", MANAGER[1])
    Path(out_path).write_text(
        json.dumps(
            {
                "slug": program.slug,
                "key": key,
                "revocable_key": revocable_key,
                "revocable_id": revocable.pk,
                "throttled_key": throttled_key,
                "codes": [code.code for code in held],
                "codes_total": ADVOCATES * PER_ADVOCATE + spare,
            }
        )
    )


CHECKS_SQL = {
    # A single-use code attributed by two orders: a code handed out twice.
    "codes attributed twice": """
        SELECT count(*) FROM (SELECT code_id FROM conversions_conversion
        WHERE status = 'attributed' GROUP BY code_id HAVING count(*) > 1) AS twice""",
    "advocates over quota": f"""
        SELECT count(*) FROM (SELECT holder_id FROM codes_promocode WHERE status = 'assigned'
        AND holder_id IS NOT NULL GROUP BY holder_id HAVING count(*) > {PER_ADVOCATE}) AS over""",
    "attributed orders without exactly one reward": """
        SELECT count(*) FROM conversions_conversion c WHERE c.status = 'attributed'
        AND (c.reward_id IS NULL OR EXISTS (SELECT 1 FROM conversions_conversion d
             WHERE d.reward_id = c.reward_id AND d.id <> c.id))""",
    "rewards without an attributed order": """
        SELECT count(*) FROM participants_reward r WHERE NOT EXISTS (
            SELECT 1 FROM conversions_conversion c WHERE c.reward_id = r.id)""",
}


# --- Processes ---------------------------------------------------------------------------------


def psql(sql, dbname=None, fetch=False):
    import psycopg

    url = SERVER_URL if dbname is None else f"{SERVER_URL.rsplit('/', 1)[0]}/{dbname}"
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(sql)
        return cursor.fetchall() if fetch else None


def ensure_haproxy():
    if shutil.which("haproxy"):
        return shutil.which("haproxy")
    print("HAProxy not found: installing it with apt-get (Debian package haproxy)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    if subprocess.run(["apt-get", "install", "-y", "-q", "haproxy"], env=env).returncode:
        subprocess.run(["apt-get", "update", "-q"], env=env, check=True)
        subprocess.run(["apt-get", "install", "-y", "-q", "haproxy"], env=env, check=True)
    # The package's own service, if it started one, has nothing to do with this scenario.
    return shutil.which("haproxy") or "/usr/sbin/haproxy"


def service(name, command, env):
    """scripts/pgbouncer or scripts/replica; returns True when this call started it."""
    script = str(ROOT / "scripts" / name)
    if subprocess.run([script, "status"], env=env, capture_output=True).returncode == 0:
        return False
    subprocess.run([script, command], env=env, check=True)
    return True


def haproxy_config(path, socket_path):
    servers = "\n".join(
        f"    server node{n} 127.0.0.1:{port} maxconn {WORKERS} check inter 2s fall 3 rise 2"
        for n, port in enumerate(NODE_PORTS, start=1)
    )
    path.write_text(f"""
global
    maxconn 2000
    stats socket {socket_path} mode 600 level admin

defaults
    mode http
    timeout connect 2s
    timeout client 60s
    timeout server 60s
    # A node's sync workers serve one request each (maxconn per server below): the rest wait
    # in HAProxy's queue, not in the node's listen backlog, where /readyz probes would queue
    # behind them and time out.
    timeout queue 30s
    # A probe waits for a free sync worker like any request (an export holds one for seconds):
    # a node is out after 3 probes unanswered for 10 s each, or at once refused (killed).
    timeout check 10s
    # A request that could not reach a node (refused connection) goes to the other one; a
    # request that reached a node is never sent twice (retry-on's default: conn-failure).
    retries 2
    option redispatch
    option http-server-close

frontend referrals
    bind 127.0.0.1:{PORT}
    default_backend web

backend web
    balance roundrobin
    option httpchk GET /readyz
    http-check expect status 200
{servers}
""")


def postmaster_pid(url):
    """The pid of the PostgreSQL server at `url` (its postmaster.pid), when it runs here."""
    import psycopg

    try:
        with psycopg.connect(url, autocommit=True, connect_timeout=3) as conn:
            data_directory = conn.execute("SHOW data_directory").fetchone()[0]
        return int((Path(data_directory) / "postmaster.pid").read_text().split()[0])
    except (psycopg.Error, OSError, ValueError):
        return None


def haproxy_command(socket_path, command):
    with socket.socket(socket.AF_UNIX) as s:
        s.connect(str(socket_path))
        s.sendall(command.encode() + b"\n")
        chunks = []
        while chunk := s.recv(65536):
            chunks.append(chunk)
    return b"".join(chunks).decode()


def start_node(port, env, log):
    return subprocess.Popen(
        [
            str(BIN / "gunicorn"),
            "config.wsgi",
            "--workers",
            str(WORKERS),
            "--bind",
            f"127.0.0.1:{port}",
            "--log-level",
            "warning",
        ],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,  # its own process group: killed whole, workers included
    )


def wait_ready(url, seconds=90):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(url, timeout=3) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.25)
    raise RuntimeError(f"{url} did not become ready within {seconds} s")


def stop_group(process, timeout=20):
    if process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        process.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


# --- CPU accounting ----------------------------------------------------------------------------


def cpu_sample(groups):
    """{group: CPU seconds used so far} for process groups {name: set of root pids} (each
    root with its descendants), every pgbouncer, haproxy and redis process, and the whole box."""
    ticks = os.sysconf("SC_CLK_TCK")
    procs = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        procs[int(entry)] = (comm, int(fields[1]), (int(fields[11]) + int(fields[12])) / ticks)
    children = {}
    for pid, (_, ppid, _) in procs.items():
        children.setdefault(ppid, []).append(pid)
    used = Counter()
    for name, roots in groups.items():
        stack = list(roots)
        while stack:
            pid = stack.pop()
            if pid in procs:
                used[name] += procs[pid][2]
                stack.extend(children.get(pid, []))
    for comm, _, seconds in procs.values():
        if comm in ("pgbouncer", "haproxy", "redis-server"):
            used[comm] += seconds
    line = Path("/proc/stat").read_text().splitlines()[0].split()[1:]
    values = [int(v) / ticks for v in line]
    used["box busy"] = sum(values) - values[3] - values[4]  # all but idle and iowait
    used["box total"] = sum(values)
    return used


# --- Load --------------------------------------------------------------------------------------


def client_process(args):
    """One client process: CLIENT_THREADS threads posting through the balancer for `seconds`;
    returns ([(kind, id, status, latency_ms, code used or None)], CPU seconds)."""
    proc, seconds, data, run, codes = args
    results = []
    lock = threading.Lock()
    headers = {"Authorization": f"Bearer {data['key']}", "Content-Type": "application/json"}
    slug = data["slug"]

    def client(thread):
        mine = codes[thread::CLIENT_THREADS]
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
        done, n = [], 0
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            n += 1
            code = None
            if n % 3 == 0 or not mine:
                kind, ident = "upsert", f"p-{run}-{proc}-{thread}-{n}"
                method, path = "PUT", f"/api/v1/programs/{slug}/participants/{ident}"
                body = {"email": f"{ident}@example.com", "first_name": "Cluster"}
            else:
                kind, ident = "order", f"o-{run}-{proc}-{thread}-{n}"
                method, path = "POST", f"/api/v1/programs/{slug}/conversions"
                code = mine.pop()
                body = {
                    "OrderId": ident,
                    "OrderPromoCode": code,
                    "CustomerId": f"c-{ident}",
                    "OrderSubtotal": "80.00",
                    "CurrencyCode": "USD",
                }
            started = time.monotonic()
            try:
                conn.request(method, path, json.dumps(body), headers)
                response = conn.getresponse()
                payload = response.read()
                status = response.status
                if kind == "order" and status in (200, 201):
                    outcome = json.loads(payload)["status"]
                    kind = f"order:{outcome}"
                if response.getheader("connection", "").lower() == "close":
                    conn.close()
            except (OSError, http.client.HTTPException):
                status = 0  # the connection broke (a node killed mid-request)
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=30)
            done.append((kind, ident, status, (time.monotonic() - started) * 1000, code))
            if status in (0, 502, 503, 504):
                time.sleep(0.1)  # no node could take it: a real client backs off too
        conn.close()
        with lock:
            results.extend(done)

    threads = [threading.Thread(target=client, args=(t,)) for t in range(CLIENT_THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return results, usage.ru_utime + usage.ru_stime


class Manager:
    """A program manager in the admin (a cookie session over HTTP, CSRF included)."""

    def __init__(self, base):
        self.base = base
        self.jar = CookieJar()
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.jar))
        self.opener.open(f"{base}/admin/login/", timeout=30).read()
        self.post(
            "/admin/login/", {"username": MANAGER[0], "password": MANAGER[1], "next": "/admin/"}
        )

    def csrf(self):
        return next(c.value for c in self.jar if c.name == "csrftoken")

    def post(self, path, fields):
        body = urllib.parse.urlencode({**fields, "csrfmiddlewaretoken": self.csrf()}, doseq=True)
        request = urllib.request.Request(f"{self.base}{path}", data=body.encode(), method="POST")
        request.add_header("Referer", f"{self.base}{path}")
        with self.opener.open(request, timeout=60) as response:
            return response.status, response.read()

    def get(self, path):
        with self.opener.open(f"{self.base}{path}", timeout=120) as response:
            return response.status, response.read()


def exporter(base, stop, outcome):
    """The manager downloading the code export, again and again, until `stop`."""
    manager = None
    while not stop.is_set():
        started = time.monotonic()
        try:
            manager = manager or Manager(base)
            status, body = manager.get("/admin/codes/promocode/export-csv/")
            rows = body.count(b"\n") - 1
            outcome["exports"].append((status, rows, time.monotonic() - started))
        except (OSError, http.client.HTTPException) as error:
            outcome["export_errors"].append(f"{type(error).__name__}: {error}")
            time.sleep(0.5)


def api(port, key, path, method="GET", body=None):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request(
            method,
            path,
            None if body is None else json.dumps(body),
            {"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
        )
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


def unused(codes, phase):
    """The held codes no order of `phase` carried: each order gets a code never used before."""
    used = {row[4] for row in phase if row[4]}
    return [code for code in codes if code not in used]


def run_phase(name, seconds, data, codes, groups, extra=None, cpu=True):
    run = f"{name[0]}{int(time.time())}"
    per_process = [codes[p::CLIENT_PROCESSES] for p in range(CLIENT_PROCESSES)]
    before = cpu_sample(groups())
    started = time.monotonic()
    with multiprocessing.Pool(CLIENT_PROCESSES) as pool:
        pending = pool.map_async(
            client_process,
            [(p, seconds, data, run, per_process[p]) for p in range(CLIENT_PROCESSES)],
        )
        if extra:
            extra()
        answers = pending.get(timeout=seconds + 120)
    elapsed = time.monotonic() - started
    after = cpu_sample(groups())
    results = [row for rows, _ in answers for row in rows]
    after["clients"] = sum(cpu for _, cpu in answers)
    ok = [r for r in results if r[2] in (200, 201)]
    latencies = sorted(r[3] for r in ok) or [0.0]
    kinds = Counter(r[0] for r in ok)
    failed = Counter(r[2] for r in results if r[2] not in (200, 201))
    print(
        f"{name:<10} {len(ok) / elapsed:7.1f} req/s  p50 {latencies[len(latencies) // 2]:6.1f} ms"
        f"  p95 {latencies[int(len(latencies) * 0.95)]:6.1f} ms  ({len(ok)} answered: "
        f"{dict(sorted(kinds.items()))}; failed by status: {dict(failed) or 'none'})"
    )
    if not cpu:  # a node killed mid-phase took its CPU time with it
        return results, len(ok) / elapsed
    busy = after["box busy"] - before["box busy"]
    total = after["box total"] - before["box total"]
    shares = {
        key: after[key] - before.get(key, 0)
        for key in after
        if key not in ("box busy", "box total")
    }
    shown = ", ".join(
        f"{key} {seconds_used / total * 100:.0f}%"
        for key, seconds_used in sorted(shares.items(), key=lambda item: -item[1])
        if seconds_used > 0.05
    )
    print(
        f"           CPU of the box's 2 cores: {busy / total * 100:.0f}% busy — {shown}; "
        "the rest of the busy time is other work on the machine"
    )
    return results, len(ok) / elapsed


def main():
    haproxy_bin = ensure_haproxy()
    base_db = SERVER_URL.rsplit("/", 1)[0]
    direct_url = f"{base_db}/{DB_NAME}"
    user = urllib.parse.urlsplit(SERVER_URL).username or "root"
    pooled_url = f"postgres://{user}@127.0.0.1:{PGBOUNCER_PORT}/{DB_NAME}"
    replica_url = f"postgres://{user}@127.0.0.1:{REPLICA_PORT}/{DB_NAME}"
    script_env = {
        **os.environ,
        "PGBOUNCER_PORT": str(PGBOUNCER_PORT),
        "REPLICA_PORT": str(REPLICA_PORT),
    }
    env = {
        **os.environ,
        "DATABASE_URL": pooled_url,
        "DATABASE_POOLER": "pgbouncer",
        "DATABASE_REPLICA_URL": replica_url,
        "REDIS_URL": REDIS_URL,
        "CELERY_BROKER_URL": REDIS_URL,
        "DEBUG": "0",
        "LOG_LEVEL": "WARNING",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
    }
    for name in ("TEST_DATABASE_NAME", "REQUIRE_SERVICES", "DJANGO_SETTINGS_MODULE"):
        env.pop(name, None)
    tmp = Path(tempfile.mkdtemp(prefix="bench-cluster-"))
    env["VAR_DIR"] = str(tmp / "var")
    log = (tmp / "processes.log").open("w")
    started_services, processes, nodes = [], [], {}
    failures = []
    try:
        for name in ("pgbouncer", "replica"):
            if service(name, "start", script_env):
                started_services.append(name)
        psql(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        psql(f'CREATE DATABASE "{DB_NAME}"')
        subprocess.run(["redis-cli", "-u", REDIS_URL, "FLUSHDB"], check=False, capture_output=True)
        direct = {**env, "DATABASE_URL": direct_url}
        for name in ("DATABASE_POOLER", "DATABASE_REPLICA_URL"):
            direct.pop(name)
        subprocess.run([PY, "manage.py", "migrate", "-v0"], cwd=ROOT, env=direct, check=True)
        setup_file = tmp / "setup.json"
        subprocess.run([PY, __file__, "--setup", str(setup_file)], cwd=ROOT, env=direct, check=True)
        data = json.loads(setup_file.read_text())
        codes = data.pop("codes")
        psql("VACUUM ANALYZE", dbname=DB_NAME)

        socket_path = tmp / "haproxy.sock"
        haproxy_config(tmp / "haproxy.cfg", socket_path)
        for port in NODE_PORTS:
            nodes[port] = start_node(port, env, log)
        celery = str(BIN / "celery")
        workers = [
            [celery, "-A", "config", "worker", "-n", "all@%h", "--concurrency", "1"],
            [
                celery,
                "-A",
                "config",
                "worker",
                "-n",
                "topups@%h",
                "--concurrency",
                "1",
                "-Q",
                "topups,alerts",
            ],
            [celery, "-A", "config", "beat", "--schedule", str(tmp / "beat-schedule")],
        ]
        for command in workers:
            processes.append(
                subprocess.Popen(
                    [*command, "--loglevel", "WARNING"],
                    cwd=ROOT,
                    env=env,
                    stdout=log,
                    stderr=log,
                    start_new_session=True,
                )
            )
        processes.append(
            subprocess.Popen(
                [haproxy_bin, "-f", str(tmp / "haproxy.cfg"), "-db"],
                stdout=log,
                stderr=log,
                start_new_session=True,
            )
        )
        for port in NODE_PORTS:
            wait_ready(f"http://127.0.0.1:{port}/readyz")
        wait_ready(f"http://127.0.0.1:{PORT}/readyz")
        time.sleep(1.5)  # HAProxy's checks mark both nodes up
        base = f"http://127.0.0.1:{PORT}"
        for _ in range(4 * WORKERS):  # every worker of both nodes warmed up
            api(PORT, data["key"], f"/api/v1/programs/{data['slug']}/participants/adv-0")

        postgres = {
            "postgres primary": postmaster_pid(SERVER_URL),
            "postgres replica": postmaster_pid(replica_url),
        }

        def groups():
            return {
                **{name: {pid} for name, pid in postgres.items() if pid},
                "node 1": {nodes[NODE_PORTS[0]].pid},
                "node 2": {nodes[NODE_PORTS[1]].pid},
                "celery": {p.pid for p in processes[:3]},
            }

        print(
            f"Cluster: HAProxy 127.0.0.1:{PORT} -> 2 gunicorn nodes × {WORKERS} sync workers; "
            f"PgBouncer :{PGBOUNCER_PORT} (transaction mode); replica :{REPLICA_PORT}; 2 Celery "
            f"workers + beat; {CLIENT_PROCESSES * CLIENT_THREADS} clients, "
            f"{SECONDS:g} s per phase; {len(codes)} held codes"
        )
        results = []
        rates = {}
        stop_sampling = threading.Event()
        threading.Thread(target=sample_pool_peak, args=(user, stop_sampling), daemon=True).start()
        if COMPARE:
            haproxy_command(socket_path, "set server web/node2 state maint")
            time.sleep(1)
            phase, rates["one node"] = run_phase("one node", SECONDS, data, codes, groups)
            results += phase
            codes = unused(codes, phase)
            haproxy_command(socket_path, "set server web/node2 state ready")
            time.sleep(1.5)
            phase, rates["two nodes"] = run_phase("two nodes", SECONDS, data, codes, groups)
            results += phase
            codes = unused(codes, phase)

        stop_export = threading.Event()
        export_outcome = {"exports": [], "export_errors": []}
        node_events = []

        def chaos():
            export_thread = threading.Thread(
                target=exporter, args=(base, stop_export, export_outcome), daemon=True
            )
            export_thread.start()
            time.sleep(SECONDS / 3)
            victim = nodes[NODE_PORTS[1]]
            os.killpg(victim.pid, signal.SIGKILL)
            victim.wait()
            node_events.append(f"node 2 killed at {SECONDS / 3:.0f} s")
            time.sleep(SECONDS / 3)
            nodes[NODE_PORTS[1]] = start_node(NODE_PORTS[1], env, log)
            wait_ready(f"http://127.0.0.1:{NODE_PORTS[1]}/readyz")
            node_events.append(f"node 2 restarted at {2 * SECONDS / 3:.0f} s, ready")

        phase, rates["chaos"] = run_phase("chaos", SECONDS, data, codes, groups, chaos, cpu=False)
        stop_export.set()
        results += phase
        print(f"           {'; '.join(node_events)}")
        log.flush()
        balancer = [
            line.split(" is ")[0].split("Server ")[-1] + " " + line.split(" is ")[1].split(",")[0]
            for line in (tmp / "processes.log").read_text().splitlines()
            if "Server web/" in line and (" is DOWN" in line or " is UP" in line)
        ]
        print(f"           HAProxy saw: {', '.join(balancer) or 'no change'}")
        exports = export_outcome["exports"]
        complete = [e for e in exports if e[0] == 200 and e[1] == data["codes_total"]]
        print(
            f"           manager exports: {len(complete)} complete of {len(exports)} "
            f"({data['codes_total']} rows each"
            + (
                f", {min(e[2] for e in complete):.1f}–{max(e[2] for e in complete):.1f} s"
                if complete
                else ""
            )
            + f"), {len(export_outcome['export_errors'])} broken off by the kill"
        )
        if not complete:
            failures.append("the manager's export never completed")
        if COMPARE:
            print(
                f"ratio two nodes / one node: {rates['two nodes'] / rates['one node']:.2f} "
                "(one box: both nodes share its 2 CPUs with PostgreSQL, PgBouncer, HAProxy, "
                "Redis, Celery and the clients)"
            )

        stop_sampling.set()
        pools = pgbouncer_pools(user)
        if pools:
            print(
                f"PgBouncer pool of {DB_NAME}: {pools['clients']} client connections served by "
                f"{pools['servers']} server connections (at most {pools['peak']} busy at a "
                f"sampled moment of the run)"
            )

        # --- The checks -----------------------------------------------------------------
        failures += check_database(results)
        failures += check_revocation(data)
        failures += check_throttle(data)
    finally:
        for process in list(nodes.values()) + processes:
            stop_group(process)
        log.close()
        try:
            psql(f'DROP DATABASE IF EXISTS "{DB_NAME}" WITH (FORCE)')
        finally:
            for name in reversed(started_services):
                subprocess.run([str(ROOT / "scripts" / name), "stop"], env=script_env)
        if failures:
            print(f"(process logs kept in {tmp / 'processes.log'})")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        print("FAILED: " + "; ".join(failures))
        sys.exit(1)
    print("All checks passed.")


_pool_peak = 0


def pgbouncer_pools(user):
    """Client and server connections of the bench database's pool (PgBouncer's SHOW POOLS)."""
    import psycopg

    try:
        with psycopg.connect(
            f"postgres://{user}@127.0.0.1:{PGBOUNCER_PORT}/pgbouncer", autocommit=True
        ) as conn:
            cursor = conn.execute("SHOW POOLS")
            names = [column.name for column in cursor.description]
            rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    except psycopg.Error:
        return None
    for row in rows:
        if row["database"] == DB_NAME:
            servers = row["sv_active"] + row["sv_idle"] + row["sv_used"] + row["sv_tested"]
            clients = row["cl_active"] + row["cl_waiting"]
            return {
                "clients": clients,
                "servers": servers,
                "peak": max(_pool_peak, row["sv_active"]),
            }
    return None


def sample_pool_peak(user, stop):
    """Samples PgBouncer's busy server connections of the bench database while load runs."""
    global _pool_peak
    while not stop.wait(0.2):
        pools = pgbouncer_pools(user)
        if pools:
            _pool_peak = max(_pool_peak, pools["peak"])


def check_database(results):
    failures = []
    for name, sql in CHECKS_SQL.items():
        (count,) = psql(sql, dbname=DB_NAME, fetch=True)[0]
        print(f"check: {name}: {count}")
        if count:
            failures.append(f"{name}: {count}")
    accepted = {r[1]: r[0] for r in results if r[0].startswith("order") and r[2] in (200, 201)}
    stored = dict(
        psql("SELECT order_id, status FROM conversions_conversion", dbname=DB_NAME, fetch=True)
    )
    missing = [order for order in accepted if order not in stored]
    changed = [order for order, kind in accepted.items() if stored.get(order) != kind[6:]]
    upserts = {r[1] for r in results if r[0] == "upsert" and r[2] in (200, 201)}
    participants = {
        row[0]
        for row in psql(
            "SELECT participant_id FROM participants_participant", dbname=DB_NAME, fetch=True
        )
    }
    print(
        f"check: accepted orders stored: {len(accepted) - len(missing)} of {len(accepted)} "
        f"(outcome as answered: {len(accepted) - len(changed)}); accepted upserts stored: "
        f"{len(upserts & participants)} of {len(upserts)}"
    )
    if missing or changed:
        failures.append(f"{len(missing)} accepted orders missing, {len(changed)} changed")
    if upserts - participants:
        failures.append(f"{len(upserts - participants)} accepted upserts missing")
    return failures


def check_revocation(data):
    path = f"/api/v1/programs/{data['slug']}/participants/adv-1"
    key = data["revocable_key"]
    warm = [api(port, key, path) for port in NODE_PORTS for _ in range(4 * WORKERS)]
    if set(warm) != {200}:
        return [f"the key to revoke did not work before: {Counter(warm)}"]
    manager = Manager(f"http://127.0.0.1:{NODE_PORTS[0]}")
    status, _ = manager.post(
        "/admin/programs/apikey/",
        {"action": "revoke", "_selected_action": data["revocable_id"]},
    )
    after = [api(NODE_PORTS[1], key, path) for _ in range(2 * WORKERS)]
    print(
        f"check: key revoked in node 1's admin (answer {status}); node 2's next "
        f"{len(after)} requests answered {dict(Counter(after))}"
    )
    if set(after) != {401}:
        return [f"node 2 still accepted the revoked key: {Counter(after)}"]
    return []


def check_throttle(data):
    # One fixed minute window: start early in one.
    if time.time() % 60 > 40:
        time.sleep(61 - time.time() % 60)
    path = f"/api/v1/programs/{data['slug']}/participants/adv-2"
    answers = [
        api(NODE_PORTS[i % 2], data["throttled_key"], path) for i in range(THROTTLED_RATE + 10)
    ]
    counted = Counter(answers)
    print(
        f"check: a key allowed {THROTTLED_RATE}/min, called {len(answers)} times alternately on "
        f"the two nodes: {dict(counted)}"
    )
    if counted != Counter({200: THROTTLED_RATE, 429: 10}):
        return [f"throttle not shared across nodes: {dict(counted)}"]
    return []


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--setup":
        setup_data(sys.argv[2])
    else:
        main()
