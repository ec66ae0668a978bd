"""Django-level error answers under /api/ in the one JSON error shape."""

import io
import logging

from django.conf import settings
from django.core.handlers.wsgi import LimitedStream
from django.http import HttpResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.defaults import server_error

from .api_errors import json_error
from .resilience import CACHE_ERRORS

log = logging.getLogger(__name__)

# Django's own error pages under /api/ that get the JSON shape instead: status → code.
_API_ERROR_CODES = {
    400: ("malformed_request", gettext_lazy("The request is malformed.")),
    403: ("permission_denied", gettext_lazy("Permission denied.")),
    405: ("method_not_allowed", gettext_lazy("Method not allowed.")),
    413: ("too_large", gettext_lazy("The request body is too large.")),
    500: ("server_error", gettext_lazy("Internal server error.")),
}

# The impact.com-compatible paths answer in the API's error shape too.
API_PREFIXES = ("/api/", "/Advertisers/")


def _is_api(request):
    return request.path.startswith(API_PREFIXES)


class ApiJsonErrorsMiddleware:
    """Under /api/ and /Advertisers/, an error page that no DRF view answered (no route matched;
    Django refusing a request before any view: a malformed body, too many fields) is given the
    JSON error shape, with DEBUG on or off, instead of Django's HTML page. Anywhere, an
    unreachable Redis that a page truly needs is a 503 saying so, not a 500."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        response = self.get_response(request)
        if not _is_api(request) or response.get("Content-Type", "").startswith("application/json"):
            return response
        if response.status_code == 404:
            return json_error(
                request,
                404,
                "not_found",
                _("No API endpoint at %(path)s.") % {"path": request.path},
            )
        if response.status_code in _API_ERROR_CODES:
            code, message = _API_ERROR_CODES[response.status_code]
            return json_error(request, response.status_code, code, str(message))
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


class ChunkedBodyMiddleware:
    """An API request body sent chunked (Transfer-Encoding: chunked, no Content-Length) is read
    here, bounded by DATA_UPLOAD_MAX_MEMORY_SIZE, so the view sees it like any other (Django
    alone would read it as empty). Only a server that de-chunks the body (gunicorn sets
    wsgi.input_terminated) can hand it over; elsewhere the answer is 411, asking for a
    Content-Length. A malformed chunk (a size that is not hexadecimal, a body cut short) is a
    400; a chunk announced past the limit is a 413 before any of it is waited for."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        meta = request.META
        if (
            _is_api(request)
            and "chunked" in meta.get("HTTP_TRANSFER_ENCODING", "").lower()
            and not meta.get("CONTENT_LENGTH")
        ):
            if not meta.get("wsgi.input_terminated"):
                return json_error(
                    request,
                    411,
                    "length_required",
                    "Send the body with a Content-Length header: this server cannot read a "
                    "chunked body.",
                )
            limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
            stream = meta["wsgi.input"]
            _refuse_chunks_past(stream, limit)
            too_large = f"The request body is larger than {limit} bytes."
            try:
                body = _read_at_most(stream, limit + 1)
            except ChunkPastLimit:
                return json_error(request, 413, "too_large", too_large)
            except (OSError, ValueError, *_SERVER_PARSE_ERRORS) as error:
                # A chunk size that is not hexadecimal (`ZZ`), a chunk cut short, a client gone.
                log.info("Refused a malformed chunked body for %s: %s", request.path, error)
                return json_error(
                    request,
                    400,
                    "malformed_request",
                    f"The chunked body is malformed: {_describe(error)}",
                )
            if len(body) > limit:
                return json_error(request, 413, "too_large", too_large)
            meta["CONTENT_LENGTH"] = str(len(body))
            request._stream = LimitedStream(io.BytesIO(body), len(body))
        return self.get_response(request)


try:  # what gunicorn raises for a malformed chunk (its wsgi.input de-chunks the body)
    from gunicorn.http.body import ChunkedReader as _ServerChunkedReader
    from gunicorn.http.errors import ParseException

    _SERVER_PARSE_ERRORS = (ParseException,)
except ImportError:  # another server
    _ServerChunkedReader, _SERVER_PARSE_ERRORS = None, ()


class ChunkPastLimit(Exception):
    """The chunk sizes announced so far add up to more than the body limit."""


def _refuse_chunks_past(stream, limit):
    """Have gunicorn's de-chunking reader refuse a chunk as soon as its announced size takes
    the body past `limit`: a chunk announced as `ffffffffffffffffff` bytes is refused at once,
    rather than waited for until the client gives up. Another server's stream is read as it
    is (bounded all the same by reading at most `limit + 1` bytes)."""
    reader = getattr(stream, "reader", None)
    if _ServerChunkedReader is None or not isinstance(reader, _ServerChunkedReader):
        return
    parse_chunk_size = reader.parse_chunk_size
    announced = 0

    def bounded(*args, **kwargs):
        nonlocal announced
        size, rest = parse_chunk_size(*args, **kwargs)
        announced += size
        if announced > limit:
            raise ChunkPastLimit()
        return size, rest

    reader.parse_chunk_size = bounded


def _describe(error):
    if isinstance(error, OSError):
        return "it ended before the chunk it announced (or the connection was closed)."
    text = str(error).strip() or type(error).__name__
    return text if len(text) <= 200 else f"{text[:200]}…"


def _read_at_most(stream, size):
    parts, left = [], size
    while left > 0 and (part := stream.read(min(left, 1 << 16))):
        parts.append(part)
        left -= len(part)
    return b"".join(parts)


def handler500(request):
    if _is_api(request):
        return json_error(request, 500, "server_error", "Internal server error.")
    return server_error(request)
