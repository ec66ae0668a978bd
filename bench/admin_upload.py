"""Benchmark: admin upload of 100,000 codes, preview + confirm (target ≤ 15 s in all).

Drives the real admin views in-process (Django's test client, a logged-in superuser) against
PostgreSQL: the preview reads and checks the whole file, the confirm imports it as one batch.
Prints each run and the median.

    .venv/bin/python bench/admin_upload.py [--rows N] [--runs N]

BENCH_DATABASE_URL (default postgres://root@127.0.0.1:5432/postgres) names the server; the
benchmark creates and finally drops its own database, bench_admin_upload.
"""

import argparse
import os
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
SERVER_URL = os.environ.get("BENCH_DATABASE_URL", "postgres://root@127.0.0.1:5432/postgres")
DB_NAME = "bench_admin_upload"
ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def psql(*args):
    subprocess.run(["psql", SERVER_URL, "-q", "-v", "ON_ERROR_STOP=1", *args], check=True)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=3)
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


def run_benchmark(options):
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.core.files.uploadedfile import SimpleUploadedFile
    from django.core.management import call_command
    from django.test import Client
    from django.test.utils import setup_test_environment
    from django.urls import reverse

    from codes.models import Batch
    from codes.services import pool_get_or_create_referral
    from programs.models import Program

    setup_test_environment(debug=False)  # responses carry their template context
    call_command("migrate", "--noinput", verbosity=0)
    user = get_user_model().objects.create_superuser("bench", "bench@example.com", "bench")
    client = Client()
    client.force_login(user)
    url = reverse("admin:codes_batch_upload")
    rng = random.Random(7)
    totals = []
    for run in range(1, options.runs + 1):
        program = Program.objects.create(
            slug=f"bench-{run}", name=f"Bench {run}", promo_codes_enabled=True
        )
        pool = pool_get_or_create_referral(program=program)
        codes = {"".join(rng.choices(ALPHABET, k=12)) for _ in range(options.rows)}
        data = ("code\n" + "\n".join(codes) + "\n").encode()
        start = time.perf_counter()
        preview = client.post(
            url, {"pool": pool.pk, "import_file": SimpleUploadedFile("codes.csv", data)}
        )
        previewed = time.perf_counter()
        form = preview.context["confirm_form"]
        done = client.post(url, {**{n: form.initial[n] for n in form.fields}, "confirm": "1"})
        end = time.perf_counter()
        assert done.status_code == 302, done.status_code
        batch = Batch.objects.get(pool=pool)
        assert batch.codes_added == len(codes), batch.codes_added
        totals.append(end - start)
        print(
            f"run {run}: {len(codes):,} codes, preview {previewed - start:.2f} s, "
            f"confirm {end - previewed:.2f} s, total {end - start:.2f} s"
        )
    print(f"median total {statistics.median(totals):.2f} s (target ≤ 15 s)")


if __name__ == "__main__":
    main()
