"""Speed of the code file readers against those of an earlier commit, in one process.

Loads `codes/parsing.py` as it was at REV (a commit from before the readers became the
`codes.parsing` package) beside today's package, then reads the same files in memory with both,
alternating, ROUNDS times; prints the median seconds of `read_rows` and the ratio after / before.
No database is touched.

    .venv/bin/python bench/read_speed.py 5dca39d [--rounds 3] [--only json]
"""

import argparse
import importlib.util
import io
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def files():
    from tests.codes import bombs

    return {
        "400k-rows.ods": lambda: (
            bombs.ods("".join(bombs.ods_row(f"C{n:07d}") for n in range(400_000))),
            "ods",
        ),
        "1M-rows.xlsx": lambda: (bombs.xlsx_with_rows(1_000_000), "xlsx"),
        "1M-codes.json": lambda: (
            ("[" + ",\n".join(f'"CODE{n:08d}"' for n in range(1_000_000)) + "]").encode(),
            "json",
        ),
        "1M-rows.csv": lambda: (
            ("code\n" + "".join(f"CODE{n:08d}\n" for n in range(1_000_000))).encode(),
            "csv",
        ),
    }


def load_old(rev, folder):
    source = subprocess.run(
        ["git", "show", f"{rev}:codes/parsing.py"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    path = Path(folder) / "parsing_before.py"
    path.write_bytes(source)
    spec = importlib.util.spec_from_file_location("codes.parsing_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["codes.parsing_before"] = module
    spec.loader.exec_module(module)
    return module


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("rev", help="A commit whose codes/parsing.py is one module.")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", help="Only the files whose name contains this.")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    import django

    django.setup()
    import codes.parsing as after

    with tempfile.TemporaryDirectory() as folder:
        before = load_old(args.rev, folder)
        for name, build in files().items():
            if args.only and args.only not in name:
                continue
            data, fmt = build()
            times = {"before": [], "after": []}
            for _ in range(args.rounds):
                for label, module in (("before", before), ("after", after)):
                    started = time.perf_counter()
                    rows = sum(1 for _ in module.read_rows(io.BytesIO(data), fmt))
                    times[label].append(time.perf_counter() - started)
            b = sorted(times["before"])[len(times["before"]) // 2]
            a = sorted(times["after"])[len(times["after"]) // 2]
            print(
                f"{name:16} {rows:>10,} rows  before {b:6.2f} s  after {a:6.2f} s  "
                f"after/before {a / b:.2f}",
                flush=True,
            )


if __name__ == "__main__":
    main()
