"""From what the calling terminal saw to a ``CallResult``: per-page verdicts, the negotiated
link, and the outcome. Shared by every transport that drives a spandsp caller."""

from __future__ import annotations

from faxout.transmit.result import Compression, Outcome, PageResult
from faxout.transmit.spandsp import PhaseEvent, frame_name
from faxout.transmit.spandsp import constants as k

# The far end answered as a fax machine and refused in phase B: a capability it lacks, or our
# ident/password/address it will not accept. A DCN after a page (code 15) is not here: machines
# send it when the line went bad as much as when they are full, so it is partial/failed.
REFUSALS = frozenset(
    {
        k.T30_ERR_INCOMPATIBLE,
        k.T30_ERR_RX_INCAPABLE,
        k.T30_ERR_NORESSUPPORT,
        k.T30_ERR_NOSIZESUPPORT,
        k.T30_ERR_TX_GOTDCN,
        *range(k.T30_ERR_IDENT_UNACCEPTABLE, k.T30_ERR_CSA_UNACCEPTABLE + 1),
    }
)
# Nobody on the far end spoke T.30 at all.
SILENCE = frozenset({k.T30_ERR_CEDTONE, k.T30_ERR_T0_EXPIRED, k.T30_ERR_T1_EXPIRED})

_ACCEPTED = {"MCF", "RTP", "PIP"}

# DCS data signalling rate (bits 11-14, FIF byte 2 mask 0x3C) -> (modem, bit/s)
_DCS_RATES = {
    0x20: ("V.17", 14400),
    0x28: ("V.17", 12000),
    0x24: ("V.17", 9600),
    0x2C: ("V.17", 7200),
    0x04: ("V.29", 9600),
    0x0C: ("V.29", 7200),
    0x08: ("V.27ter", 4800),
    0x00: ("V.27ter", 2400),
}
_CODINGS = {
    k.T4_COMPRESSION_ITU_T4_1D: Compression.MH,
    k.T4_COMPRESSION_ITU_T4_2D: Compression.MR,
    k.T4_COMPRESSION_ITU_T6: Compression.MMR,
}


def modem_of(dcs: bytes | None) -> str | None:
    """The modem named by the last DCS frame the caller sent."""
    if dcs is None or len(dcs) < 5:
        return None
    found = _DCS_RATES.get(dcs[4] & 0x3C)
    return found[0] if found else None


def compression_of(encoding: int) -> Compression | None:
    """The line coding from ``t30_stats_t.encoding``."""
    return _CODINGS.get(encoding)


def page_results(
    caller_events: list[PhaseEvent], far_events: list[PhaseEvent] | None = None
) -> tuple[PageResult, ...]:
    """Per-page verdicts from the caller's phase D events (a retransmitted page keeps its last
    verdict), with the receiver's bad-row counts when the far end is ours to inspect."""
    far_bad: dict[int, tuple[int, int]] = {}
    for event in far_events or []:
        if event.phase == "D":
            far_bad[event.stats.pages_rx] = (event.stats.bad_rows, event.stats.image_size)
    pages: dict[int, PageResult] = {}
    for event in caller_events:
        if event.phase != "D":
            continue
        verdict = frame_name(event.fcf)
        number = event.stats.pages_tx + (0 if verdict in _ACCEPTED else 1)
        bad, size = far_bad.get(number, (None, None)) if far_events is not None else (None, None)
        pages[number] = PageResult(number, verdict, bad, size, event.stats.bit_rate or None)
    return tuple(pages[n] for n in sorted(pages))


def classify(
    code: int,
    heard_dis: bool,
    pages_in_document: int,
    pages: tuple[PageResult, ...],
) -> Outcome:
    """The outcome of a call in which the fax engine ran.

    ``ok`` is strict: code 0, every page confirmed with MCF, no bad rows. A far end that never
    sent DIS and let our timers run out is ``not_fax``; refusals in phase B are ``rejected``;
    other failures are ``partial`` when
    some pages were confirmed, else ``failed``.
    """
    confirmed = sum(1 for p in pages if p.verdict == "MCF")
    clean = all(p.verdict == "MCF" and not p.bad_rows for p in pages)
    if code == k.T30_ERR_OK and confirmed == pages_in_document == len(pages) and clean:
        return Outcome.OK
    if code in SILENCE and not heard_dis:
        return Outcome.NOT_FAX
    if code in REFUSALS:
        return Outcome.REJECTED
    return Outcome.PARTIAL if confirmed else Outcome.FAILED
