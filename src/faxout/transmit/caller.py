"""Our calling terminal's side of any spandsp-driven transport (simline, SIP): the T.30 offer
made from a ``FaxCall``, live progress from its phase events, and the ``CallResult`` read off
its session at the end."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from faxout.transmit import outcome
from faxout.transmit.result import CallProgress, CallResult, Compression, FaxCall, Modem
from faxout.transmit.spandsp import (
    PhaseEvent,
    T30Config,
    T30Session,
    completion_text,
    frame_name,
)
from faxout.transmit.spandsp import constants as k
from faxout.transmit.transport import ProgressSink

_MODEM_BITS = {
    Modem.V17: k.T30_SUPPORT_V17,
    Modem.V29: k.T30_SUPPORT_V29,
    Modem.V27TER: k.T30_SUPPORT_V27TER,
}
_CODING_BITS = {
    Compression.MH: k.T30_SUPPORT_T4_1D_COMPRESSION,
    Compression.MR: k.T30_SUPPORT_T4_2D_COMPRESSION,
    Compression.MMR: k.T30_SUPPORT_T6_COMPRESSION,
}


def caller_config(call: FaxCall) -> T30Config:
    """Our terminal's T.30 offer, from the call's preferences."""
    modems = 0
    for modem in call.modems:
        modems |= _MODEM_BITS[modem]
    codings = 0
    for coding in call.compressions:
        codings |= _CODING_BITS[coding]
    return T30Config(
        ident=call.ident,
        ecm=call.ecm,
        modems=modems,
        compressions=codings,
        tx_file=call.document,
    )


class CallerProgress:
    """Turns the caller's phase B/C/D events into live ``CallProgress``.

    A page is ``sending`` when its image data starts: after CFR (the first page, and a page
    after a retrain) or right after the previous page's MCF/RTP/PIP (the next page follows
    without training). Each page is reported under way once, however it started.
    """

    def __init__(self, progress: ProgressSink, pages: int) -> None:
        self._progress = progress
        self._pages = pages
        self._under_way = 0  # the page last reported as sending

    def __call__(self, event: PhaseEvent) -> None:
        if event.phase == "B":
            self._progress(
                CallProgress("negotiated", event.line_seconds, pages=self._pages, detail="DIS")
            )
        elif event.phase == "C":
            self._sending(event.stats.pages_tx + 1, event.line_seconds)
        elif event.phase == "D":
            verdict = frame_name(event.fcf)
            accepted = verdict in ("MCF", "RTP", "PIP")
            page = event.stats.pages_tx + (0 if accepted else 1)
            self._progress(
                CallProgress(
                    "page",
                    event.line_seconds,
                    page=page,
                    pages=self._pages,
                    verdict=verdict,
                    detail=f"{event.stats.bit_rate} bit/s",
                )
            )
            if accepted and verdict != "RTP":  # RTP: a retrain (CFR) comes before the next page
                self._sending(page + 1, event.line_seconds)

    def _sending(self, page: int, line_seconds: float) -> None:
        if page == self._under_way or page > self._pages:
            return
        self._under_way = page
        self._progress(CallProgress("sending", line_seconds, page=page, pages=self._pages))


def caller_result(
    t30: T30Session,
    pages_in_document: int,
    far_events: list[PhaseEvent] | None,
    line_now: float,
    wall_seconds: float,
    notes: Sequence[str],
    progress: ProgressSink,
    received: Path | None = None,
) -> CallResult:
    """The ``CallResult`` from the caller's session (and the far end's page statistics, when
    the far end is ours to read)."""
    code = t30.completion if t30.completion is not None else k.T30_ERR_CALLDROPPED
    stats = t30.stats()
    pages = outcome.page_results(t30.events, far_events)
    heard_dis = any(e.phase == "B" for e in t30.events)
    verdict = outcome.classify(code, heard_dis, pages_in_document, pages)
    end_line = next((e.line_seconds for e in t30.events if e.phase == "E"), None)
    line_seconds = end_line if end_line is not None else line_now
    progress(CallProgress("hangup", line_seconds, detail=completion_text(code)))
    return CallResult(
        outcome=verdict,
        t30_code=code,
        t30_text=completion_text(code),
        pages_in_document=pages_in_document,
        pages_sent=stats.pages_tx,
        pages_confirmed=sum(1 for p in pages if p.verdict == "MCF"),
        pages=pages,
        modem=outcome.modem_of(t30.last_dcs) if heard_dis else None,
        bit_rate=stats.bit_rate if t30.last_dcs else None,
        ecm=stats.ecm if t30.last_dcs else None,
        compression=outcome.compression_of(stats.encoding) if stats.pages_tx else None,
        remote_csid=t30.remote_ident or None,
        line_seconds=round(line_seconds, 3),
        wall_seconds=round(wall_seconds, 4),
        received_path=received,
        notes=tuple(notes),
    )
