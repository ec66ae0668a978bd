"""The operations endpoints, answered ahead of the rest of the middleware.

/healthz, /readyz and /metrics are called by load balancers, orchestrators and Prometheus,
which address a machine by its IP over plain HTTP inside the network: they answer before
host validation (ALLOWED_HOSTS) and the HTTPS redirect, take no session, and are never
throttled. Paths are exact: no trailing slash. /metrics exists only with METRICS_ENABLED.
"""

from django.conf import settings

from .health import healthz, readyz
from .metrics import metrics

PROBES = {"/healthz": healthz, "/readyz": readyz}


class OpsEndpointsMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        view = PROBES.get(request.path_info)
        if view is None and request.path_info == "/metrics" and settings.METRICS_ENABLED:
            view = metrics
        if view is None:
            return self.get_response(request)
        return view(request)
