"""Where a webhook may be sent (docs/webhooks.md, Destinations): no SSRF.

In production an endpoint's host must resolve only to public addresses: loopback, private,
link-local (the cloud metadata service at 169.254.169.254 among them), shared, reserved,
multicast and unspecified addresses are refused, when the endpoint is saved and again before
each delivery (the name is resolved again each time, and the connection goes to the address
that was checked, so a name re-pointed in between cannot slip through). Outside production,
loopback is allowed (the demo's local receiver), and an endpoint added with `--allow-private`
may use private addresses too.
"""

import ipaddress
import socket
from urllib.parse import urlsplit

from django.conf import settings

METADATA_ADDRESSES = {
    ipaddress.ip_address("169.254.169.254"),
    ipaddress.ip_address("fd00:ec2::254"),
}


class DestinationRefused(ValueError):
    """The URL may not be sent to; the message says why, for people."""


def parse(url: str) -> tuple[str, str, int]:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise DestinationRefused("The URL must start with https:// (or http://).")
    if not parts.hostname:
        raise DestinationRefused("The URL has no host.")
    if parts.username or parts.password:
        raise DestinationRefused("The URL may not carry a user name or password.")
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise DestinationRefused("The URL's port is not a number from 1 to 65535.") from None
    return parts.scheme, parts.hostname, port


def _why_refused(address, *, allow_loopback: bool, allow_private: bool) -> str | None:
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
        address = address.ipv4_mapped
    if address in METADATA_ADDRESSES:
        return "the cloud metadata service"
    if address.is_loopback:
        return None if allow_loopback or allow_private else "a loopback address"
    if address.is_link_local:
        return "a link-local address"
    if address.is_unspecified or address.is_multicast or address.is_reserved:
        return "a reserved address"
    if address.is_private or (
        isinstance(address, ipaddress.IPv4Address)
        and address in ipaddress.ip_network("100.64.0.0/10")
    ):
        return None if allow_private else "a private address"
    if not address.is_global:
        return "a non-public address"
    return None


def resolve(url: str, *, allow_private: bool = False) -> tuple[str, str, int, str]:
    """(scheme, host, port, address to connect to) for `url`, or DestinationRefused.

    Every address the host resolves to must be allowed (one bad answer refuses the name)."""
    scheme, host, port = parse(url)
    production = settings.PRODUCTION
    allow_private = allow_private and not production
    allow_loopback = not production
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise DestinationRefused(f"The host {host!r} cannot be resolved ({error}).") from None
    addresses = []
    for *_, sockaddr in infos:
        address = ipaddress.ip_address(sockaddr[0].split("%")[0])
        why = _why_refused(address, allow_loopback=allow_loopback, allow_private=allow_private)
        if why:
            raise DestinationRefused(
                f"The host {host!r} resolves to {address}, {why}: webhooks are only sent to "
                "public addresses."
            )
        addresses.append(str(address))
    if not addresses:
        raise DestinationRefused(f"The host {host!r} resolves to no address.")
    return scheme, host, port, addresses[0]
