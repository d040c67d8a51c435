"""The T.38 fax terminal (``t38_terminal_state_t``): T.30 over IFP packets, no modems."""

from __future__ import annotations

import ctypes
from collections.abc import Callable

from faxout.errors import TransportError
from faxout.transmit.spandsp import constants as k
from faxout.transmit.spandsp._lib import T38TxPacketHandler, library
from faxout.transmit.spandsp.logroute import LogRoute
from faxout.transmit.spandsp.t30 import Listener, StatsSnapshot, T30Session
from faxout.transmit.spandsp.terminal import Terminal


class T38Endpoint(Terminal):
    """One T.38 terminal. Packets it emits are queued, never handed to a peer from inside the
    callback, so nothing re-enters spandsp and the channel can drop, delay or repeat them.

    Create, use and close it on one thread.
    """

    kind = "T.38 fax terminal"

    def __init__(
        self,
        calling: bool,
        now: Callable[[], float],
        log: LogRoute,
        paced: bool = True,
        listener: Listener | None = None,
        before_phase_d: Callable[[int, StatsSnapshot], None] | None = None,
    ) -> None:
        lib = library()
        self._outbox: list[tuple[bytes, int]] = []
        self._pending: BaseException | None = None
        self._tx = T38TxPacketHandler(self._on_packet)  # kept alive with the state
        ptr = lib.t38_terminal_init(None, int(calling), self._tx, None)
        if not ptr:
            raise TransportError("spandsp t38_terminal_init failed")
        super().__init__(ptr, lib.t38_terminal_free)
        if not paced:
            lib.t38_terminal_set_config(ptr, k.T38_TERMINAL_OPTION_NO_PACING)
        self._core = lib.t38_terminal_get_t38_core_state(ptr)
        # Paced T.38 carries V.21 a byte per packet, so one lost datagram in ~37 spoils a PPR;
        # spandsp never resets its retry count on a PPR, and the third lost answer of a page
        # ends the call (T.30 code 21). Sending control data three times makes an ECM page
        # survive a lossy path; image data keeps its single copy, so ECM still repairs it.
        lib.t38_set_redundancy_control(
            self._core, k.T38_PACKET_CATEGORY_CONTROL_DATA, k.CONTROL_DATA_COPIES
        )
        log.attach(lib.t38_terminal_get_logging_state(ptr))
        log.attach(lib.t38_core_get_logging_state(self._core))
        t30 = lib.t38_terminal_get_t30_state(ptr)
        log.attach(lib.t30_get_logging_state(t30))
        self.t30 = T30Session(t30, now, listener, before_phase_d)

    def advance(self, samples: int) -> None:
        """Let ``samples`` (8 kHz) of time pass: runs timers and emits due packets."""
        library().t38_terminal_send_timeout(self._live(), samples)
        self._raise_pending()

    def take_packets(self) -> list[tuple[bytes, int]]:
        """IFP packets emitted since the last call, with the copies spandsp asked for."""
        if not self._outbox:
            return []
        out, self._outbox = self._outbox, []
        return out

    def receive(self, packet: bytes, seq: int) -> None:
        """Deliver one IFP packet carrying the sender's 16-bit sequence number."""
        library().t38_core_rx_ifp_packet(self._core, packet, len(packet), seq & 0xFFFF)
        self._raise_pending()

    def _on_packet(
        self,
        _s: int | None,
        _u: int | None,
        buf: ctypes._Pointer[ctypes.c_uint8],
        length: int,
        count: int,
    ) -> int:
        try:
            self._outbox.append((ctypes.string_at(buf, length), max(1, count)))
        except BaseException as exc:
            self._pending = self._pending or exc
            return -1
        return 0

    def _raise_pending(self) -> None:
        if self._pending is not None:
            exc, self._pending = self._pending, None
            raise exc
        self.t30.raise_pending()
