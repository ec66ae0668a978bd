"""Server-API authentication, permission and throttling by program API key.

`Authorization: Bearer <key>`, or HTTP Basic with the program's slug as the user and the key as
the password (what impact.com clients send as `AccountSID:AuthToken`). The key is looked up by
its SHA-256 digest, a revoked key is refused (401), a Basic user that is not the key's program
is refused like a wrong key (401), a key works for its own program only (403), and each key has
its own request rate (requests per minute), counted atomically in the cache (Redis when
configured).

The fixed cost of every API request, so kept to one Redis round trip and, mostly, no database:
the key's throttle count and the key generation are read together (programs.ratelimit), and
the key itself comes from this process's copy while the generation says it is current
(programs.keycache: a revocation empties every process's copies at once).
"""

import base64
import binascii

from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.throttling import BaseThrottle

from .keycache import UNSEEN, key_cache
from .models import ApiKey
from .ratelimit import count_request, count_request_and_generation
from .services import api_key_digest

# last_used_at is written at most this often per key, not on every request.
THROTTLE_WINDOW_SECONDS = 60


# Far longer than any key or slug: a longer header is refused before it is decoded.
MAX_CREDENTIALS_LENGTH = 1024
SCHEMES_HINT = gettext_lazy(
    "Use Authorization: Bearer <program API key>, or Basic with the program slug as the user "
    "and the API key as the password."
)
BASIC_MISMATCH = gettext_lazy(
    "Invalid credentials: unknown API key, or not a key of the program named."
)


def throttle_key(digest: str) -> str:
    return f"throttle:apikey:{digest[:24]}"


def _refuse(message):
    raise exceptions.AuthenticationFailed(message)


def _basic_credentials(token):
    """(user, password) from a Basic token (RFC 7617), or a 401 saying what is wrong with it."""
    if len(token) > MAX_CREDENTIALS_LENGTH:
        _refuse(_("Malformed Basic credentials: too long."))
    try:
        # Clients that drop the padding are forgiven; any other non-base64 byte is not.
        decoded = base64.b64decode(token + b"=" * (-len(token) % 4), validate=True)
    except (binascii.Error, ValueError):
        _refuse(_("Malformed Basic credentials: not base64."))
    try:
        text = decoded.decode("utf-8")
    except UnicodeDecodeError:
        _refuse(_("Malformed Basic credentials: not UTF-8."))
    if any(ord(character) < 32 or ord(character) == 127 for character in text):
        _refuse(_("Malformed Basic credentials: control characters."))
    user, colon, password = text.partition(":")
    if not colon:
        _refuse(_("Malformed Basic credentials: expected user:password."))
    if not user or not password:
        _refuse(_("Malformed Basic credentials: the program slug and the API key are both needed."))
    return user, password


class ApiKeyAuthentication(BaseAuthentication):
    """Bearer <key>, or Basic <base64(program slug:key)>."""

    def authenticate(self, request):
        header = self._header(request).split()
        if not header:
            return None
        scheme = header[0].lower()
        if scheme not in (b"bearer", b"basic"):
            _refuse(SCHEMES_HINT)
        if len(header) != 2:
            _refuse(_("Malformed Authorization header."))
        if scheme == b"basic":
            user, raw_key = _basic_credentials(header[1])
            api_key = self._api_key(request, raw_key, mismatch=BASIC_MISMATCH)
            if api_key.program.slug != user:
                # Like a wrong key: the user names a program the key does not belong to.
                _refuse(BASIC_MISMATCH)
        else:
            if len(header[1]) > MAX_CREDENTIALS_LENGTH:
                _refuse(_("Invalid API key."))
            try:
                raw_key = header[1].decode()
            except UnicodeDecodeError:
                _refuse(_("Invalid API key."))
            api_key = self._api_key(request, raw_key, mismatch=_("Invalid API key."))
        # last_used_at is stamped after a successful answer (ProgramAPIView), so a refused
        # request changes no row.
        return (None, api_key)

    @staticmethod
    def _header(request):
        try:
            return get_authorization_header(request)
        except UnicodeEncodeError:  # only a test client can pass a header that is not latin-1
            _refuse(_("Malformed Authorization header."))

    @staticmethod
    def _api_key(request, raw_key, *, mismatch):
        digest = api_key_digest(raw_key)
        # The throttle's count for this key, in the same Redis round trip as the generation
        # that says whether this process's copy of the key is current.
        counted, generation = count_request_and_generation(
            throttle_key(digest), THROTTLE_WINDOW_SECONDS
        )
        request.api_key_window = counted
        # Only the digest is compared, and an unknown one is kept like a known one: the answer
        # takes the same time whether or not the key exists (programs.keycache).
        api_key = key_cache.get(digest, generation)
        if api_key is UNSEEN:
            api_key = ApiKey.objects.select_related("program").filter(digest=digest).first()
            key_cache.put(digest, generation, api_key)
        if api_key is None:
            _refuse(mismatch)
        if api_key.revoked_at is not None:
            _refuse(_("This API key has been revoked."))
        return api_key

    def authenticate_header(self, request):
        return 'Bearer, Basic realm="api", charset="UTF-8"'


class HasProgramApiKey(BasePermission):
    """The request carries a key of the program named in the URL (`program` kwarg)."""

    message = gettext_lazy("This API key does not belong to this program.")

    def has_permission(self, request, view):
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            raise exceptions.NotAuthenticated(
                "Authorization is required: Bearer <program API key>, or Basic with the program "
                "slug as the user and the API key as the password."
            )
        slug = view.kwargs.get("program")
        # Another program's slug and one that does not exist get the same 403: a key cannot be
        # used to tell which slugs exist.
        return slug is None or api_key.program.slug == slug


class ApiKeyRateThrottle(BaseThrottle):
    """A fixed one-minute window per key at the key's requests_per_minute.

    The request was counted when its key was authenticated (one Redis round trip for both:
    programs.ratelimit); this only compares. Fails open (no count) when Redis is unreachable.
    """

    def allow_request(self, request, view):
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            return True
        counted = getattr(request, "api_key_window", None)
        if counted is None:  # authenticated some other way: count here
            counted = count_request(throttle_key(api_key.digest), THROTTLE_WINDOW_SECONDS)
        if counted.count is None or counted.count <= api_key.requests_per_minute:
            return True
        self._wait = counted.retry_after
        return False

    def wait(self):
        return getattr(self, "_wait", None)
