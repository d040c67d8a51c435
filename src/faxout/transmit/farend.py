"""The parties at the far end of a simulated call: a virtual fax machine, a person saying
"hello?", or nobody. Each is created and used on the thread that runs the call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from faxout.transmit.behaviour import Behaviour, Kind
from faxout.transmit.spandsp import (
    AudioEndpoint,
    LogRoute,
    StatsSnapshot,
    T30Config,
    T30Session,
    T38Endpoint,
)
from faxout.transmit.spandsp import constants as k

Samples = npt.NDArray[np.int16]
SAMPLE_RATE = k.SAMPLE_RATE
ALL_MODEMS = k.T30_SUPPORT_V17 | k.T30_SUPPORT_V29 | k.T30_SUPPORT_V27TER


class AudioParty(Protocol):
    """Something on the far end of an audio line."""

    @property
    def on_hook(self) -> bool:
        """True once it has hung up (or never answered)."""
        ...

    def transmit(self, n: int) -> Samples:
        """The next ``n`` samples it sends."""
        ...

    def receive(self, samples: Samples) -> None:
        """What the line delivers to it."""
        ...

    def hang_up(self) -> None:
        """Go on hook now."""
        ...

    def close(self) -> None:
        """Release resources."""
        ...


class T38Party(Protocol):
    """Something on the far end of a T.38 path."""

    @property
    def on_hook(self) -> bool:
        """True once it has hung up."""
        ...

    def advance(self, samples: int) -> None:
        """Let time pass."""
        ...

    def take_packets(self) -> list[tuple[bytes, int]]:
        """IFP packets it sent, with the copies wanted."""
        ...

    def receive(self, packet: bytes, seq: int) -> None:
        """Deliver a packet to it."""
        ...

    def hang_up(self) -> None:
        """Go on hook now."""
        ...

    def close(self) -> None:
        """Release resources."""
        ...


@dataclass(frozen=True)
class MachineSetup:
    """The answering machine's T.30 capabilities and what it does after each page."""

    config: T30Config
    reject_after: int | None  # hang up after confirming this many pages (None: never)


def machine_setup(behaviour: Behaviour, csid: str, rx_file: Path) -> MachineSetup:
    """Translate a far-end behaviour into the virtual machine's T.30 settings."""
    modems = ALL_MODEMS
    ecm = True
    rx: Path | None = rx_file
    reject_after: int | None = None
    if behaviour.kind is Kind.SLOW_MODEM:
        modems = k.T30_SUPPORT_V27TER
    elif behaviour.kind is Kind.NOISY:
        # spandsp's V.17 receiver fails the short training of an ECM block now and then even
        # on a quiet line, and then lets its T2 timer expire during the block and drops back
        # to phase B: the caller's next PPS meets a DCN (T.30 code 15). A noisy machine that
        # offers V.29 and V.27ter only has no short training, so the line exercises what it
        # is for: ECM repairing frames the noise spoilt.
        modems = k.T30_SUPPORT_V29 | k.T30_SUPPORT_V27TER
    elif behaviour.kind is Kind.NO_ECM:
        ecm = False
    elif behaviour.kind is Kind.REJECT_AFTER:
        if behaviour.pages == 0:
            rx = None  # announces no receive capability: the caller ends with RX_INCAPABLE
        else:
            reject_after = behaviour.pages
    config = T30Config(ident=csid[-20:], ecm=ecm, modems=modems, rx_file=rx)
    return MachineSetup(config, reject_after)


class _Rejecter:
    """Decides when the machine hangs up to refuse the pages after page N.

    At phase D of page N with more pages announced (MPS/EOM) it lets the machine answer MCF,
    then hangs up ``HANGUP_DELAY`` line seconds later, before the next page is taken. The
    hang-up happens outside the callback: calling into spandsp from one of its callbacks would
    re-enter the T.30 state machine.
    """

    HANGUP_DELAY = 3.0

    def __init__(self, reject_after: int | None, now: Callable[[], float]) -> None:
        self._limit = reject_after
        self._now = now
        self._at: float | None = None

    def __call__(self, fcf: int, stats: StatsSnapshot) -> None:
        more = (fcf & 0xFE) in (k.T30_MPS, k.T30_EOM)
        if self._limit is not None and more and stats.pages_rx >= self._limit:
            self._at = self._now() + self.HANGUP_DELAY

    @property
    def due(self) -> bool:
        """True once the machine should hang up."""
        return self._at is not None and self._now() >= self._at


PageHook = Callable[[int, StatsSnapshot], None]


def _chain(first: PageHook, then: PageHook | None) -> PageHook:
    """Both phase D hooks, in order (``then`` is the owner's: the inbound store's page_done)."""
    if then is None:
        return first

    def both(fcf: int, stats: StatsSnapshot) -> None:
        first(fcf, stats)
        then(fcf, stats)

    return both


class _Machine:
    """What both virtual fax machines share: a T.30 session on an endpoint, and the hook."""

    endpoint: AudioEndpoint | T38Endpoint
    _hung_up: bool

    @property
    def t30(self) -> T30Session:
        """The machine's T.30 session."""
        return self.endpoint.t30

    @property
    def on_hook(self) -> bool:
        """True after its phase E or a hang-up."""
        return self._hung_up or self.endpoint.t30.finished


class AudioFaxMachine(_Machine):
    """A virtual fax machine answering over audio."""

    endpoint: AudioEndpoint

    def __init__(
        self,
        setup: MachineSetup,
        now: Callable[[], float],
        log: LogRoute,
        on_page: PageHook | None = None,
    ) -> None:
        self._rejecter = _Rejecter(setup.reject_after, now)
        self.endpoint = AudioEndpoint(
            False, now, log, before_phase_d=_chain(self._rejecter, on_page)
        )
        self.endpoint.t30.configure(setup.config)
        self._hung_up = False

    def transmit(self, n: int) -> Samples:
        """Audio from the machine (silence once on hook)."""
        if self.on_hook:
            return np.zeros(n, dtype=np.int16)
        return self.endpoint.transmit(n)

    def receive(self, samples: Samples) -> None:
        """Audio to the machine; performs a requested rejection hang-up afterwards."""
        if self.on_hook:
            return
        self.endpoint.receive(samples)
        if self._rejecter.due:
            self.hang_up()

    def hang_up(self) -> None:
        """Terminate its T.30 session and go silent."""
        self.endpoint.t30.terminate()
        self._hung_up = True

    def close(self) -> None:
        """Free the spandsp state."""
        self.endpoint.close()


class VoiceAnswer:
    """A person who answers, says "hello? hello?" for a few seconds, and hangs up.

    The speech is a buzz of 150 Hz harmonics in 4 Hz syllables at about −20 dBm0: nothing a fax
    modem mistakes for V.21 or CED.
    """

    def __init__(self, seconds: float = 6.0, seed: int = 0) -> None:
        self._left = int(seconds * SAMPLE_RATE)
        self._t = 0
        self._rng = np.random.default_rng(seed)

    @property
    def on_hook(self) -> bool:
        """True once the person has hung up."""
        return self._left <= 0

    def transmit(self, n: int) -> Samples:
        """The next ``n`` samples of speech, then silence."""
        t = (self._t + np.arange(n)) / SAMPLE_RATE
        self._t += n
        speak = min(max(self._left, 0), n)
        self._left -= n
        voice = sum(np.sin(2 * np.pi * 150 * h * t) / h for h in range(1, 8))
        envelope = (np.sin(2 * np.pi * 4 * t) > 0.2).astype(np.float64)
        out = 1600.0 * voice * envelope * (1 + 0.1 * self._rng.standard_normal(n))
        out[speak:] = 0.0
        return np.clip(out, -32768, 32767).astype(np.int16)

    def receive(self, samples: Samples) -> None:
        """A person's ear: ignores the fax tones."""

    def hang_up(self) -> None:
        """Put the phone down."""
        self._left = 0

    def close(self) -> None:
        """Nothing to release."""


class T38FaxMachine(_Machine):
    """A virtual fax machine answering over T.38."""

    endpoint: T38Endpoint

    def __init__(
        self,
        setup: MachineSetup,
        now: Callable[[], float],
        log: LogRoute,
        paced: bool,
        on_page: PageHook | None = None,
    ) -> None:
        self._rejecter = _Rejecter(setup.reject_after, now)
        self.endpoint = T38Endpoint(
            False, now, log, paced, before_phase_d=_chain(self._rejecter, on_page)
        )
        self.endpoint.t30.configure(setup.config)
        self._hung_up = False

    def advance(self, samples: int) -> None:
        """Let time pass; performs a requested rejection hang-up."""
        if self.on_hook:
            return
        self.endpoint.advance(samples)
        if self._rejecter.due:
            self.hang_up()

    def take_packets(self) -> list[tuple[bytes, int]]:
        """Packets it sent (none once on hook)."""
        packets = self.endpoint.take_packets()
        return [] if self._hung_up else packets

    def receive(self, packet: bytes, seq: int) -> None:
        """Deliver a packet to it."""
        if not self.on_hook:
            self.endpoint.receive(packet, seq)

    def hang_up(self) -> None:
        """Terminate its T.30 session and stop sending."""
        self.endpoint.t30.terminate()
        self._hung_up = True

    def close(self) -> None:
        """Free the spandsp state."""
        self.endpoint.close()


class SilentT38Party:
    """A T.38 far end that never sends a packet: nobody there speaks fax (a voice answer)."""

    on_hook = True

    def advance(self, samples: int) -> None:
        """Nothing happens."""

    def take_packets(self) -> list[tuple[bytes, int]]:
        """Never anything."""
        return []

    def receive(self, packet: bytes, seq: int) -> None:
        """Ignored."""

    def hang_up(self) -> None:
        """Already on hook."""

    def close(self) -> None:
        """Nothing to release."""
