"""The one error shape of the APIs (docs/architecture.md):

{"error": {"code": "...", "message": "...", "fields": {...}}}
"""

import logging

from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    SuspiciousOperation,
    TooManyFieldsSent,
)
from django.http import Http404, JsonResponse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from rest_framework import exceptions, status
from rest_framework.views import exception_handler as drf_exception_handler

# DRF exception class → our error code.
_CODES = {
    exceptions.ParseError: "malformed_request",
    exceptions.AuthenticationFailed: "authentication_failed",
    exceptions.NotAuthenticated: "not_authenticated",
    exceptions.PermissionDenied: "permission_denied",
    exceptions.NotFound: "not_found",
    exceptions.MethodNotAllowed: "method_not_allowed",
    exceptions.NotAcceptable: "not_acceptable",
    exceptions.UnsupportedMediaType: "unsupported_media_type",
    exceptions.Throttled: "throttled",
    exceptions.ValidationError: "invalid",
}


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = gettext_lazy("The request conflicts with the current state.")
    default_code = "conflict"


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = gettext_lazy("A service this request needs is unreachable; try again shortly.")
    default_code = "service_unavailable"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = gettext_lazy("The request body is too large.")
    default_code = "too_large"


def error_body(code, message, fields=None):
    return {"error": {"code": code, "message": message, "fields": fields or {}}}


def _flatten(detail):
    if isinstance(detail, list):
        return " ".join(_flatten(item) for item in detail)
    if isinstance(detail, dict):
        return " ".join(f"{key}: {_flatten(value)}" for key, value in detail.items())
    return str(detail)


def _fields(detail):
    if not isinstance(detail, dict):
        return {}
    return {
        key: [str(item) for item in value] if isinstance(value, list) else [_flatten(value)]
        for key, value in detail.items()
        if key != "non_field_errors"
    }


log = logging.getLogger(__name__)


def _django_exception(exc):
    """Django's own refusals (and an unreachable Redis) as DRF exceptions, or None."""
    from .resilience import CACHE_ERRORS

    if isinstance(exc, Http404):
        return exceptions.NotFound(str(exc) or _("Not found."))
    if isinstance(exc, PermissionDenied):
        return exceptions.PermissionDenied(str(exc) or _("Permission denied."))
    if isinstance(exc, TooManyFieldsSent):
        return exceptions.ValidationError(
            {"non_field_errors": [_("The form has too many fields.")]}, code="too_many_fields"
        )
    if isinstance(exc, RequestDataTooBig):
        return PayloadTooLarge(_("The request body is too large."))
    if isinstance(exc, SuspiciousOperation):
        return exceptions.ParseError(_("The request is malformed."))
    if isinstance(exc, RecursionError):
        return exceptions.ParseError(_("The request body is nested too deeply."))
    if isinstance(exc, CACHE_ERRORS):
        log.error("Answering 503: the cache (Redis) is unreachable (%s)", exc)
        return ServiceUnavailable(_("The shared cache (Redis) is unreachable; try again shortly."))
    return None


def exception_handler(exc, context):
    """DRF's handler, reshaped; also maps Django's refusals into the same shape."""
    exc = _django_exception(exc) or exc
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code = getattr(exc, "error_code", None) or next(
        (c for cls, c in _CODES.items() if isinstance(exc, cls)),
        getattr(exc, "default_code", "error"),
    )
    if isinstance(exc, exceptions.ValidationError):
        fields, left_out = _capped(_fields(exc.detail))
        message = (
            _("Invalid fields: %(fields)s") % {"fields": ", ".join(sorted(fields))}
            if fields
            else _flatten(exc.detail)
        )
        if left_out:
            message += " " + ngettext(
                "(and %(count)s more invalid field)",
                "(and %(count)s more invalid fields)",
                left_out,
            ) % {"count": f"{left_out:,}"}
        if isinstance(exc.detail, dict) and "non_field_errors" in exc.detail:
            message = _flatten(exc.detail["non_field_errors"])
    else:
        fields = {}
        message = _flatten(exc.detail)
    response.data = error_body(code, _shortened(message), fields)
    return response


# An error body stays small whatever the request held (90,000 bad keys are not 90,000 errors
# sent back): the first fields named, in the order they were found, and how many were left out.
MAX_ERROR_FIELDS = 50
MAX_ERROR_MESSAGES = 5
MAX_ERROR_TEXT = 1000


def _capped(fields):
    """(the first MAX_ERROR_FIELDS fields, each with its first messages shortened, the number
    of fields left out)."""
    kept = {
        key[:MAX_ERROR_TEXT]: [_shortened(text) for text in messages[:MAX_ERROR_MESSAGES]]
        for key, messages in list(fields.items())[:MAX_ERROR_FIELDS]
    }
    return kept, len(fields) - len(kept)


def _shortened(text):
    return text if len(text) <= MAX_ERROR_TEXT else f"{text[: MAX_ERROR_TEXT - 1]}…"


def json_error(request, status_code, code, message):
    """For Django-level handlers (404/500 under /api/) outside DRF views."""
    return JsonResponse(error_body(code, message), status=status_code)
