"""The base of every server-API view: program API key, its rate, body size, the program."""

import io

from django.conf import settings
from django.core.exceptions import TooManyFieldsSent
from django.utils.translation import gettext as _
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from rest_framework import parsers
from rest_framework.exceptions import ParseError, ValidationError
from rest_framework.views import APIView

from audit.context import api_key_label, audit_actor_enter, audit_actor_exit, correlation_id
from foundation.api_errors import PayloadTooLarge

from .api_auth import ApiKeyAuthentication, ApiKeyRateThrottle, HasProgramApiKey
from .models import ApiKey
from .services import api_key_mark_used
from .validators import is_clean_text


def body_limit():
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE


class _BoundedStream:
    """Reads at most the body limit from the request: a larger body (even one sent chunked,
    without Content-Length) is refused with 413 instead of being read into memory."""

    @staticmethod
    def read(stream):
        limit = body_limit()
        data = stream.read(limit + 1) if stream is not None else b""
        if len(data) > limit:
            raise PayloadTooLarge(
                _("The request body is larger than %(limit)s bytes.") % {"limit": limit}
            )
        return data


class BoundedJSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = _BoundedStream.read(stream)
        try:
            return super().parse(io.BytesIO(data), media_type, parser_context)
        except RecursionError:
            raise ParseError(_("JSON parse error - the body is nested too deeply.")) from None


class BoundedFormParser(parsers.FormParser):
    def parse(self, stream, media_type=None, parser_context=None):
        data = _BoundedStream.read(stream)
        try:
            return super().parse(io.BytesIO(data), media_type, parser_context)
        except TooManyFieldsSent:
            raise PayloadTooLarge(
                _("The form has more than %(count)s fields; send a long order as JSON.")
                % {"count": settings.DATA_UPLOAD_MAX_NUMBER_FIELDS}
            ) from None


def check_path_segments(kwargs):
    """Refuse (400, naming the segment) a path segment holding a control character (NUL…) or
    a lone surrogate: the database can neither store nor look such text up."""
    bad = {
        name: [_("Holds a control character or an invalid one (a lone surrogate).")]
        for name, value in kwargs.items()
        if isinstance(value, str) and not is_clean_text(value)
    }
    if bad:
        raise ValidationError(bad)


class ProgramAPIView(APIView):
    """Authenticated by a program API key (Bearer, or Basic with the program slug as the user);
    the key's program is `self.program`.

    The key must belong to the program named in the URL (403 otherwise, the same for a program
    that does not exist), and requests are throttled per key at its requests_per_minute. What
    the request changes is attributed to the key in the audit trail ("API key 'name' (prefix…)").
    """

    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasProgramApiKey]
    throttle_classes = [ApiKeyRateThrottle]
    parser_classes = [BoundedJSONParser, BoundedFormParser]

    def initial(self, request, *args, **kwargs):
        length = request.META.get("CONTENT_LENGTH") or "0"
        try:
            too_large = int(length) > body_limit()
        except ValueError:
            too_large = False
        super().initial(request, *args, **kwargs)
        if too_large:
            raise PayloadTooLarge(
                _("The request body is larger than %(limit)s bytes.") % {"limit": body_limit()}
            )
        check_path_segments(kwargs)
        self.program = request.auth.program
        # API keys are not users: the entry names the key (its name and visible prefix).
        self._audit_token = audit_actor_enter(
            label=api_key_label(request.auth),
            remote_addr=request.META.get("REMOTE_ADDR") or None,
            cid=correlation_id(),
        )

    def finalize_response(self, request, response, *args, **kwargs):
        token = getattr(self, "_audit_token", None)
        if token is not None:
            self._audit_token = None
            audit_actor_exit(token)
        response = super().finalize_response(request, response, *args, **kwargs)
        if response.status_code < 400 and isinstance(request.auth, ApiKey):
            api_key_mark_used(api_key=request.auth)
        return response


class ApiKeyAuthenticationScheme(OpenApiAuthenticationExtension):
    """Two alternative schemes carrying the same program API key."""

    target_class = "programs.api_auth.ApiKeyAuthentication"
    name = ["programApiKey", "programBasic"]

    def get_security_requirement(self, auto_schema):
        return [{name: []} for name in self.name]  # either one (OR)

    def get_security_definition(self, auto_schema):
        return [
            {
                "type": "http",
                "scheme": "bearer",
                "description": "A program API key (create_api_key --program SLUG).",
            },
            {
                "type": "http",
                "scheme": "basic",
                "description": (
                    "The program's slug as the user and a program API key as the password: "
                    "what impact.com clients send as AccountSID:AuthToken. A user that is not "
                    "the key's program is refused (401) like a wrong key."
                ),
            },
        ]
