"""Django-level error answers under /api/ in the one JSON error shape."""

import logging

from django.http import HttpResponse
from django.views.defaults import server_error

from .api_errors import json_error
from .resilience import CACHE_ERRORS

log = logging.getLogger(__name__)

# Django's own error pages under /api/ that get the JSON shape instead: status → code.
_API_ERROR_CODES = {
    400: ("malformed_request", "The request is malformed."),
    403: ("permission_denied", "Permission denied."),
    405: ("method_not_allowed", "Method not allowed."),
    413: ("too_large", "The request body is too large."),
    500: ("server_error", "Internal server error."),
}


def _is_api(request):
    return request.path.startswith("/api/")


class ApiJsonErrorsMiddleware:
    """Under /api/, an error page that no DRF view answered (no route matched; Django refusing
    a request before any view: a malformed body, too many fields) is given the JSON error shape,
    with DEBUG on or off, instead of Django's HTML page. Anywhere, an unreachable Redis that a
    page truly needs is a 503 saying so, not a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not _is_api(request) or response.get("Content-Type", "").startswith("application/json"):
            return response
        if response.status_code == 404:
            return json_error(request, 404, "not_found", f"No API endpoint at {request.path}.")
        if response.status_code in _API_ERROR_CODES:
            code, message = _API_ERROR_CODES[response.status_code]
            return json_error(request, response.status_code, code, message)
        return response

    def process_exception(self, request, exception):
        if not isinstance(exception, CACHE_ERRORS):
            return None
        log.error(
            "Answering 503 for %s: the cache (Redis) is unreachable (%s)", request.path, exception
        )
        message = "The shared cache (Redis) is unreachable; try again shortly."
        if _is_api(request):
            return json_error(request, 503, "service_unavailable", message)
        return HttpResponse(message, status=503, content_type="text/plain; charset=utf-8")


def handler500(request):
    if _is_api(request):
        return json_error(request, 500, "server_error", "Internal server error.")
    return server_error(request)
