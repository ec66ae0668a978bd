"""Shared OpenAPI pieces: the error shape, and the error responses every endpoint can give."""

from drf_spectacular.utils import OpenApiExample, OpenApiResponse, inline_serializer
from rest_framework import serializers

ErrorSerializer = inline_serializer(
    name="Error",
    fields={
        "error": inline_serializer(
            name="ErrorDetail",
            fields={
                "code": serializers.CharField(),
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
    415: error(
        "Neither JSON nor form-encoded.",
        "unsupported_media_type",
        'Unsupported media type "text/plain" in request.',
    ),
}


def not_found(what):
    return {404: error(f"Unknown {what}.", "not_found", f"No such {what}.")}
