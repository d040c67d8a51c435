"""The values of inbound fax: an incoming call, what its reception produced, a stored fax."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime


class InboundState(enum.StrEnum):
    """Where a received fax stands. ``receiving`` is the only state that is not final."""

    RECEIVING = "receiving"
    RECEIVED = "received"  # every page the sender sent, and the call ended well
    PARTIAL = "partial"  # some pages, then the call broke (or the receiver died)
    FAILED = "failed"  # no page at all


FINAL_STATES = frozenset({InboundState.RECEIVED, InboundState.PARTIAL, InboundState.FAILED})


@dataclass(frozen=True)
class IncomingCall:
    """An incoming call as the transport sees it when it rings.

    ``call_ref`` names the call uniquely within ``transport`` (a SIP Call-ID, a HylaFAX queue
    file): the same reference seen twice is the same fax, stored once."""

    transport: str
    call_ref: str
    caller: str = ""
    caller_name: str = ""
    called: str = ""


@dataclass(frozen=True)
class ReceptionFacts:
    """What the T.30 session reported when the call ended."""

    pages: int
    complete: bool
    csid: str = ""
    resolution: str = ""  # "204x196" (dots per inch across x down)
    bit_rate: int | None = None
    ecm: bool | None = None
    compression: str | None = None
    line_seconds: float | None = None
    t30_code: int | None = None
    t30_text: str = ""
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class InboundFax:
    """A row of ``inbound_faxes`` as the rest of faxout reads it."""

    id: int
    inbox_id: int
    inbox: str
    account_id: int | None
    transport: str
    call_ref: str
    state: InboundState
    caller: str
    caller_name: str
    csid: str
    called: str
    pages: int
    resolution: str
    bit_rate: int | None
    ecm: bool | None
    compression: str | None
    line_seconds: float | None
    t30_code: int | None
    t30_text: str
    notes: tuple[str, ...]
    blob_key: str | None
    size: int | None
    started_at: datetime
    finished_at: datetime | None
    read_at: datetime | None
    archived_at: datetime | None
    purged_at: datetime | None

    @property
    def final(self) -> bool:
        """True once the reception is over (whatever its outcome)."""
        return self.state in FINAL_STATES
