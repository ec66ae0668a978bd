"""Peak memory of reading code files, bombs included (docs/architecture.md: ≤ 250 MB for any file).

Makes each file in a temporary folder, then reads it in a fresh Python process the way the
admin preview does (codes.selectors.upload_preview) and the way `import_codes` does, and prints
the process's peak RSS, the seconds the read took (the preview, or the whole `import_codes`)
and the answer (rows, or the refusal). Uses a throwaway SQLite database:
no shared service is touched.

`--confirm` measures the admin's confirm step instead, as a web worker runs it: the file is
posted to the upload page (preview, kept in the upload store), the peak RSS is reset, then the
confirmation is posted; tasks go to an in-memory broker, so only the web worker's share is
measured. The store is the local folder, or Redis with `--redis URL` (the keys it writes are
removed by the confirmation).

    .venv/bin/python bench/upload_memory.py [--only NAME] [--confirm [--redis URL]]
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

MB = 1024 * 1024


def make_files(folder, only=None):
    from tests.codes import bombs

    made = {}

    def wanted(name):
        return not only or any(part in name for part in only)

    def keep(name, build):
        if wanted(name):
            path = folder / name
            path.write_bytes(build())
            made[name] = path

    keep("whole-sheet-declared.xlsx", lambda: bombs.xlsx_declaring_the_whole_sheet())
    keep("one-400MB-string.xlsx", lambda: bombs.xlsx_with_one_huge_string(400 * MB))
    keep("5M-rows.xlsx", lambda: bombs.xlsx_with_rows(5_000_000))
    keep(
        "400k-rows.ods",
        lambda: bombs.ods("".join(bombs.ods_row(f"C{n:07d}") for n in range(400_000))),
    )
    keep("repeated-1e9-rows.ods", lambda: bombs.ods(bombs.ods_row("abc", repeat=10**9)))
    keep("nested-100k.json", lambda: bombs.json_nested(100_000))
    # Issue 19's bombs.
    keep("repeated-9999999-rows.ods", lambda: bombs.ods_one_row_repeated(9_999_999))
    keep("repeated-1e9-columns.ods", lambda: bombs.ods_one_cell_repeated_across(10**9))
    keep("500MB-styles.xlsx", lambda: bombs.xlsx_with_a_padded_part("xl/styles.xml", 500 * MB))
    keep("500MB-workbook.xlsx", lambda: bombs.xlsx_with_a_padded_part("xl/workbook.xml", 500 * MB))
    keep("25M-empty-strings.xlsx", lambda: bombs.xlsx_with_empty_shared_strings(25_000_000))
    keep("5000-digits.json", lambda: bombs.json_long_number(5_000))
    keep("310-nines.json", lambda: bombs.json_long_number(310, b"9"))
    keep("1M-digits.json", lambda: bombs.json_long_number(1_000_000))
    if wanted("2M-rows.csv"):
        _write_2m_rows(folder, made)
    if wanted("100MB.csv"):
        _write_100mb(folder, made)
    keep("one-10MB-line.txt", lambda: b"abc\n" + b"A" * (10 * MB) + b"\n")
    return made


def _write_2m_rows(folder, made):
    with open(folder / "2M-rows.csv", "w") as out:
        out.write("code\n")
        for n in range(2_000_000):
            out.write(f"CODE{n:08d}\n")
    made["2M-rows.csv"] = folder / "2M-rows.csv"


def _write_100mb(folder, made):
    with open(folder / "100MB.csv", "w") as out:
        out.write("code\n")
        n = 0
        while out.tell() < 100 * MB - 20:
            out.write(f"X{n:09d}\n")
            n += 1
    made["100MB.csv"] = folder / "100MB.csv"


RUNNER = r"""
import json, os, sys
import django
os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
django.setup()
from django.core.management import call_command
mode, path = sys.argv[1], sys.argv[2]
call_command("migrate", verbosity=0)
from programs.services import program_create
from codes.services import pool_get_or_create_referral
program = program_create(slug="mem", name="Mem", promo_codes_enabled=True)
pool = pool_get_or_create_referral(program=program)
def high_water_mb():
    # VmHWM: this process's own peak RSS (ru_maxrss would count the parent's pages at fork).
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
import time
base = high_water_mb()
answer = ""
started = time.monotonic()
try:
    if mode == "confirm":
        import re
        from django.contrib.auth import get_user_model
        from django.test import Client
        from django.test.utils import setup_test_environment
        from config.celery import app
        from codes.models import Batch
        setup_test_environment()
        from django.conf import settings
        settings.DEBUG = False  # as in production: DEBUG keeps every statement with its data
        app.conf.update(broker_url="memory://", task_always_eager=False)
        client = Client()
        client.force_login(get_user_model().objects.create_superuser("bench", "b@x.test", "pw"))
        page = "/admin/codes/batch/upload/"
        with open(path, "rb") as upload:
            shown = client.post(page, {"pool": pool.pk, "import_file": upload})
        reference = re.search(rb'name="upload" value="([^"]+)"', shown.content).group(1)
        del shown
        with open("/proc/self/clear_refs", "w") as clear:
            clear.write("5")  # resets VmHWM to the current RSS: the confirm step alone
        base = high_water_mb()
        done = client.post(page, {"upload": reference.decode(), "confirm": "yes"})
        batch = Batch.objects.get()
        answer = f"{done.status_code}, batch {batch.status}"
    elif mode == "preview":
        from codes.selectors import upload_preview
        with open(path, "rb") as stream:
            preview = upload_preview(pool=pool, stream=stream, file_name=path)
        answer = f"{preview.rows_read:,} rows, {preview.codes_to_add:,} to add"
    else:
        from io import StringIO
        out = StringIO()
        call_command("import_codes", "--program", "mem", path, stdout=out, stderr=StringIO())
        answer = out.getvalue().strip()
except Exception as exc:
    answer = f"refused: {exc}"
seconds = time.monotonic() - started
print(json.dumps(
    {"base_mb": base, "peak_mb": high_water_mb(), "seconds": seconds, "answer": answer[:150]}
))
"""


def measure(mode, path, var_dir, redis_url=None):
    env = {**os.environ, "VAR_DIR": str(var_dir)}
    for name in ("DATABASE_URL", "REDIS_URL", "CELERY_BROKER_URL"):
        env.pop(name, None)
    if redis_url:
        env["REDIS_URL"] = redis_url
    done = subprocess.run(
        [sys.executable, "-c", RUNNER, mode, str(path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    if done.returncode != 0:
        lines = done.stderr.strip().splitlines() or [f"exit status {done.returncode}"]
        return {"peak_mb": float("nan"), "answer": f"crashed ({done.returncode}): {lines[-1]}"}
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--only", help="Only the files whose name contains this (or these, comma-separated)."
    )
    parser.add_argument(
        "--confirm", action="store_true", help="Measure the admin's confirm step instead."
    )
    parser.add_argument("--redis", help="With --confirm: keep uploads in this Redis.")
    args = parser.parse_args()
    only = args.only.split(",") if args.only else None
    modes = ("confirm",) if args.confirm else ("preview", "import")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        files = make_files(folder, only)
        print(
            f"{'file':28} {'on disk':>10} {'mode':8} {'peak RSS':>9} {'(base)':>7} "
            f"{'seconds':>8}  answer"
        )
        for name, path in files.items():
            if only and not any(part in name for part in only):
                continue
            for mode in modes:
                with tempfile.TemporaryDirectory() as var_dir:
                    result = measure(mode, path, var_dir, args.redis)
                    seconds = result.get("seconds", float("nan"))
                size = path.stat().st_size
                print(
                    f"{name:28} {size / 1024:>8,.0f}KB {mode:8} {result['peak_mb']:>7.0f}MB "
                    f"{result.get('base_mb', float('nan')):>5.0f}MB {seconds:>7.1f}s  "
                    f"{result['answer']}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
