"""Which address a request comes from: the TCP peer, unless a trusted proxy says otherwise.

The login throttle counts failures per (username, client address). If any client could name its
own address in ``X-Forwarded-For``, rotating the header would give every guess a fresh count, and
behind a proxy that sends no such header every client would share the proxy's address, so one
attacker could lock everyone out. uvicorn believes the header from 127.0.0.1 by default; faxout
believes it only from the peers ``trusted_proxies`` names, and then takes the right-most address
that is not itself a trusted proxy (each proxy appends the peer it saw, so everything to the left
of that is whatever the client wrote).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any


def server_options(trusted_proxies: Sequence[str]) -> dict[str, Any]:
    """``uvicorn.run``/``uvicorn.Config`` keyword arguments that make ``request.client`` the
    address described above."""
    trusted = list(trusted_proxies)
    # proxy_headers=False: no X-Forwarded-* header is read at all; forwarded_allow_ips is then
    # ignored, but passing the (empty) list keeps uvicorn from reading FORWARDED_ALLOW_IPS.
    return {"proxy_headers": bool(trusted), "forwarded_allow_ips": trusted}
