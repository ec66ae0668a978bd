"""Prometheus /metrics: off unless METRICS_ENABLED, served only to METRICS_ALLOWED_IPS.

Request, database and cache metrics come from django-prometheus (its middleware, database
backend and cache backend, switched on in settings). Under gunicorn with several workers each
worker counts in files under PROMETHEUS_MULTIPROC_DIR (set by gunicorn.conf.py) and a scrape
adds them all up, whichever worker answers it. The business gauges (ops.business_metrics)
are added at scrape time.

The caller is the connecting address (REMOTE_ADDR), never X-Forwarded-For, which anyone can
send: scrape each web machine directly, not through the load balancer.
"""

import ipaddress
import os

from django.conf import settings
from django.http import HttpResponse
from django.views.decorators.http import require_safe
from prometheus_client import REGISTRY, CollectorRegistry
from prometheus_client.exposition import choose_encoder

from foundation.api_errors import json_error

from .business_metrics import BusinessCollector


def address_allowed(address, allowed):
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if ip.version == 6 and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return any(ip in ipaddress.ip_network(network) for network in allowed)


class _ProcessMetrics:
    """This process's own registry (one process: runserver, a single gunicorn worker)."""

    def collect(self):
        yield from REGISTRY.collect()


def metrics_registry():
    registry = CollectorRegistry(auto_describe=False)
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(_ProcessMetrics())
    registry.register(BusinessCollector())
    return registry


@require_safe
def metrics(request):
    address = request.META.get("REMOTE_ADDR", "")
    if not address_allowed(address, settings.METRICS_ALLOWED_IPS):
        return json_error(
            request, 403, "forbidden", f"/metrics is not served to {address or 'this address'}."
        )
    encoder, content_type = choose_encoder(request.headers.get("Accept", ""))
    return HttpResponse(encoder(metrics_registry()), content_type=content_type)
