"""The one error shape of the APIs (DESIGN §4):

{"error": {"code": "...", "message": "...", "fields": {...}}}
"""

from django.core.exceptions import PermissionDenied
from django.http import Http404, JsonResponse
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
    default_detail = "The request conflicts with the current state."
    default_code = "conflict"


class PayloadTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
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


def exception_handler(exc, context):
    """DRF's handler, reshaped; also maps Django's 404/403 into the same shape."""
    if isinstance(exc, Http404):
        exc = exceptions.NotFound(str(exc) or "Not found.")
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied(str(exc) or "Permission denied.")
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    code = getattr(exc, "error_code", None) or next(
        (c for cls, c in _CODES.items() if isinstance(exc, cls)),
        getattr(exc, "default_code", "error"),
    )
    if isinstance(exc, exceptions.ValidationError):
        fields = _fields(exc.detail)
        message = "Invalid fields: " + ", ".join(sorted(fields)) if fields else _flatten(exc.detail)
        if isinstance(exc.detail, dict) and "non_field_errors" in exc.detail:
            message = _flatten(exc.detail["non_field_errors"])
    else:
        fields = {}
        message = _flatten(exc.detail)
    response.data = error_body(code, message, fields)
    return response


def json_error(request, status_code, code, message):
    """For Django-level handlers (404/500 under /api/) outside DRF views."""
    return JsonResponse(error_body(code, message), status=status_code)
