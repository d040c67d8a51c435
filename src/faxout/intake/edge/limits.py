"""What each connection is held to: the ``[http]`` settings as the edge reads them."""

from __future__ import annotations

import ipaddress
import logging
import resource
from collections.abc import Sequence
from dataclasses import dataclass

from faxout.intake.settings import Http

log = logging.getLogger("faxout.intake.edge")
STATE_KEY = "faxout.http"
REFUSAL_LOG_SECONDS = 10.0  # at most one summary line per reason this often, under a flood
# Descriptors a server process needs besides its connections: databases, queue, spool files,
# render pipes, logs.
FD_RESERVE = 256
# Closing a socket with unread bytes makes the kernel send a reset, which can destroy the answer
# before the client reads it. So when the client may still be sending, we send our FIN after the
# answer and read (and drop) what still comes, for at most this long and this much.
LINGER_SECONDS = 2.0
LINGER_BYTES = 1024 * 1024


def ensure_descriptors(http: Http) -> None:
    """Raise this process's open-file limit so ``max_connections`` can be reached (worker
    processes inherit it); warn when the hard limit does not allow it."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = http.max_connections + FD_RESERVE
    if soft != resource.RLIM_INFINITY and soft < want:
        new = want if hard == resource.RLIM_INFINITY else min(want, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (new, hard))
        soft = new
    if soft != resource.RLIM_INFINITY and soft < want:
        log.warning(
            "open-file limit below http.max_connections; lower it or raise the limit",
            extra={"fields": {"nofile": soft, "max_connections": http.max_connections}},
        )


@dataclass(frozen=True)
class EdgeSettings:
    """What each connection is held to: the ``[http]`` limits, and the peers exempt from the
    per-address cap."""

    http: Http
    unlimited: tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...] = ()

    @classmethod
    def of(cls, http: Http, trusted_proxies: Sequence[str]) -> EdgeSettings:
        """The edge settings for ``http`` with ``trusted_proxies`` exempt from the address cap."""
        nets = tuple(ipaddress.ip_network(p, strict=False) for p in trusted_proxies)
        return cls(http, nets)

    def is_unlimited(self, host: str) -> bool:
        """Whether ``host`` is a trusted proxy (no per-address cap)."""
        try:
            ip = ipaddress.ip_address(host)
        except ValueError:
            return False
        return any(ip in net for net in self.unlimited)


class BodyError(Exception):
    """The request body cannot be read to its end; the message says why."""


def address_key(host: str) -> str:
    """What the per-address cap counts: the IPv4 address, or the IPv6 /64 the address is in."""
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)
