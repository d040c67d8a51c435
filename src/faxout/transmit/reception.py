"""What a T.30 session that received a fax reports, as the inbound store takes it: one
translation for every transport whose far end calls us (SIP, the simulated line)."""

from __future__ import annotations

from collections.abc import Iterable

from faxout.inbound.model import ReceptionFacts
from faxout.transmit.outcome import compression_of
from faxout.transmit.spandsp import T30Session, completion_text
from faxout.transmit.spandsp import constants as k

_INCH = 0.0254  # spandsp counts resolution in pixels per metre


def reception_facts(
    t30: T30Session | None, line_seconds: float | None, notes: Iterable[str] = ()
) -> ReceptionFacts:
    """The facts of a finished reception (``t30`` None: the media never started)."""
    if t30 is None:
        code = k.T30_ERR_CALLDROPPED
        return ReceptionFacts(
            pages=0,
            complete=False,
            t30_code=code,
            t30_text=completion_text(code),
            line_seconds=line_seconds,
            notes=tuple(notes),
        )
    code = t30.completion if t30.completion is not None else k.T30_ERR_CALLDROPPED
    stats = t30.stats()
    resolution = ""
    if stats.x_resolution and stats.y_resolution:
        resolution = f"{round(stats.x_resolution * _INCH)}x{round(stats.y_resolution * _INCH)}"
    coding = compression_of(stats.encoding) if stats.pages_rx else None
    return ReceptionFacts(
        pages=stats.pages_rx,
        complete=code == k.T30_ERR_OK,
        csid=t30.remote_ident or "",
        resolution=resolution,
        bit_rate=stats.bit_rate or None,
        ecm=stats.ecm if stats.pages_rx else None,
        compression=coding.value if coding else None,
        line_seconds=None if line_seconds is None else round(line_seconds, 2),
        t30_code=code,
        t30_text=completion_text(code),
        notes=tuple(notes),
    )
