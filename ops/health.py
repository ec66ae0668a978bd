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
import contextlib
import dataclasses
import datetime
import functools
import logging
from urllib.parse import urlsplit

from asgiref.sync import async_to_sync, sync_to_async
from django import db
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.migrations.loader import MigrationLoader
from django.db.migrations.recorder import MigrationRecorder
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

from foundation.api_errors import error_body

logger = logging.getLogger(__name__)

# A probe must answer well inside a load balancer's own timeout (often 5 s).
CHECK_TIMEOUT = datetime.timedelta(seconds=3)
REDIS_SCHEMES = {"redis", "rediss", "unix"}


@dataclasses.dataclass
class Database(checks.Database):
    """SELECT 1 on the request thread's own persistent connection (CONN_MAX_AGE), not a new
    connection per probe: the library's check closes a connection it had to open."""

    timeout = CHECK_TIMEOUT

    async def run(self):
        await sync_to_async(self._check, thread_sensitive=True)()

    def _check(self):
        connection = connections[self.alias]
        reused = connection.connection is not None
        with contextlib.suppress(db.Error):  # the library's check below says what failed
            connection.ensure_connection()
        try:
            super().run()
        except ServiceUnavailable:
            if not reused or connection.in_atomic_block:
                raise
            # A connection that broke while idle (the server restarted): once more, anew.
            connection.close()
            with contextlib.suppress(db.Error):
                connection.ensure_connection()
            super().run()


@functools.cache
def disk_migrations():
    """{(app, name): names it replaces} of this release's migrations, read once per process."""
    loader = MigrationLoader(None, ignore_no_migrations=True)
    return {key: tuple(loader.disk_migrations[key].replaces) for key in loader.graph.nodes}


@dataclasses.dataclass
class Migrations(HealthCheck):
    """Every migration of this release is applied: a web process of a newer release waits for
    `migrate` before taking traffic. One query of the applied list per probe."""

    alias: str = DEFAULT_DB_ALIAS
    timeout = CHECK_TIMEOUT

    async def run(self):
        await sync_to_async(self._check, thread_sensitive=True)()

    def _check(self):
        recorder = MigrationRecorder(connections[self.alias])
        try:  # one query (applied_migrations() would first look the table up in the catalog)
            applied = set(recorder.migration_qs.values_list("app", "name"))
        except db.Error as error:
            raise ServiceUnavailable("The list of applied migrations cannot be read") from error
        missing = sorted(
            key
            for key, replaces in disk_migrations().items()
            if key not in applied and not (replaces and all(r in applied for r in replaces))
        )
        if missing:
            names = ", ".join(f"{app}.{name}" for app, name in missing)
            logger.warning("Not ready: %d migrations not applied: %s", len(missing), names)
            raise ServiceUnavailable(
                f"{len(missing)} migrations not applied (run manage.py migrate)"
            )


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
    # The database checks first, one after the other, then the network ones together: run side
    # by side, the request thread and the event loop's thread wait on each other for the GIL
    # (about 5 ms a turn), which made a probe take 30-40 ms instead of a few.
    results = {}
    for name in ("database", "migrations"):
        results[name] = await named[name].get_result()
    others = [name for name in named if name not in results]
    for name, result in zip(
        others, await asyncio.gather(*(named[n].get_result() for n in others)), strict=True
    ):
        results[name] = result
    return results


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
