"""Signing a delivery as Standard Webhooks says, and one HTTP attempt at it.

The request goes to the address `destinations.resolve` checked (the Host header and, over
HTTPS, the certificate's name are the URL's host); redirects are not followed (a 3xx is a
failed attempt); the receiver has TIMEOUT seconds to answer.
"""

import http.client
import socket
import ssl
import time
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from standardwebhooks.webhooks import Webhook

from .destinations import DestinationRefused, resolve

TIMEOUT = 10.0
USER_AGENT = "referral-promo-codes-webhooks/1"


def signature_header(*, secrets: list[str], event_id: str, timestamp: datetime, body: str) -> str:
    """`v1,<base64>` for each secret, space-separated (old and new during a rotation)."""
    return " ".join(
        Webhook(secret).sign(msg_id=event_id, timestamp=timestamp, data=body) for secret in secrets
    )


def signed_headers(*, secrets: list[str], event_id: str, timestamp: datetime, body: str) -> dict:
    return {
        "webhook-id": event_id,
        "webhook-timestamp": str(int(timestamp.timestamp())),
        "webhook-signature": signature_header(
            secrets=secrets, event_id=event_id, timestamp=timestamp, body=body
        ),
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
    }


@dataclass
class Attempt:
    status_code: int | None  # None: no HTTP answer
    error: str  # "" when the receiver answered 2xx
    latency_ms: int

    @property
    def delivered(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300


class _PinnedHTTPSConnection(http.client.HTTPSConnection):
    """HTTPS to a checked address, the certificate verified for the URL's host."""

    def __init__(self, address, port, *, server_hostname, timeout):
        super().__init__(address, port, timeout=timeout, context=ssl.create_default_context())
        self._server_hostname = server_hostname

    def connect(self):
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self._server_hostname)


def post(*, url: str, headers: dict, body: str, allow_private: bool) -> Attempt:
    started = time.monotonic()

    def elapsed():
        return int((time.monotonic() - started) * 1000)

    try:
        scheme, host, port, address = resolve(url, allow_private=allow_private)
    except DestinationRefused as error:
        return Attempt(None, str(error), elapsed())
    parts = urlsplit(url)
    target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
    if scheme == "https":
        connection = _PinnedHTTPSConnection(address, port, server_hostname=host, timeout=TIMEOUT)
    else:
        connection = http.client.HTTPConnection(address, port, timeout=TIMEOUT)
    host_header = host if ":" not in host else f"[{host}]"
    if parts.port:
        host_header += f":{parts.port}"
    try:
        connection.request(
            "POST", target, body=body.encode(), headers={**headers, "Host": host_header}
        )
        response = connection.getresponse()
        response.read(64 * 1024)
        status = response.status
    except (OSError, http.client.HTTPException) as error:
        reason = "no answer within 10 s" if isinstance(error, TimeoutError) else str(error)
        return Attempt(None, f"{type(error).__name__}: {reason}"[:300], elapsed())
    finally:
        connection.close()
    if 200 <= status < 300:
        return Attempt(status, "", elapsed())
    note = " (redirects are not followed)" if 300 <= status < 400 else ""
    return Attempt(status, f"The receiver answered {status}{note}.", elapsed())
