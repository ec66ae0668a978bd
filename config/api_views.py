"""Django-level error answers under /api/ in the one JSON error shape."""

from django.views.defaults import server_error

from .api_errors import json_error

# The impact.com-compatible paths answer in the API's error shape too.
API_PREFIXES = ("/api/", "/Advertisers/")


def _is_api(request):
    return request.path.startswith(API_PREFIXES)


class ApiJsonErrorsMiddleware:
    """A 404 under /api/ or /Advertisers/ that no DRF view answered (no route matched) is given
    the JSON error shape, with DEBUG on or off, instead of Django's HTML page."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if (
            response.status_code == 404
            and _is_api(request)
            and not response.get("Content-Type", "").startswith("application/json")
        ):
            return json_error(request, 404, "not_found", f"No API endpoint at {request.path}.")
        return response


def handler500(request):
    if _is_api(request):
        return json_error(request, 500, "server_error", "Internal server error.")
    return server_error(request)
