"""Which webhook URLs may be called: no reaching into the gateway's own network (SSRF).

A URL is checked when it is added (its form, and its host when that is an address or a name
for this machine) and again at every delivery, after resolving its name: every address it
resolves to must be public, and the connection goes to the address that was checked (so a name
that resolves to a public address for the check and to 127.0.0.1 for the connection cannot slip
through). ``webhooks.allow_private`` lifts the address rule, for endpoints on the operator's
own network.
"""

from __future__ import annotations

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import SplitResult, urlsplit

MAX_URL_CHARS = 2000
_LOCAL_NAMES = ("localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback")


class BadUrlError(ValueError):
    """A webhook URL that will not be called; the message says why."""


@dataclass(frozen=True)
class Target:
    """Where one delivery connects: the URL's parts and the checked address."""

    scheme: str
    host: str
    port: int
    path: str
    address: str


def _public(address: str) -> bool:
    ip = ipaddress.ip_address(address)
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def parse(url: str) -> SplitResult:
    """``url`` split, or ``BadUrlError`` saying what is wrong with its form."""
    if len(url) > MAX_URL_CHARS:
        raise BadUrlError(f"the URL is longer than {MAX_URL_CHARS} characters")
    if not url.isprintable() or any(c.isspace() for c in url):
        raise BadUrlError("the URL contains spaces or control characters")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise BadUrlError("the URL must start with https:// (or http://)")
    if not parts.hostname:
        raise BadUrlError("the URL has no host")
    if parts.username is not None or parts.password is not None:
        raise BadUrlError("put no credentials in the URL: the signature tells it is faxout")
    if parts.fragment:
        raise BadUrlError("the URL has a #fragment, which is never sent")
    try:
        parts.port  # noqa: B018 - raises on a port out of range
    except ValueError as exc:
        raise BadUrlError("the URL's port is not a number from 1 to 65535") from exc
    return parts


def check(url: str, *, allow_private: bool) -> str:
    """``url`` if it may be added; ``BadUrlError`` otherwise (names are resolved at delivery)."""
    parts = parse(url)
    host = (parts.hostname or "").rstrip(".").lower()
    if allow_private:
        return url
    if host in _LOCAL_NAMES or host.endswith(".localhost"):
        raise BadUrlError(f"{host} is this machine (set webhooks.allow_private to allow it)")
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        return url
    if not _public(str(literal)):
        raise BadUrlError(
            f"{host} is not a public address (set webhooks.allow_private to allow it)"
        )
    return url


def resolve(url: str, *, allow_private: bool) -> Target:
    """Where a delivery to ``url`` connects; ``BadUrlError`` when the name does not resolve or
    resolves to an address that is not allowed."""
    parts = parse(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError) as exc:
        raise BadUrlError(f"cannot resolve {host}: {exc}") from exc
    addresses = [str(info[4][0]) for info in infos]
    if not addresses:
        raise BadUrlError(f"{host} has no address")
    if not allow_private:
        inner = [a for a in addresses if not _public(a)]
        if inner:
            raise BadUrlError(
                f"{host} resolves to {inner[0]}, not a public address "
                "(set webhooks.allow_private to allow it)"
            )
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    return Target(parts.scheme, host, port, path, addresses[0])
