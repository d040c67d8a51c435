"""The open connections of one server: the caps per address and in all, and refusal logs."""

from __future__ import annotations

import weakref
from collections import Counter, OrderedDict
from typing import TYPE_CHECKING

from uvicorn.server import ServerState

from faxout.intake.edge.limits import REFUSAL_LOG_SECONDS, log

if TYPE_CHECKING:
    from faxout.intake.edge.protocol import EdgeProtocol
from faxout.intake.settings import Http


class Registry:
    """The open connections of one server: counts per address, and the idle ones by age."""

    def __init__(self, http: Http) -> None:
        self.http = http
        self.open = 0
        self.per_address: Counter[str] = Counter()
        self.idle: OrderedDict[EdgeProtocol, None] = OrderedDict()  # oldest first
        self._refused: Counter[str] = Counter()
        self._logged_at: dict[str, float] = {}

    def admit(self, conn: EdgeProtocol, now: float) -> bool:
        """Count ``conn`` in, making room if need be; False when it must be closed instead."""
        cap = self.http.max_connections_per_address
        if cap and not conn.unlimited and self.per_address[conn.address] >= cap:
            self._refuse("per_address", conn.address, now)
            return False
        if self.open >= self.http.max_connections:
            if not self.idle:
                self._refuse("all_busy", conn.address, now)
                return False
            victim, _ = self.idle.popitem(last=False)
            self.release(victim)
            victim.evict()
        self.open += 1
        self.per_address[conn.address] += 1
        self.idle[conn] = None
        return True

    def release(self, conn: EdgeProtocol) -> None:
        """Count ``conn`` out (idempotent)."""
        if conn.released:
            return
        conn.released = True
        self.open -= 1
        self.per_address[conn.address] -= 1
        if self.per_address[conn.address] <= 0:
            del self.per_address[conn.address]
        self.idle.pop(conn, None)

    def mark_idle(self, conn: EdgeProtocol) -> None:
        if not conn.released:
            self.idle[conn] = None
            self.idle.move_to_end(conn)

    def mark_busy(self, conn: EdgeProtocol) -> None:
        self.idle.pop(conn, None)

    def _refuse(self, reason: str, address: str, now: float) -> None:
        what = {
            "per_address": "over max_connections_per_address",
            "all_busy": "at max_connections with every connection busy",
        }[reason]
        self.note("connection refused", what, address, now)

    def note(self, message: str, reason: str, address: str, now: float) -> None:
        """Log a refusal, but under a flood only one line per kind of refusal every
        ``REFUSAL_LOG_SECONDS``, with how many happened since the last line."""
        kind = f"{message}: {reason}"
        self._refused[kind] += 1
        if now - self._logged_at.get(kind, -REFUSAL_LOG_SECONDS) < REFUSAL_LOG_SECONDS:
            return
        self._logged_at[kind] = now
        count, self._refused[kind] = self._refused[kind], 0
        log.warning(
            message, extra={"fields": {"reason": reason, "count": count, "client": address}}
        )


registries: weakref.WeakKeyDictionary[ServerState, Registry] = weakref.WeakKeyDictionary()
