"""Shared OpenAPI pieces: the error shape, and the error responses every endpoint can give."""

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.utils import OpenApiExample, OpenApiResponse, inline_serializer
from rest_framework import serializers

ErrorSerializer = inline_serializer(
    name="Error",
    fields={
        "error": inline_serializer(
            name="ErrorDetail",
            fields={
                "code": serializers.CharField(
                    help_text=(
                        "A stable word for the kind of error, for programs to branch on "
                        "(`invalid`, `not_found`, `conflict`, `authentication_failed`, "
                        "`permission_denied`, `throttled`, `too_large`, …); the `message` is "
                        "for people and may change."
                    )
                ),
                "message": serializers.CharField(),
                "fields": serializers.DictField(child=serializers.ListField()),
            },
        )
    },
)


def error(description, code, message, fields=None):
    return OpenApiResponse(
        ErrorSerializer,
        description=description,
        examples=[
            OpenApiExample(
                code,
                value={"error": {"code": code, "message": message, "fields": fields or {}}},
                response_only=True,
            )
        ],
    )


AUTH_ERRORS = {
    401: error("Missing, unknown or revoked API key.", "authentication_failed", "Invalid API key."),
    403: error(
        "The key belongs to another program (an unknown program's slug gets the same answer).",
        "permission_denied",
        "This API key does not belong to this program.",
    ),
    429: error("Too many requests for this key.", "throttled", "Request was throttled."),
}
BODY_ERRORS = {
    400: error(
        "Malformed JSON or invalid fields.",
        "invalid",
        "Invalid fields: email",
        {"email": ["Enter a valid email address."]},
    ),
    413: error("The body is too large.", "too_large", "The request body is too large."),
    411: error(
        "A chunked body on a server that cannot read one: send a Content-Length.",
        "length_required",
        "Send the body with a Content-Length header: this server cannot read a chunked body.",
    ),
    415: error(
        "Neither JSON nor form-encoded.",
        "unsupported_media_type",
        'Unsupported media type "text/plain" in request.',
    ),
}


def not_found(what):
    return {404: error(f"Unknown {what}.", "not_found", f"No such {what}.")}


# A path segment (participant id, code, order id) holding a control character or a lone
# surrogate: refused before any lookup (programs.api.check_path_segments).
PATH_ERRORS = {
    400: error(
        "A path segment holds a control character (NUL…) or a lone surrogate.",
        "invalid",
        "Invalid fields: participant_id",
        {"participant_id": ["Holds a control character or an invalid one (a lone surrogate)."]},
    )
}
WIDGET_AUTH_ERRORS = {
    401: error(
        "Missing, malformed, expired or wrongly signed participant token.",
        "token_expired",
        "The participant token has expired.",
    ),
    403: error(
        "The calling origin may not use this program's widget.",
        "permission_denied",
        "This origin may not call the widget API of this program.",
    ),
    429: error("Too many requests for this participant.", "throttled", "Request was throttled."),
}


class _DeleteBodyAutoSchema(AutoSchema):
    """drf-spectacular documents request bodies on POST, PUT and PATCH only; an operation
    marked with `documents_delete_body` documents its DELETE body too (impact.com's DELETE
    /Actions sends its fields in a body)."""

    def _get_request_body(self, direction="request"):
        if self.method != "DELETE":
            return super()._get_request_body(direction)
        self.method = "POST"
        try:
            return super()._get_request_body(direction)
        finally:
            self.method = "DELETE"


def documents_delete_body(view_method):
    """Mark a view's `delete` (under its @extend_schema) as taking the body it declares."""
    view_method.schema = _DeleteBodyAutoSchema
    return view_method
