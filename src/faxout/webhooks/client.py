"""One webhook delivery over HTTP(S): POST the body to the checked address, read the status.

Redirects are not followed (a 3xx is a failed try): following one would leave the checked
address. Every outcome is a value (``Answer``); nothing here raises for a network failure.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from dataclasses import dataclass

from faxout.webhooks.guard import BadUrlError, Target, resolve

USER_AGENT = "faxout-webhooks/1"
_READ_LIMIT = 512  # of an error answer's body, kept for the account to see


@dataclass(frozen=True)
class Answer:
    """What one try got: the HTTP status (None when no answer came) and what went wrong."""

    status: int | None
    error: str = ""

    @property
    def ok(self) -> bool:
        """The endpoint took the event (2xx)."""
        return self.status is not None and 200 <= self.status < 300

    @property
    def gone(self) -> bool:
        """The endpoint says it will never take events again (410)."""
        return self.status == 410


class _Pinned(http.client.HTTPConnection):
    def __init__(self, target: Target, timeout: float) -> None:
        super().__init__(target.host, target.port, timeout=timeout)
        self._address = target.address

    def connect(self) -> None:
        self.sock = socket.create_connection((self._address, self.port), self.timeout)


class _PinnedTLS(http.client.HTTPSConnection):
    def __init__(self, target: Target, timeout: float, context: ssl.SSLContext) -> None:
        super().__init__(target.host, target.port, timeout=timeout, context=context)
        self._address, self._tls = target.address, context

    def connect(self) -> None:
        raw = socket.create_connection((self._address, self.port), self.timeout)
        self.sock = self._tls.wrap_socket(raw, server_hostname=self.host)


def post(
    url: str,
    body: bytes,
    headers: dict[str, str],
    *,
    timeout: float,
    allow_private: bool,
    tls: ssl.SSLContext | None = None,
) -> Answer:
    """POST ``body`` (JSON) to ``url`` with ``headers``; the answer."""
    try:
        target = resolve(url, allow_private=allow_private)
    except BadUrlError as exc:
        return Answer(None, str(exc))  # a try that failed: a name may resolve elsewhere later
    conn: http.client.HTTPConnection = (
        _PinnedTLS(target, timeout, tls or ssl.create_default_context())
        if target.scheme == "https"
        else _Pinned(target, timeout)
    )
    try:
        conn.request(
            "POST",
            target.path,
            body=body,
            headers={
                "content-type": "application/json",
                "user-agent": USER_AGENT,
                **headers,
            },
        )
        reply = conn.getresponse()
        said = reply.read(_READ_LIMIT).decode("utf-8", "replace").strip()
        status = reply.status
    except (OSError, http.client.HTTPException) as exc:
        return Answer(None, f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__)
    finally:
        conn.close()
    if 200 <= status < 300:
        return Answer(status)
    return Answer(status, f"HTTP {status}" + (f": {said[:200]}" if said else ""))
