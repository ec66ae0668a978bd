"""Liveness and readiness probes, on django-health-check's checks.

/healthz: the process answers. No database, no network: a load balancer or an orchestrator
restarts a process that stops answering it, and a database outage must not restart every web
process at once.

/readyz: the process can do its work. django-health-check's checks of what is configured: the
database (SELECT 1) and its migrations always; Redis when REDIS_URL is set; the Celery broker
when CELERY_BROKER_URL is set. 200 when all pass; 503 otherwise, with a JSON body naming each
failed check (details go to the log, not to the caller: the body never names hosts or ports).
"""

import asyncio
import dataclasses
import datetime
import logging
from urllib.parse import urlsplit

from asgiref.sync import async_to_sync, sync_to_async
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.executor import MigrationExecutor
from django.http import JsonResponse
from django.utils.cache import add_never_cache_headers
from django.views.decorators.http import require_safe
from health_check import checks
from health_check.base import HealthCheck
from health_check.contrib.redis import Redis
from health_check.exceptions import ServiceUnavailable
from redis.asyncio import Redis as AsyncRedis
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from .api_errors import error_body

logger = logging.getLogger(__name__)

# A probe must answer well inside a load balancer's own timeout (often 5 s).
CHECK_TIMEOUT = datetime.timedelta(seconds=3)
REDIS_SCHEMES = {"redis", "rediss", "unix"}


@dataclasses.dataclass
class Database(checks.Database):
    """SELECT 1, on the request thread's own connection (CONN_MAX_AGE keeps it open between
    probes) instead of a new connection from a worker thread on every probe."""

    timeout = CHECK_TIMEOUT

    async def run(self):
        await sync_to_async(super().run, thread_sensitive=True)()


@dataclasses.dataclass
class Migrations(HealthCheck):
    """Every migration on disk is applied: a web process of a newer release waits for
    `migrate` before taking traffic (about 7 ms: one query and the in-memory graph)."""

    alias: str = DEFAULT_DB_ALIAS
    timeout = CHECK_TIMEOUT

    async def run(self):
        await sync_to_async(self._check, thread_sensitive=True)()

    def _check(self):
        executor = MigrationExecutor(connections[self.alias])
        plan = executor.migration_plan(executor.loader.graph.leaf_nodes())
        if plan:
            names = ", ".join(f"{m.app_label}.{m.name}" for m, _ in plan)
            logger.warning("Not ready: %d migrations not applied: %s", len(plan), names)
            raise ServiceUnavailable(f"{len(plan)} migrations not applied (run manage.py migrate)")


@dataclasses.dataclass(repr=False)  # keep Redis' repr: host, port and db
class RedisPing(Redis):
    timeout = CHECK_TIMEOUT


@dataclasses.dataclass(repr=False)
class Broker(HealthCheck):
    """A Celery broker that is not Redis (AMQP, …): open and close a connection with kombu,
    with the transport options Celery itself uses."""

    url: str = dataclasses.field(repr=False, default="")
    timeout = CHECK_TIMEOUT

    def __repr__(self):
        parts = urlsplit(self.url)
        return f"Broker({parts.scheme}://{parts.hostname}:{parts.port})"

    def run(self):
        from config.celery import app

        connection = app.connection_for_write(self.url)
        try:
            connection.ensure_connection(max_retries=0, timeout=CHECK_TIMEOUT.total_seconds())
        except Exception as error:  # kombu raises the transport's own errors
            raise ServiceUnavailable(f"Unable to connect to the broker: {error}") from error
        finally:
            connection.release()


def _redis(url):
    return RedisPing(
        client_factory=lambda: AsyncRedis.from_url(
            url, socket_connect_timeout=2, socket_timeout=2, retry=Retry(NoBackoff(), 0)
        )
    )


def readiness_checks():
    """{name: check} for what this process is configured to use."""
    named = {"database": Database(), "migrations": Migrations()}
    if settings.REDIS_URL:
        named["redis"] = _redis(settings.REDIS_URL)
    broker = settings.CELERY_BROKER_URL
    if broker:
        is_redis = urlsplit(broker).scheme in REDIS_SCHEMES
        named["broker"] = _redis(broker) if is_redis else Broker(url=broker)
    return named


async def _run(named):
    results = await asyncio.gather(*(check.get_result() for check in named.values()))
    return dict(zip(named, results, strict=True))


@require_safe
def healthz(request):
    response = JsonResponse({"status": "ok"})
    add_never_cache_headers(response)
    return response


@require_safe
def readyz(request):
    results = async_to_sync(_run)(readiness_checks())
    failed = {name: str(result.error) for name, result in results.items() if result.error}
    body = {
        "status": "unavailable" if failed else "ok",
        "checks": {name: failed.get(name, "ok") for name in results},
    }
    if failed:
        body["failed"] = list(failed)
        body.update(error_body("not_ready", f"Not ready: {', '.join(failed)}.", failed))
    response = JsonResponse(body, status=503 if failed else 200)
    add_never_cache_headers(response)
    return response
