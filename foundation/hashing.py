"""Keyed digests of what may be compared but never shown (an IP address).

HMAC-SHA256 under the SECRET_KEY: without the key the 2^32 IPv4 addresses cannot be hashed one
by one to find which one a digest is.
"""

import hashlib
import hmac
import ipaddress

from django.conf import settings


def ip_digest(address: str | None) -> str:
    """The keyed digest of an IP address (IPv4, IPv6 in any spelling); "" for none or for
    something that is no address."""
    try:
        canonical = ipaddress.ip_address((address or "").strip()).compressed
    except ValueError:
        return ""
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"ip:{canonical}".encode(), hashlib.sha256).hexdigest()
