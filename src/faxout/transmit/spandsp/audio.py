"""The audio fax terminal (``fax_state_t``): T.30 over V.21/V.27ter/V.29/V.17 modems."""

from __future__ import annotations

import ctypes
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

from faxout.errors import TransportError
from faxout.transmit.spandsp._lib import library
from faxout.transmit.spandsp.logroute import LogRoute
from faxout.transmit.spandsp.t30 import Listener, StatsSnapshot, T30Session
from faxout.transmit.spandsp.terminal import Terminal

Samples = npt.NDArray[np.int16]


class AudioEndpoint(Terminal):
    """One fax terminal producing and consuming 8 kHz 16-bit linear audio.

    Create, use and close it on one thread: spandsp state objects are not thread-safe.
    """

    kind = "audio fax terminal"

    def __init__(
        self,
        calling: bool,
        now: Callable[[], float],
        log: LogRoute,
        listener: Listener | None = None,
        before_phase_d: Callable[[int, StatsSnapshot], None] | None = None,
    ) -> None:
        lib = library()
        ptr = lib.fax_init(None, int(calling))
        if not ptr:
            raise TransportError("spandsp fax_init failed")
        super().__init__(ptr, lib.fax_free)
        self._log = log
        # Always emit full blocks (silence when idle) so both directions stay sample-aligned.
        lib.fax_set_transmit_on_idle(ptr, 1)
        log.attach(lib.fax_get_logging_state(ptr))
        t30 = lib.fax_get_t30_state(ptr)
        log.attach(lib.t30_get_logging_state(t30))
        self.t30 = T30Session(t30, now, listener, before_phase_d)

    def transmit(self, n: int) -> Samples:
        """The next ``n`` samples this terminal puts on the line."""
        out = np.zeros(n, dtype=np.int16)
        library().fax_tx(self._live(), out.ctypes.data_as(ctypes.POINTER(ctypes.c_int16)), n)
        self.t30.raise_pending()
        return out

    def receive(self, samples: Samples) -> None:
        """Feed what the line delivered; this also advances the T.30 timers."""
        buf = np.ascontiguousarray(samples, dtype=np.int16)
        ptr = buf.ctypes.data_as(ctypes.POINTER(ctypes.c_int16))
        library().fax_rx(self._live(), ptr, len(buf))
        self.t30.raise_pending()
