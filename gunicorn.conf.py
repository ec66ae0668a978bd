"""gunicorn settings for production: `gunicorn -c gunicorn.conf.py config.wsgi` (Procfile).

gunicorn reads this file by itself when started from the project folder, so plain
`gunicorn config.wsgi` (the embedded default) gets the same settings; command-line options
and GUNICORN_CMD_ARGS override them. Every value can be set from the environment.

Bind: gunicorn's own default, 0.0.0.0:$PORT when PORT is set, else 127.0.0.1:8000.
"""

import os
import shutil
import tempfile


def _int(name, default):
    value = os.environ.get(name)
    return int(value) if value else default


def _cpus():
    try:
        return len(os.sched_getaffinity(0))  # the CPUs this process may use (containers)
    except AttributeError:
        return os.cpu_count() or 1


wsgi_app = "config.wsgi"
# The access log and worker recycling are for production; a local run (the embedded default,
# the benchmarks) keeps gunicorn's own behaviour there.
PRODUCTION = os.environ.get("DJANGO_ENV") == "production"

# Sync workers, (2 × CPUs) + 1 of them, chosen by measurement (bench/api.py, BENCH_SERVERS, on
# 2 shared CPUs with PostgreSQL and Redis on the same host, wrk 8 connections, 2026-11-27):
#   attributed conversions  sync 2: 60–85 req/s, p95 180–208 ms | sync 3: 89, p95 129
#                           sync 5: 104–155 req/s, p95 71–109 ms | gthread 2×4: 134, p95 163
#                           gthread 3×2: 91, p95 154 | gthread 5×2: 121, p95 129
#   one-lookup endpoint     sync 2: 88–131 req/s | sync 5: 154–222 | gthread 2×4: 217 | 3×2: 176
#                           | 5×2: 289
# (neighbours' load made those runs vary ±40 %). On a quieter machine: sync 5, 252 req/s,
# p95 45 ms; sync 2, 247 req/s, p95 49 ms (one-lookup 444 vs 482; widget /me p95 36 vs 22 ms).
# A request spends much of its time waiting on PostgreSQL or Redis, so more processes than CPUs
# keep the CPUs busy when neighbours compete for them; threads do it too and are close in rate,
# but their p95 was worse in every paired run (one interpreter lock per process), so processes
# it is. WEB_CONCURRENCY overrides (locally gunicorn's own default: one); GUNICORN_THREADS > 1
# turns threaded workers on. Each worker (each thread) holds one
# database connection (CONN_MAX_AGE).
workers = _int("WEB_CONCURRENCY", 2 * _cpus() + 1 if PRODUCTION else 1)
threads = _int("GUNICORN_THREADS", 1)
worker_class = "gthread" if threads > 1 else "sync"

# The slowest request is an admin upload: a code file up to CODES_UPLOAD_MAX_BYTES (100 MB)
# is received and, above CODES_UPLOAD_ASYNC_BYTES, stored for the Celery worker to import in
# the background; a smaller one is previewed in the request (100,000 codes take ~6 s). Two
# minutes covers both with room to spare; a worker stuck longer is killed and replaced. Put
# a buffering proxy (nginx, a cloud load balancer) in front so that a slow client's upload
# does not hold a worker while it trickles in.
timeout = _int("GUNICORN_TIMEOUT", 120)
# On a deploy (SIGTERM) or a restart (SIGHUP) a worker finishes its request first.
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
# Threaded workers (GUNICORN_THREADS > 1) keep idle connections open longer than most load
# balancers (60 s), so the balancer is the one to close them. Sync workers close each one.
keepalive = _int("GUNICORN_KEEPALIVE", 75)
# Recycle workers now and then (memory a long-lived worker collects); jitter staggers them.
max_requests = _int("GUNICORN_MAX_REQUESTS", 2000 if PRODUCTION else 0)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 200)

# Logs: to stdout/stderr, for the process manager to collect (the access log on stdout in
# production; GUNICORN_ACCESS_LOG=- elsewhere). With LOG_FORMAT=json every line is a JSON object
# (foundation.log_format), gunicorn's own and its access log included.
accesslog = os.environ.get("GUNICORN_ACCESS_LOG", "-" if PRODUCTION else None)
# A participant id in an API path is logged as an opaque reference (foundation.access_log).
logger_class = "foundation.access_log.AccessLogger"
errorlog = "-"
loglevel = os.environ.get("LOG_LEVEL", "info").lower()
if os.environ.get("LOG_FORMAT") == "json":
    # The message of an access line: no query string and no headers (they may carry tokens).
    access_log_format = "%(m)s %(U)s %(s)s"
    logconfig_dict = {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"json": {"()": "foundation.log_format.JsonFormatter"}},
        "handlers": {
            "error_console": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stderr",
            },
            "console": {
                "class": "logging.StreamHandler",
                "formatter": "json",
                "stream": "ext://sys.stdout",
            },
        },
        "loggers": {
            "gunicorn.error": {"level": loglevel.upper(), "handlers": ["error_console"]},
            "gunicorn.access": {"level": "INFO", "handlers": ["console"]},
        },
        "root": {"level": loglevel.upper(), "handlers": ["error_console"]},
    }

# Prometheus with several workers: each worker writes its counters to files in one folder and
# /metrics adds them up, whichever worker answers the scrape. The folder must be set before a
# worker imports prometheus_client, hence here, and emptied at each start.
if os.environ.get("METRICS_ENABLED", "").lower() in {"1", "true", "yes", "on"}:
    _own_metrics_dir = not os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    _metrics_dir = os.environ.get("PROMETHEUS_MULTIPROC_DIR") or tempfile.mkdtemp(
        prefix="referral-metrics-"
    )
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = _metrics_dir

    def on_starting(server):
        shutil.rmtree(_metrics_dir, ignore_errors=True)
        os.makedirs(_metrics_dir, exist_ok=True)

    def child_exit(server, worker):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)

    def on_exit(server):
        if _own_metrics_dir:
            shutil.rmtree(_metrics_dir, ignore_errors=True)
