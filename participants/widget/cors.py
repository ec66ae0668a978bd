"""CORS for the widget API, per program (django-cors-headers' check_request_enabled signal).

settings.CORS_ALLOWED_ORIGINS applies everywhere (the middleware checks it itself). On top of
it, a widget API call may come from its program's `widget_allowed_origins`: for a call carrying
a participant token, the token's program; for a preflight (which carries no token), any
program's, since the browser sends the real request, and its token, only after it.
"""

from urllib.parse import urlsplit

import jwt
from django.conf import settings

from programs.models import Program
from programs.selectors import program_get_by_slug

WIDGET_API_PREFIX = "/api/v1/widget/"


def _normalise(origin):
    try:
        parts = urlsplit(origin.strip())
    except ValueError:
        return None
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}".lower()


def origin_allowed_for_program(origin, program):
    wanted = _normalise(origin)
    if wanted is None:
        return False
    allowed = [*program.allowed_origin_list, *settings.CORS_ALLOWED_ORIGINS]
    return any(_normalise(o) == wanted for o in allowed)


def origin_allowed_for_any_program(origin):
    wanted = _normalise(origin)
    if wanted is None:
        return False
    candidates = Program.objects.filter(widget_allowed_origins__icontains=wanted[:200])
    return any(origin_allowed_for_program(origin, program) for program in candidates)


def _token_program(request):
    """The program a request's bearer token names, unverified: CORS headers only let the
    browser read the answer, which the view still refuses without a valid token."""
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    try:
        slug = jwt.decode(token.strip(), options={"verify_signature": False}).get("program")
    except jwt.InvalidTokenError:
        return None
    if not isinstance(slug, str):
        return None
    return program_get_by_slug(slug)


def widget_cors_allowed(sender, request, **kwargs):
    if not request.path_info.startswith(WIDGET_API_PREFIX):
        return False
    origin = request.headers.get("Origin")
    if not origin:
        return False
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        return origin_allowed_for_any_program(origin)
    program = _token_program(request)
    return program is not None and origin_allowed_for_program(origin, program)
