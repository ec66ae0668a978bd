"""The widget API (docs/architecture.md): `GET /api/v1/widget/me`, `POST
/api/v1/widget/codes/{code}/copy`.

Authenticated by a participant token (participants.widget.tokens), rate-limited per
participant, answered in the one error shape of foundation.api_errors.
"""

import hashlib
import re

from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import exceptions, permissions, throttling
from rest_framework.authentication import BaseAuthentication
from rest_framework.response import Response
from rest_framework.views import APIView

from codes.services import CodeNotHeld, code_record_copy
from foundation.api_docs import PATH_ERRORS, WIDGET_AUTH_ERRORS, not_found
from foundation.hashing import ip_digest
from programs.api import check_path_segments
from programs.ratelimit import count_request

from .cors import origin_allowed_for_program
from .language import widget_language
from .schema import CodeCopySerializer, WidgetMeSerializer, widget_me_body
from .selectors import participant_for_widget, widget_state
from .services import widget_participant_load
from .tokens import InvalidWidgetToken, WidgetIdentity, widget_token_decode

DEFAULT_WIDGET_API_RATE = "120/min"
_BEARER = re.compile(r"^Bearer\s+(\S+)\s*$", re.IGNORECASE)


class WidgetAuthFailed(exceptions.AuthenticationFailed):
    def __init__(self, message, code):
        super().__init__(message)
        self.error_code = code  # read by foundation.api_errors


class ParticipantTokenAuthentication(BaseAuthentication):
    """`Authorization: Bearer <participant token>`."""

    def authenticate(self, request):
        header = request.META.get("HTTP_AUTHORIZATION", "")
        if not header:
            return None
        match = _BEARER.match(header)
        if not match:
            raise WidgetAuthFailed(
                _("Send the participant token as 'Authorization: Bearer <token>'."),
                "malformed_token",
            )
        try:
            identity = widget_token_decode(match.group(1))
        except InvalidWidgetToken as error:
            raise WidgetAuthFailed(error.message, error.code) from None
        return identity, identity.claims

    def authenticate_header(self, request):
        return 'Bearer realm="widget"'


class HasParticipantToken(permissions.BasePermission):
    def has_permission(self, request, view):
        if not isinstance(request.user, WidgetIdentity):
            raise exceptions.NotAuthenticated(
                _("A participant token is required: 'Authorization: Bearer <token>'.")
            )
        return True


class OriginAllowed(permissions.BasePermission):
    """A cross-origin call must come from one of the program's allowed origins.

    CORS already stops a browser from reading the answer; this also stops the write.
    """

    message = gettext_lazy("This origin may not call the widget API of this program.")

    def has_permission(self, request, view):
        origin = request.headers.get("Origin")
        if not origin or origin == f"{request.scheme}://{request.get_host()}":
            return True
        return origin_allowed_for_program(origin, request.user.program)


class ParticipantRateThrottle(throttling.BaseThrottle):
    """N requests per period per program and participant, in fixed windows counted atomically
    in the cache (programs.ratelimit: one INCR per request, shared by every web machine; fails
    open when Redis is unreachable). Retry-After is the time left in the window."""

    def __init__(self):
        rate = getattr(settings, "WIDGET_API_RATE", DEFAULT_WIDGET_API_RATE)
        self.num_requests, self.duration = throttling.SimpleRateThrottle.parse_rate(None, rate)
        self._wait = None

    def allow_request(self, request, view):
        identity = request.user
        if not isinstance(identity, WidgetIdentity):
            return True
        participant = hashlib.sha256(identity.participant_id.encode()).hexdigest()[:24]
        counted = count_request(f"widget-rate:{identity.program.pk}:{participant}", self.duration)
        if counted.count is None or counted.count <= self.num_requests:
            return True
        self._wait = counted.retry_after
        return False

    def wait(self):
        return self._wait


LANG_PARAMETER = OpenApiParameter(
    "lang",
    str,
    OpenApiParameter.QUERY,
    required=False,
    description="The widget page's language (its `?lang=`), used when the participant has no "
    "`locale` offered; then the browser's Accept-Language, then the program's default. Error "
    "messages and `language` follow the same order.",
)


class WidgetAPIView(APIView):
    """Answers in the advocate's language (participants.widget.language): until the token is
    read, the request's `?lang=` or Accept-Language; after, the token's `locale` and the
    program's default too. The answer's Content-Language names it."""

    authentication_classes = [ParticipantTokenAuthentication]
    permission_classes = [HasParticipantToken, OriginAllowed]
    throttle_classes = [ParticipantRateThrottle]

    def request_language(self, request, *, locale="", program=None):
        return widget_language(
            locale=locale,
            requested=request.GET.get("lang", ""),
            accept_language=request.headers.get("Accept-Language", ""),
            program_default=program.default_language if program else "",
        )

    def dispatch(self, request, *args, **kwargs):
        with translation.override(self.request_language(request)):
            return super().dispatch(request, *args, **kwargs)

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        identity = request.user
        translation.activate(
            self.request_language(
                request, locale=identity.claims.get("locale") or "", program=identity.program
            )
        )

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        response["Content-Language"] = translation.get_language()
        return response


class WidgetMeView(WidgetAPIView):
    """Widget load: upserts the participant; answers their codes, referrals and rewards."""

    @extend_schema(
        parameters=[LANG_PARAMETER],
        responses={200: WidgetMeSerializer, **WIDGET_AUTH_ERRORS},
        tags=["widget"],
    )
    def get(self, request):
        program = request.user.program
        participant = widget_participant_load(
            identity=request.user, ip_hash=ip_digest(request.META.get("REMOTE_ADDR"))
        )
        language = self.request_language(request, locale=participant.locale, program=program)
        translation.activate(language)
        state = widget_state(participant=participant, program=program)
        return Response(widget_me_body({**state, "language": language}))


class WidgetCodeCopyView(WidgetAPIView):
    """Records a copy of one of the participant's codes (a referral code they hold, or a reward
    code revealed to them); says whether it was copied before."""

    @extend_schema(
        request=None,
        parameters=[LANG_PARAMETER],
        responses={
            200: CodeCopySerializer,
            **PATH_ERRORS,
            **WIDGET_AUTH_ERRORS,
            **not_found("code of this participant"),
        },
        tags=["widget"],
    )
    def post(self, request, code):
        check_path_segments({"code": code})
        participant = participant_for_widget(identity=request.user)
        if participant is None:
            raise exceptions.NotFound(_("This participant holds no codes yet."))
        try:
            copy = code_record_copy(participant=participant, code_text=code)
        except CodeNotHeld:
            raise exceptions.NotFound(
                _("%(code)r is not one of your codes.") % {"code": code[:64]}
            ) from None
        return Response(CodeCopySerializer(copy).data)


__all__ = ["WidgetCodeCopyView", "WidgetMeView"]
