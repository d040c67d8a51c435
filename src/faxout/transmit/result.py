"""The values a fax attempt produces: ``FaxCall`` in, ``CallProgress`` during, ``CallResult`` out.

Expected endings (busy, no answer, a refusal) are outcomes in the result, never exceptions.
"""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faxout.jobs.model import Outcome
from faxout.render.options import Compression

# One vocabulary: the call's outcome is the job's (faxout.jobs.model), the line's coding the
# pages' (faxout.render.options).
__all__ = ["Compression", "Outcome"]

if TYPE_CHECKING:
    from faxout.transmit.preflight import Preflight


class Modem(enum.StrEnum):
    """Image-data modems, fastest first."""

    V17 = "v17"
    V29 = "v29"
    V27TER = "v27ter"


ALL_MODEMS = (Modem.V17, Modem.V29, Modem.V27TER)


@dataclass(frozen=True)
class FaxCall:
    """One attempt to send one document to one number.

    ``modems`` and ``compressions`` are what we offer; the line settles on the best both ends
    share. T.6 without ECM falls back to T.4 2-D, as T.30 requires.
    """

    document: Path
    number: str
    call_id: str
    modems: tuple[Modem, ...] = ALL_MODEMS
    ecm: bool = True
    compressions: tuple[Compression, ...] = (Compression.MH, Compression.MR, Compression.MMR)
    ident: str = ""
    # The preflight verdict on ``document`` when the caller made it (``transmit.attempt`` does,
    # once, before any transport); a transport used on its own checks the document itself.
    checked: Preflight | None = None


@dataclass(frozen=True)
class CallProgress:
    """A step of a call in progress, for live display and the job's live record.

    ``stage``: ``dialing``, ``answered``, ``negotiated``, ``sending`` (page ``page`` of
    ``pages`` is under way: its image data is on the line), ``page`` (a page was answered:
    ``verdict`` is MCF/RTP/RTN; MCF confirms it), ``hangup``. Page numbers count this call's
    document from 1 (a resumed attempt's document starts at the job's first unconfirmed page).
    """

    stage: str
    line_seconds: float
    page: int | None = None
    pages: int | None = None
    verdict: str | None = None
    detail: str = ""


@dataclass(frozen=True)
class PageResult:
    """One page as the far end judged it. ``bad_rows`` is None when the far end does not say
    (a real line only tells the verdict; the simulated line also knows the receiver's count)."""

    number: int
    verdict: str
    bad_rows: int | None = None
    image_bytes: int | None = None
    bit_rate: int | None = None


@dataclass(frozen=True)
class CallResult:
    """Everything known about a finished attempt. ``success`` is strict."""

    outcome: Outcome
    t30_code: int | None
    t30_text: str
    pages_in_document: int
    pages_sent: int
    pages_confirmed: int
    pages: tuple[PageResult, ...] = ()
    modem: str | None = None
    bit_rate: int | None = None
    ecm: bool | None = None
    compression: Compression | None = None
    remote_csid: str | None = None
    line_seconds: float = 0.0
    wall_seconds: float = 0.0
    # Only loopback transports know where the far end stored the fax.
    received_path: Path | None = None
    notes: tuple[str, ...] = field(default=())

    @property
    def success(self) -> bool:
        """Code 0, every page of the document confirmed with MCF, no bad rows anywhere."""
        return (
            self.t30_code == 0
            and self.pages_in_document > 0
            and self.pages_confirmed == self.pages_in_document
            and len(self.pages) == self.pages_in_document
            and all(p.verdict == "MCF" and not p.bad_rows for p in self.pages)
        )

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict (enums as strings, paths as strings)."""
        data = asdict(self)
        data["outcome"] = self.outcome.value
        data["compression"] = self.compression.value if self.compression else None
        data["received_path"] = str(self.received_path) if self.received_path else None
        data["notes"] = list(self.notes)
        data["pages"] = [asdict(p) for p in self.pages]
        data["success"] = self.success
        return data
