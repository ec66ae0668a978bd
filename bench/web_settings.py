"""The project's settings with bench/urls.py as the URL conf: the project's routes plus a plain
JSON view, the yardstick bench/api.py measures the API against. Benchmarks only."""

from config.settings import *  # noqa: F403

ROOT_URLCONF = "bench.urls"
