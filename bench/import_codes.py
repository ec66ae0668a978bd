"""Benchmark: `manage.py import_codes` of 1,000,000 codes against a raw `psql \\copy`.

Both load the same CSV file on the same PostgreSQL server in the same run: import_codes into a
program's referral pool; psql into a bare table with a unique index on the code. Prints each
run, then the medians, the ratio (target ≤ 2.0) and import_codes' peak RSS (target ≤ 250 MB).

    .venv/bin/python bench/import_codes.py [--rows N] [--runs N]

BENCH_DATABASE_URL (default postgres://root@127.0.0.1:5432/postgres) names the server; the
benchmark creates and finally drops its own database, bench_import.
"""

import argparse
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
PYTHON = sys.executable
SERVER_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://root@127.0.0.1:5432/postgres")
DB_NAME = "bench_import"
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def with_db(url, name):
    parts = urlsplit(url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def psql(url, *args, capture=False):
    return subprocess.run(
        ["psql", url, "-q", "-v", "ON_ERROR_STOP=1", *args],
        check=True,
        capture_output=capture,
        text=True,
    )


def manage(env, *args):
    subprocess.run(
        [PYTHON, "manage.py", *args], cwd=ROOT, env=env, check=True, stdout=subprocess.DEVNULL
    )


def write_codes(path, rows):
    rng = random.Random(20261126)
    seen = set()
    with open(path, "w") as out:
        out.write("code\n")
        while len(seen) < rows:
            code = "".join(rng.choices(ALPHABET, k=12))
            if code not in seen:
                seen.add(code)
                out.write(code + "\n")


def timed_child(cmd, env):
    """Run cmd; return (seconds, peak RSS in MB) of that child alone (os.wait4)."""
    start = time.perf_counter()
    child = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(child.pid, 0)
    seconds = time.perf_counter() - start
    out, err = child.stdout.read().decode(), child.stderr.read().decode()
    if os.waitstatus_to_exitcode(status) != 0:
        sys.exit(f"{' '.join(cmd)} failed:\n{out}{err}")
    return seconds, usage.ru_maxrss / 1024, out.strip()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=3)
    options = parser.parse_args()

    db_url = with_db(SERVER_URL, DB_NAME)
    env = {**os.environ, "DATABASE_URL": db_url, "DJANGO_SETTINGS_MODULE": "config.settings"}
    env.pop("CELERY_BROKER_URL", None)
    psql(SERVER_URL, "-c", f"DROP DATABASE IF EXISTS {DB_NAME}", "-c", f"CREATE DATABASE {DB_NAME}")
    try:
        manage(env, "migrate", "--noinput", "-v0")
        manage(env, "create_program", "bench", "--single-use")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "codes.csv"
            write_codes(path, options.rows)
            size_mb = path.stat().st_size / 1e6
            print(f"{options.rows:,} codes, {size_mb:.1f} MB CSV; {options.runs} runs")
            raw_times, ours, peaks = [], [], []
            for run in range(1, options.runs + 1):
                psql(
                    db_url,
                    "-c",
                    "DROP TABLE IF EXISTS raw_codes",
                    "-c",
                    "CREATE TABLE raw_codes (code varchar(64) NOT NULL)",
                    "-c",
                    "CREATE UNIQUE INDEX raw_codes_code ON raw_codes (code)",
                    "-c",
                    "TRUNCATE codes_promocode, codes_batch CASCADE",
                    "-c",
                    "CHECKPOINT",
                )
                raw, _, _ = timed_child(
                    [
                        "psql",
                        db_url,
                        "-q",
                        "-v",
                        "ON_ERROR_STOP=1",
                        "-c",
                        f"\\copy raw_codes (code) FROM '{path}' WITH (FORMAT csv, HEADER true)",
                    ],
                    env,
                )
                psql(db_url, "-c", "CHECKPOINT")
                seconds, peak, summary = timed_child(
                    [PYTHON, "manage.py", "import_codes", "--program", "bench", str(path)], env
                )
                raw_times.append(raw)
                ours.append(seconds)
                peaks.append(peak)
                print(
                    f"run {run}: psql \\copy {raw:.2f} s, import_codes {seconds:.2f} s "
                    f"(×{seconds / raw:.2f}), peak RSS {peak:.0f} MB"
                )
            print(f"  last summary: {summary}")
            raw_median, ours_median = statistics.median(raw_times), statistics.median(ours)
            print(
                f"median: psql \\copy {raw_median:.2f} s, import_codes {ours_median:.2f} s, "
                f"ratio {ours_median / raw_median:.2f} (target ≤ 2.0), "
                f"peak RSS {max(peaks):.0f} MB (target ≤ 250 MB)"
            )
    finally:
        psql(SERVER_URL, "-c", f"DROP DATABASE IF EXISTS {DB_NAME}")


if __name__ == "__main__":
    main()
