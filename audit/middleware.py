"""Attribute the audit entries a request writes to whoever made it."""

from .context import audit_actor

CID_HEADER = "X-Request-ID"


class AuditActorMiddleware:
    """The request's user (read only if an entry is written: the server API and the widget,
    which write none for a user, never load one) and address. The server API replaces the
    actor with its API key once the key is authenticated (programs.api.ProgramAPIView).

    The address is REMOTE_ADDR: behind a proxy that is the proxy, unless the server is told
    to trust a forwarded header (a client can forge X-Forwarded-For, so it is not read here).
    An X-Request-ID sent by a proxy becomes the entries' correlation id.
    """

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        cid = _clean(request.headers.get(CID_HEADER, ""))
        with audit_actor(
            request=request, remote_addr=request.META.get("REMOTE_ADDR") or None, cid=cid
        ):
            return self.get_response(request)


def _clean(value: str) -> str | None:
    value = value.strip()[:64]
    if value and all(c.isalnum() or c in "-_.:" for c in value):
        return value
    return None
