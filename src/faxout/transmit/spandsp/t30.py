"""A T.30 session: configuration, phase B/D/E callbacks and statistics of one ``t30_state_t``.

Besides spandsp's phase B/D/E handlers, the session records a ``C`` event when the caller hears
CFR (training accepted): spandsp has no phase C handler, and it is the moment a page's image
data starts, which live progress reports as "sending page n".

The state object belongs to its fax or T.38 terminal; this class only borrows the pointer and
must not outlive it. Callbacks record what happened; exceptions raised by listeners are caught
in the callback (they must never unwind into C) and re-raised by ``raise_pending()`` once control
is back in Python.
"""

from __future__ import annotations

import ctypes
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from faxout.errors import TransportError
from faxout.transmit.spandsp import constants as k
from faxout.transmit.spandsp._lib import (
    DocumentHandler,
    PhaseBHandler,
    PhaseDHandler,
    PhaseEHandler,
    RealTimeFrameHandler,
    T30Stats,
    library,
)

# spandsp copies file names into char[256].
MAX_PATH_BYTES = 255
MAX_IDENT_CHARS = 20


@dataclass(frozen=True)
class T30Config:
    """What one end offers. Masks use the ``T30_SUPPORT_*`` constants."""

    ident: str = ""
    ecm: bool = True
    modems: int = k.T30_SUPPORT_V17 | k.T30_SUPPORT_V29 | k.T30_SUPPORT_V27TER
    compressions: int = (
        k.T30_SUPPORT_T4_1D_COMPRESSION
        | k.T30_SUPPORT_T4_2D_COMPRESSION
        | k.T30_SUPPORT_T6_COMPRESSION
    )
    tx_file: Path | None = None
    rx_file: Path | None = None
    # Returned from phase B on the answerer: 0 accepts, a T30_ERR_* refuses the call.
    phase_b_verdict: int = k.T30_ERR_OK


@dataclass(frozen=True)
class StatsSnapshot:
    """A copy of ``t30_stats_t`` taken at one moment."""

    bit_rate: int
    ecm: bool
    pages_tx: int
    pages_rx: int
    pages_in_file: int
    x_resolution: int
    y_resolution: int
    width: int
    length: int
    image_size: int
    encoding: int
    bad_rows: int
    longest_bad_row_run: int
    ecm_retries: int
    status: int


@dataclass(frozen=True)
class PhaseEvent:
    """One callback: phase ``B``/``D``/``E``; ``fcf`` is the frame (B, D) or completion code (E).

    ``C`` is the caller hearing CFR (``fcf`` CFR): the image data of the next page follows."""

    phase: str
    fcf: int
    stats: StatsSnapshot
    line_seconds: float


Listener = Callable[[PhaseEvent], None]


def _encode_path(path: Path) -> bytes:
    raw = str(path).encode()
    if len(raw) > MAX_PATH_BYTES:
        raise TransportError(f"spandsp cannot take paths over {MAX_PATH_BYTES} bytes: {path}")
    return raw


class T30Session:
    """Callbacks and configuration around one borrowed ``t30_state_t*``."""

    def __init__(
        self,
        t30: int,
        now: Callable[[], float],
        listener: Listener | None = None,
        before_phase_d: Callable[[int, StatsSnapshot], None] | None = None,
    ) -> None:
        self._t30 = t30
        self._now = now
        self._listener = listener
        self._before_phase_d = before_phase_d
        self._pending: BaseException | None = None
        self._verdict = k.T30_ERR_OK
        self.events: list[PhaseEvent] = []
        self.completion: int | None = None
        self.last_dcs: bytes | None = None
        self.remote_ident: str | None = None
        # Keep every trampoline alive as long as the session: spandsp keeps the raw pointers.
        self._cbs = (
            PhaseBHandler(self._on_phase_b),
            PhaseDHandler(self._on_phase_d),
            PhaseEHandler(self._on_phase_e),
            DocumentHandler(self._on_document),
            RealTimeFrameHandler(self._on_frame),
        )
        lib = library()
        lib.t30_set_phase_b_handler(t30, self._cbs[0], None)
        lib.t30_set_phase_d_handler(t30, self._cbs[1], None)
        lib.t30_set_phase_e_handler(t30, self._cbs[2], None)
        lib.t30_set_document_handler(t30, self._cbs[3], None)
        lib.t30_set_real_time_frame_handler(t30, self._cbs[4], None)

    def configure(self, config: T30Config) -> None:
        """Apply idents, capabilities and files before the call starts."""
        lib = library()
        t30 = self._t30
        if len(config.ident) > MAX_IDENT_CHARS:
            raise TransportError(f"fax ident over {MAX_IDENT_CHARS} characters: {config.ident!r}")
        if not (config.ident.isascii() and config.ident.isprintable()):
            raise TransportError(f"fax ident must be printable ASCII: {config.ident!r}")
        if config.ident and lib.t30_set_tx_ident(t30, config.ident.encode("ascii")) < 0:
            raise TransportError(f"spandsp refused the fax ident {config.ident!r}")
        lib.t30_set_ecm_capability(t30, int(config.ecm))
        lib.t30_set_supported_modems(t30, config.modems)
        lib.t30_set_supported_compressions(t30, config.compressions)
        lib.t30_set_supported_resolutions(
            t30,
            k.T30_SUPPORT_STANDARD_RESOLUTION
            | k.T30_SUPPORT_FINE_RESOLUTION
            | k.T30_SUPPORT_SUPERFINE_RESOLUTION
            | k.T30_SUPPORT_R8_RESOLUTION,
        )
        lib.t30_set_supported_image_sizes(
            t30,
            k.T30_SUPPORT_215MM_WIDTH
            | k.T30_SUPPORT_255MM_WIDTH
            | k.T30_SUPPORT_303MM_WIDTH
            | k.T30_SUPPORT_UNLIMITED_LENGTH
            | k.T30_SUPPORT_A4_LENGTH
            | k.T30_SUPPORT_B4_LENGTH
            | k.T30_SUPPORT_US_LETTER_LENGTH
            | k.T30_SUPPORT_US_LEGAL_LENGTH,
        )
        if config.tx_file is not None:
            lib.t30_set_tx_file(t30, _encode_path(config.tx_file), -1, -1)
        if config.rx_file is not None:
            lib.t30_set_rx_file(t30, _encode_path(config.rx_file), -1)
            # The answerer stores T.6: the smallest file, and lossless like the other codings.
            lib.t30_set_rx_encoding(t30, k.T4_COMPRESSION_ITU_T6)
        self._verdict = config.phase_b_verdict

    def stats(self) -> StatsSnapshot:
        """Current transfer statistics."""
        raw = T30Stats()
        library().t30_get_transfer_statistics(self._t30, ctypes.byref(raw))
        return StatsSnapshot(
            bit_rate=raw.bit_rate,
            ecm=bool(raw.error_correcting_mode),
            pages_tx=raw.pages_tx,
            pages_rx=raw.pages_rx,
            pages_in_file=raw.pages_in_file,
            x_resolution=raw.x_resolution,
            y_resolution=raw.y_resolution,
            width=raw.width,
            length=raw.length,
            image_size=raw.image_size,
            encoding=raw.encoding,
            bad_rows=raw.bad_rows,
            longest_bad_row_run=raw.longest_bad_row_run,
            ecm_retries=raw.error_correcting_mode_retries,
            status=raw.current_status,
        )

    @property
    def finished(self) -> bool:
        """Phase E has run (it runs exactly once per call)."""
        return self.completion is not None

    def terminate(self) -> None:
        """Hang up: ends the call now; phase E runs with the status so far or CALLDROPPED."""
        if not self.finished:
            library().t30_terminate(self._t30)

    def raise_pending(self) -> None:
        """Re-raise, in Python, an exception a listener raised inside a C callback."""
        if self._pending is not None:
            exc, self._pending = self._pending, None
            raise exc

    # --- callbacks from C: each catches everything and returns an explicit code ---

    def _record(self, phase: str, fcf: int) -> None:
        event = PhaseEvent(phase, fcf, self.stats(), self._now())
        self.events.append(event)
        if self._listener is not None:
            self._listener(event)

    def _capture(self, exc: BaseException) -> None:
        if self._pending is None:
            self._pending = exc

    def _on_phase_b(self, _s: int | None, _u: int | None, result: int) -> int:
        try:
            raw = library().t30_get_rx_ident(self._t30)
            self.remote_ident = raw.decode("ascii", "replace").strip() if raw else None
            self._record("B", result)
        except BaseException as exc:
            self._capture(exc)
        return self._verdict

    def _on_phase_d(self, _s: int | None, _u: int | None, result: int) -> int:
        try:
            if self._before_phase_d is not None:
                self._before_phase_d(result, self.stats())
            self._record("D", result)
        except BaseException as exc:
            self._capture(exc)
        return k.T30_ERR_OK

    def _on_phase_e(self, _s: int | None, _u: int | None, code: int) -> None:
        try:
            self.completion = code
            self._record("E", code)
        except BaseException as exc:
            self._capture(exc)

    def _on_document(self, _s: int | None, _u: int | None, _status: int) -> int:
        return 0  # one document per call

    def _on_frame(
        self,
        _s: int | None,
        _u: int | None,
        incoming: int,
        msg: ctypes._Pointer[ctypes.c_uint8],
        length: int,
    ) -> None:
        try:
            # Keep the last DCS we sent (the caller's): it names the modem actually used.
            if not incoming and length >= 5 and (msg[2] & 0xFE) == k.T30_DCS:
                self.last_dcs = ctypes.string_at(msg, length)
            elif incoming and length >= 3 and (msg[2] & 0xFE) == k.T30_CFR:
                self._record("C", k.T30_CFR)
        except BaseException as exc:
            self._capture(exc)
