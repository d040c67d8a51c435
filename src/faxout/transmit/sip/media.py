"""The media side of one SIP fax call: UDP sockets, RTP or UDPTL framing, and the spandsp
terminal, stepped every 20 ms on the call's own thread.

The call starts on G.711 audio (``fax_state_t`` on RTP) and may switch to T.38
(``t38_terminal`` on UDPTL) when either end re-INVITEs. A switch restarts T.30 on the new
terminal, which is what every gateway does; it is only allowed before the first page, so a
page is never sent twice within one call.
"""

from __future__ import annotations

import enum
import heapq
import random
import socket
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from faxout.errors import TransportError
from faxout.transmit import g711
from faxout.transmit.g711 import Law
from faxout.transmit.sip import rtp
from faxout.transmit.sip.config import JITTER_BUFFER_MS, playout_frames
from faxout.transmit.sip.sdp import PCMA, PCMU, Media, T38Params
from faxout.transmit.sip.udptl import UdptlDecoder, UdptlEncoder, UdptlError
from faxout.transmit.spandsp import (
    AudioEndpoint,
    LogRoute,
    StatsSnapshot,
    T30Config,
    T30Session,
    T38Endpoint,
)
from faxout.transmit.spandsp.t30 import Listener

TICK_SECONDS = 0.02
TICK_SAMPLES = rtp.FRAME
PLAYOUT_FRAMES = playout_frames(JITTER_BUFFER_MS)
# A step loop that fell behind steps up to this many missed ticks at once (1 s), so what it sends
# keeps the far end's buffer at its level and what arrived in the meantime is consumed in order.
CATCH_UP_TICKS = 50


@dataclass(frozen=True)
class MediaImpairment:
    """Degrades what this end sends, for diagnostics and the fault tests: independent
    datagram ``loss`` (0..1) and up to ``jitter_ms`` of random extra delay (which reorders)."""

    loss: float = 0.0
    jitter_ms: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        if not 0.0 <= self.loss < 1.0:
            raise ValueError(f"loss must be in [0, 1), got {self.loss}")
        if self.jitter_ms < 0:
            raise ValueError(f"jitter_ms must be >= 0, got {self.jitter_ms}")


class Datagrams:
    """A non-blocking UDP socket on ``address`` (any free port), with optional impairment."""

    def __init__(self, address: str, impairment: MediaImpairment | None = None) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self._sock.bind((address, 0))
        except OSError as exc:
            self._sock.close()
            raise TransportError(f"cannot open a media port on {address}: {exc}") from exc
        self._sock.setblocking(False)
        self.port: int = self._sock.getsockname()[1]
        self._imp = impairment or MediaImpairment()
        self._rng = random.Random(self._imp.seed)  # noqa: S311 (simulated loss)
        self._held: list[tuple[float, int, bytes, tuple[str, int]]] = []
        self._n = 0
        self.sent = 0
        self.dropped = 0

    def send(self, data: bytes, dest: tuple[str, int], now: float) -> None:
        """Send (or, when impaired, drop or delay) one datagram."""
        if self._imp.loss and self._rng.random() < self._imp.loss:
            self.dropped += 1
            return
        if self._imp.jitter_ms:
            self._n += 1
            due = now + self._rng.uniform(0, self._imp.jitter_ms) / 1000
            heapq.heappush(self._held, (due, self._n, data, dest))
            return
        self._send_now(data, dest)

    def flush(self, now: float) -> None:
        """Send the delayed datagrams that are due."""
        while self._held and self._held[0][0] <= now:
            _due, _n, data, dest = heapq.heappop(self._held)
            self._send_now(data, dest)

    def drain(self) -> list[bytes]:
        """Every datagram waiting on the socket."""
        out: list[bytes] = []
        while True:
            try:
                out.append(self._sock.recv(2048))
            except (BlockingIOError, InterruptedError):
                return out
            except ConnectionRefusedError:
                continue  # an ICMP port-unreachable from an earlier send; the peer may be gone

    def close(self) -> None:
        """Release the port."""
        self._sock.close()

    def _send_now(self, data: bytes, dest: tuple[str, int]) -> None:
        try:
            self._sock.sendto(data, dest)
            self.sent += 1
        except OSError:
            self.dropped += 1  # UDP: a refused or unroutable datagram is a lost one


class Mode(enum.StrEnum):
    """What the call carries right now."""

    AUDIO = "audio"
    T38 = "t38"


@dataclass(frozen=True)
class MediaConfig:
    """How media is framed: laws we accept (in order), T.38 we offer, and impairment."""

    address: str
    laws: tuple[Law, ...] = (Law.ALAW, Law.ULAW)
    t38: T38Params = field(default_factory=T38Params)
    redundancy: int = 3
    jitter_depth: int = PLAYOUT_FRAMES
    impairment: MediaImpairment | None = None


class MediaSession:
    """One call's media. Create, step and close it on one thread (spandsp's rule)."""

    def __init__(
        self,
        config: MediaConfig,
        t30: T30Config,
        calling: bool,
        log: LogRoute,
        listener: Listener | None = None,
        before_phase_d: Callable[[int, StatsSnapshot], None] | None = None,
    ) -> None:
        self.config = config
        self._t30_config = t30
        self._calling = calling
        self._log = log
        self._now = lambda: self.line_seconds  # T.30 events are stamped with media time
        self._listener = listener
        self._before_phase_d = before_phase_d
        self.rtp = Datagrams(config.address, config.impairment)
        self.udptl = Datagrams(config.address, config.impairment)
        self.mode: Mode | None = None
        self._audio: AudioEndpoint | None = None
        self._t38: T38Endpoint | None = None
        self._remote: tuple[str, int] | None = None
        self._sender: rtp.RtpSender | None = None
        depth = config.jitter_depth
        self._jitter = rtp.JitterBuffer(depth, limit=2 * depth + CATCH_UP_TICKS)
        self._law = Law.ALAW
        self._encoder: UdptlEncoder | None = None
        self._decoder = UdptlDecoder()
        self.ticks = 0
        self.switches = 0
        self.bad_datagrams = 0

    @property
    def line_seconds(self) -> float:
        """Media time so far (20 ms per step)."""
        return self.ticks * TICK_SECONDS

    @property
    def t30(self) -> T30Session | None:
        """The running T.30 session (None before media starts)."""
        endpoint = self._t38 or self._audio
        return endpoint.t30 if endpoint else None

    def pages_started(self) -> bool:
        """True once a page has gone either way: from then on the medium must not change."""
        t30 = self.t30
        if t30 is None:
            return False
        stats = t30.stats()
        return stats.pages_tx > 0 or stats.pages_rx > 0 or any(e.phase == "D" for e in t30.events)

    def start_audio(self, remote: Media) -> None:
        """Run the audio terminal towards ``remote`` (an audio description)."""
        self._law = remote.law(self.config.laws)
        self._remote = (remote.address, remote.port)
        pt = PCMU if self._law is Law.ULAW else PCMA
        self._sender = rtp.RtpSender(self._law, pt)
        if self._audio is None:
            self._audio = AudioEndpoint(
                self._calling, self._now, self._log, self._listener, self._before_phase_d
            )
            self._audio.t30.configure(self._t30_config)
        self.mode = Mode.AUDIO

    def start_t38(self, remote: Media) -> None:
        """Switch to (or start on) the T.38 terminal towards ``remote``."""
        params = remote.t38 or T38Params()
        self._remote = (remote.address, remote.port)
        self._encoder = UdptlEncoder(
            0 if params.error_correction == "t38UDPNoEC" else self.config.redundancy,
            params.max_datagram,
        )
        if self._audio is not None:
            self._audio.close()
            self._audio = None
        if self._t38 is None:
            self._t38 = T38Endpoint(
                self._calling,
                self._now,
                self._log,
                True,
                self._listener,
                self._before_phase_d,
            )
            self._t38.t30.configure(self._t30_config)
            self.switches += 1 if self.mode is Mode.AUDIO else 0
        self.mode = Mode.T38

    def retarget(self, remote: Media) -> None:
        """The far end moved its audio (a re-INVITE that keeps G.711)."""
        self._remote = (remote.address, remote.port)

    def step(self, wall: float) -> None:
        """One 20 ms step: take what arrived, run the terminal, send what it produced."""
        self.ticks += 1
        remote = self._remote
        if self.mode is Mode.AUDIO and self._audio is not None and remote and self._sender:
            for datagram in self.rtp.drain():
                packet = rtp.parse(datagram)
                if packet is None:
                    self.bad_datagrams += 1
                    continue
                seq, pt, payload = packet
                law = Law.ULAW if pt == PCMU else Law.ALAW if pt == PCMA else None
                if law is None or not payload:
                    continue  # telephone-event, comfort noise...: not fax audio
                codes = np.frombuffer(payload, dtype=np.uint8)
                self._jitter.put(seq, g711.decode(codes, law))
            self._audio.receive(self._jitter.pop())
            self.rtp.send(self._sender.packet(self._audio.transmit(TICK_SAMPLES)), remote, wall)
        elif self.mode is Mode.T38 and self._t38 is not None and remote and self._encoder:
            for datagram in self.udptl.drain():
                try:
                    packets = self._decoder.decode(datagram)
                except UdptlError:
                    self.bad_datagrams += 1
                    continue
                for ifp, seq in packets:
                    self._t38.receive(ifp, seq)
            self._t38.advance(TICK_SAMPLES)
            for ifp, copies in self._t38.take_packets():
                datagram = self._encoder.encode(ifp)
                for _ in range(copies):
                    self.udptl.send(datagram, remote, wall)
            self.rtp.drain()
        self.rtp.flush(wall)
        self.udptl.flush(wall)

    def close(self) -> None:
        """Free spandsp state and ports. Idempotent."""
        for endpoint in (self._audio, self._t38):
            if endpoint is not None:
                endpoint.close()
        self._audio = self._t38 = None
        self.rtp.close()
        self.udptl.close()

    def stats_note(self) -> str:
        """One line on what the network did, for the call's notes."""
        j = self._jitter
        return (
            f"media: {self.mode or 'none'}; RTP in {j.received} "
            f"(lost {j.lost}, late {j.late}, underruns {j.underruns}); "
            f"UDPTL in {self._decoder.received} (recovered {self._decoder.recovered}); "
            f"sent {self.rtp.sent + self.udptl.sent}, "
            f"dropped {self.rtp.dropped + self.udptl.dropped}"
        )
