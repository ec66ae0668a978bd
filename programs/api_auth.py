"""Server-API authentication, permission and throttling by program API key.

`Authorization: Bearer <key>`: the key is looked up by its SHA-256 digest, a revoked key is
refused (401), a key works for its own program only (403), and each key has its own request
rate (requests per minute), counted atomically in the cache (Redis when configured).
"""

from rest_framework import exceptions
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.permissions import BasePermission
from rest_framework.throttling import BaseThrottle

from .models import ApiKey
from .ratelimit import count_request
from .services import api_key_digest

# last_used_at is written at most this often per key, not on every request.
THROTTLE_WINDOW_SECONDS = 60


class ApiKeyAuthentication(BaseAuthentication):
    keyword = "Bearer"

    def authenticate(self, request):
        header = get_authorization_header(request).split()
        if not header:
            return None
        if header[0].lower() != self.keyword.lower().encode():
            raise exceptions.AuthenticationFailed("Use Authorization: Bearer <program API key>.")
        if len(header) != 2:
            raise exceptions.AuthenticationFailed("Malformed Authorization header.")
        try:
            raw_key = header[1].decode()
        except UnicodeDecodeError:
            raise exceptions.AuthenticationFailed("Invalid API key.") from None
        api_key = (
            ApiKey.objects.select_related("program").filter(digest=api_key_digest(raw_key)).first()
        )
        if api_key is None:
            raise exceptions.AuthenticationFailed("Invalid API key.")
        if api_key.revoked_at is not None:
            raise exceptions.AuthenticationFailed("This API key has been revoked.")
        # last_used_at is stamped after a successful answer (ProgramAPIView), so a refused
        # request changes no row.
        return (None, api_key)

    def authenticate_header(self, request):
        return self.keyword


class HasProgramApiKey(BasePermission):
    """The request carries a key of the program named in the URL (`program` kwarg)."""

    message = "This API key does not belong to this program."

    def has_permission(self, request, view):
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            raise exceptions.NotAuthenticated(
                "Authorization: Bearer <program API key> is required."
            )
        slug = view.kwargs.get("program")
        # Another program's slug and one that does not exist get the same 403: a key cannot be
        # used to tell which slugs exist.
        return slug is None or api_key.program.slug == slug


class ApiKeyRateThrottle(BaseThrottle):
    """A fixed one-minute window per key at the key's requests_per_minute.

    One atomic INCR per request (Redis when REDIS_URL is set); the window's counter is created
    with ADD when missing, so concurrent web processes share one count.
    """

    def allow_request(self, request, view):
        api_key = request.auth
        if not isinstance(api_key, ApiKey):
            return True
        # Fails open (counts None) when Redis is unreachable: programs.ratelimit.
        counted = count_request(f"throttle:apikey:{api_key.digest[:24]}", THROTTLE_WINDOW_SECONDS)
        if counted.count is None or counted.count <= api_key.requests_per_minute:
            return True
        self._wait = counted.retry_after
        return False

    def wait(self):
        return getattr(self, "_wait", None)
