"""A minimal IAX2 peer (RFC 5456) for the tests: puts faxout's own spandsp terminal on a call
with an ``iaxmodem``, so a T.30 stack that is not ours (HylaFAX's, efax's) meets faxout's.

Only what iaxmodem's peer mode uses: one call per peer, NEW → ACCEPT → ANSWER (either way),
8 kHz signed-linear audio (big-endian on the wire: iaxmodem byte-swaps with ``ntohs``) in
mini frames, a full VOICE frame first and every 10 s (libiax2 needs it well before the
16-bit mini timestamp wraps), ACKs for
every full frame received, retransmission of ours until ACKed, PING/LAGRQ answered, HANGUP.

The audio side is the product's terminal (``AudioEndpoint``, or the inbound
``AudioFaxMachine``), stepped on the calling thread in real time, one 20 ms frame back for
each 20 ms frame iaxmodem sends (iaxmodem paces itself by the wall clock and balances what it
sends against what it receives: see ``bridge``). The samples the terminal has received are
its line clock, which drives spandsp's T.30 timers.

No authentication, no registration, no jitter buffer: loopback does not reorder.
"""

from __future__ import annotations

import random
import select
import socket
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.int16]

FRAME_SAMPLES = 160  # 20 ms at 8 kHz
FRAME_SECONDS = 0.02

# Frame types and subclasses (RFC 5456 §8.2, §8.3, §8.4).
VOICE, CONTROL, IAX = 2, 4, 6
SLINEAR = 0x40  # the media format bit of 16-bit signed linear, as iaxmodem's ``AST_FORMAT_SLINEAR``
C_HANGUP, C_RINGING, C_ANSWER, C_BUSY, C_CONGESTION = 1, 3, 4, 5, 8
NEW, PING, PONG, ACK, HANGUP, REJECT, ACCEPT = 1, 2, 3, 4, 5, 6, 7
INVAL, LAGRQ, LAGRP, VNAK = 10, 11, 12, 18
# Information elements (§8.6).
IE_CALLED_NUMBER, IE_CALLING_NUMBER, IE_CALLING_NAME = 0x01, 0x02, 0x04
IE_USERNAME, IE_CAPABILITY, IE_FORMAT, IE_VERSION = 0x06, 0x08, 0x09, 0x0B
IE_CAUSE, IE_CAUSECODE = 0x16, 0x2A

# Frames that take no sequence number and need no ACK.
_UNSEQUENCED = {(IAX, ACK), (IAX, INVAL), (IAX, VNAK)}
RETRANSMIT_SECONDS = 0.5
RETRIES = 10
# Audio queued beyond 200 ms is dropped (it never builds up: its frames are our clock).
MAX_QUEUED = 10 * FRAME_SAMPLES
# With no frame from the far end for this long, the bridge steps on the wall clock.
STALL = 0.1
# After the far end hangs up, how long our terminal may still run to finish (seconds).
HANGUP_GRACE = 2.0
FULL_VOICE_EVERY_MS = 10_000


class IaxError(RuntimeError):
    """The IAX2 call could not be set up or broke (the message says what the far end did)."""


@dataclass(frozen=True)
class FullFrame:
    """A decoded full frame."""

    scall: int
    dcall: int
    ts: int
    oseq: int
    iseq: int
    ftype: int
    subclass: int
    body: bytes


def encode_ies(ies: list[tuple[int, bytes]]) -> bytes:
    """Information elements: type, length, value each."""
    return b"".join(bytes([kind, len(value)]) + value for kind, value in ies)


def decode_ies(body: bytes) -> dict[int, bytes]:
    """The information elements of a frame body (a malformed tail is ignored)."""
    out: dict[int, bytes] = {}
    i = 0
    while i + 2 <= len(body):
        kind, length = body[i], body[i + 1]
        out[kind] = body[i + 2 : i + 2 + length]
        i += 2 + length
    return out


def parse_full(data: bytes) -> FullFrame | None:
    """A full frame, or None for a mini frame or garbage."""
    if len(data) < 12 or not data[0] & 0x80:
        return None
    scall, dcall, ts, oseq, iseq, ftype, sub = struct.unpack("!HHIBBBB", data[:12])
    if sub & 0x80:  # C bit: the subclass is a power of two
        sub = 1 << (sub & 0x7F)
    return FullFrame(scall & 0x7FFF, dcall & 0x7FFF, ts, oseq, iseq, ftype, sub, data[12:])


class Terminal(Protocol):
    """The audio side of the bridge: a spandsp fax terminal, ours."""

    def transmit(self, n: int) -> Samples:
        """The next ``n`` samples it puts on the line."""
        ...

    def receive(self, samples: Samples) -> None:
        """What the line delivered to it."""
        ...


@dataclass
class _Pending:
    data: bytes
    oseq: int
    due: float
    tries: int = 0


@dataclass
class CallStats:
    """What the network did on one call, for failure messages and the docs."""

    frames_in: int = 0
    frames_out: int = 0
    underruns: int = 0
    dropped_samples: int = 0
    retransmits: int = 0
    log: list[str] = field(default_factory=list)

    def summary(self) -> str:
        """One line for a call's notes."""
        return (
            f"frames in {self.frames_in}, out {self.frames_out}, silent steps {self.underruns}, "
            f"dropped samples {self.dropped_samples}, retransmits {self.retransmits}"
        )


class Iax2Call:
    """One IAX2 call on its own UDP port on 127.0.0.1. Used from one thread.

    ``place`` dials an iaxmodem; ``await_call`` waits for one to dial us. Then ``bridge``
    runs the audio until the terminal is done or the far end hangs up.
    """

    def __init__(self, address: str = "127.0.0.1") -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((address, 0))
        self._sock.setblocking(False)
        self.port: int = self._sock.getsockname()[1]
        self._rng = random.Random()
        self.stats = CallStats()
        self._reset()

    def _reset(self) -> None:
        # A fresh session: a new call number, sequence numbers and clock from zero.
        self.callno = self._rng.randint(1, 0x7FFF)
        self.remote: tuple[str, int] | None = None
        self.peer_callno = 0
        self._oseq = 0
        self._iseq = 0
        self._start = time.monotonic()
        self._pending: list[_Pending] = []
        self._rx = np.zeros(0, dtype=np.int16)
        self._voice_ts: int | None = None
        self._last_full_voice: int | None = None
        self.answered = False
        self.accepted = False
        self.hung_up: str | None = None  # the far end's cause once it hung up
        self.called = ""
        self.calling = ""
        self.incoming: dict[int, bytes] | None = None  # the NEW's elements, when called

    # ------------------------------------------------------------------ frames out

    def _ms(self) -> int:
        return int((time.monotonic() - self._start) * 1000)

    def _send_full(
        self, ftype: int, subclass: int, body: bytes = b"", ts: int | None = None
    ) -> None:
        assert self.remote is not None
        stamp = self._ms() if ts is None else ts
        seq = self._oseq
        header = struct.pack(
            "!HHIBBBB",
            0x8000 | self.callno,
            self.peer_callno,
            stamp & 0xFFFFFFFF,
            seq,
            self._iseq,
            ftype,
            subclass,
        )
        data = header + body
        if (ftype, subclass) not in _UNSEQUENCED:
            self._oseq = (self._oseq + 1) & 0xFF
            self._pending.append(_Pending(data, seq, time.monotonic() + RETRANSMIT_SECONDS))
        self._sendto(data)
        self.stats.log.append(f"{stamp:>7} > {ftype}/{subclass} o{seq} i{self._iseq}")

    def _sendto(self, data: bytes) -> None:
        assert self.remote is not None
        try:
            self._sock.sendto(data, self.remote)
            self.stats.frames_out += 1
        except OSError as exc:
            self.stats.log.append(f"send failed: {exc}")

    def _ack(self, frame: FullFrame) -> None:
        self._send_full(IAX, ACK, ts=frame.ts)

    def _retransmit(self) -> None:
        now = time.monotonic()
        for p in list(self._pending):
            if p.due > now:
                continue
            if p.tries >= RETRIES:
                self._pending.remove(p)
                self.hung_up = self.hung_up or "no ACK from the far end"
                continue
            p.tries += 1
            p.due = now + RETRANSMIT_SECONDS
            # The R bit marks a retransmission (RFC 5456 §8.1.1).
            flagged = p.data[:2] + bytes([p.data[2] | 0x80]) + p.data[3:]
            self._sendto(flagged)
            self.stats.retransmits += 1

    # ------------------------------------------------------------------ frames in

    def poll(self, timeout: float) -> None:
        """Wait up to ``timeout`` seconds for datagrams and handle all that arrived."""
        ready, _, _ = select.select([self._sock], [], [], max(timeout, 0.0))
        if ready:
            while True:
                try:
                    data, source = self._sock.recvfrom(4096)
                except (BlockingIOError, InterruptedError):
                    break
                except ConnectionRefusedError:
                    continue  # an earlier datagram met a closed port: the far end is gone
                self.stats.frames_in += 1
                self._handle(data, source)
        self._retransmit()

    def _handle(self, data: bytes, source: tuple[str, int]) -> None:
        frame = parse_full(data)
        if frame is None:
            if len(data) > 4 and self.answered:
                self._queue_audio(data[4:])  # a mini frame: 2 bytes call number, 2 bytes ts
            return
        if frame.dcall not in (0, self.callno):
            return  # a frame of an earlier session (a call that was rejected as busy)
        if self.remote is None:
            self.remote = source
        if frame.ftype == IAX and frame.subclass == NEW and self.peer_callno == 0:
            self.peer_callno = frame.scall
        self._acknowledged(frame.iseq)
        self.stats.log.append(
            f"{frame.ts:>7} < {frame.ftype}/{frame.subclass} o{frame.oseq} i{frame.iseq}"
        )
        if (frame.ftype, frame.subclass) in _UNSEQUENCED:
            return
        if frame.oseq == self._iseq:
            self._iseq = (self._iseq + 1) & 0xFF
        elif ((self._iseq - frame.oseq) & 0xFF) < 128:
            self._ack(frame)  # a retransmission of what we had: its ACK was lost
            return
        self._ack(frame)
        self._dispatch(frame)

    def _acknowledged(self, iseq: int) -> None:
        # The peer's iseq is the next of ours it expects: everything before it arrived.
        self._pending = [p for p in self._pending if ((iseq - p.oseq - 1) & 0xFF) >= 128]

    def _dispatch(self, frame: FullFrame) -> None:
        kind = (frame.ftype, frame.subclass)
        if kind == (IAX, NEW):
            ies = decode_ies(frame.body)
            self.called = ies.get(IE_CALLED_NUMBER, b"").decode(errors="replace")
            self.calling = ies.get(IE_CALLING_NUMBER, b"").decode(errors="replace")
            self.incoming = ies
        elif kind == (IAX, ACCEPT):
            self.peer_callno = frame.scall
            self.accepted = True
        elif kind == (CONTROL, C_ANSWER):
            self.answered = True
        elif kind in ((IAX, HANGUP), (IAX, REJECT), (CONTROL, C_HANGUP)):
            cause = decode_ies(frame.body).get(IE_CAUSE, b"").decode(errors="replace")
            self.hung_up = cause or "hangup"
            self._pending.clear()
        elif kind in ((CONTROL, C_BUSY), (CONTROL, C_CONGESTION)):
            self.hung_up = "busy" if frame.subclass == C_BUSY else "congestion"
        elif kind == (IAX, PING):
            self._send_full(IAX, PONG, ts=frame.ts)
        elif kind == (IAX, LAGRQ):
            self._send_full(IAX, LAGRP, ts=frame.ts)
        elif frame.ftype == VOICE and self.answered:
            self._queue_audio(frame.body)

    def _queue_audio(self, payload: bytes) -> None:
        if self.hung_up:
            return
        samples = np.frombuffer(payload[: len(payload) // 2 * 2], dtype=">i2").astype(np.int16)
        self._rx = np.concatenate((self._rx, samples))
        if len(self._rx) > MAX_QUEUED:
            self.stats.dropped_samples += len(self._rx) - MAX_QUEUED
            self._rx = self._rx[-MAX_QUEUED:]

    # ------------------------------------------------------------------ call set-up

    def place(
        self, remote: tuple[str, int], number: str, caller: str = "5550170", timeout: float = 30
    ) -> None:
        """Dial ``number`` on the iaxmodem at ``remote``; returns once it answered.

        iaxmodem rejects calls as "Busy" for 5 s after its DTE last hung up (the fax program's
        initialisation hangs up too): such a call is placed again until ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            self._reset()
            self.remote = remote
            self._dial(number, caller)
            while not self.answered and not self.hung_up and time.monotonic() < deadline:
                self.poll(0.05)
            if self.answered:
                return
            if self.hung_up is None:
                raise IaxError(f"no ANSWER within {timeout:.0f} s (accepted: {self.accepted})")
            if self.hung_up != "Busy" or time.monotonic() > deadline:
                raise IaxError(f"the iaxmodem refused the call: {self.hung_up}")
            self.stats.log.append("rejected as busy: dialling again in 1 s")
            time.sleep(1.0)  # iaxmodem's busy-out lasts 5 s after a hang-up

    def _dial(self, number: str, caller: str) -> None:
        ies = encode_ies(
            [
                (IE_VERSION, struct.pack("!H", 2)),
                (IE_CALLED_NUMBER, number.encode()),
                (IE_CALLING_NUMBER, caller.encode()),
                (IE_CALLING_NAME, b"faxout interop"),
                (IE_USERNAME, b"faxout"),
                (IE_FORMAT, struct.pack("!I", SLINEAR)),
                (IE_CAPABILITY, struct.pack("!I", SLINEAR)),
            ]
        )
        self._send_full(IAX, NEW, ies)

    def await_call(self, timeout: float) -> None:
        """Wait for an iaxmodem to dial us, accept with slinear and answer at once."""
        deadline = time.monotonic() + timeout
        while self.incoming is None:
            if time.monotonic() > deadline:
                raise IaxError(f"no call came in within {timeout:.0f} s")
            self.poll(0.1)
        self._send_full(IAX, ACCEPT, encode_ies([(IE_FORMAT, struct.pack("!I", SLINEAR))]))
        self._send_full(CONTROL, C_ANSWER)
        self.answered = True

    def hang_up(self, cause: str = "Normal clearing") -> None:
        """Send HANGUP and give the far end a moment to ACK it."""
        if self.remote is None or self.hung_up:
            return
        body = encode_ies([(IE_CAUSE, cause.encode()), (IE_CAUSECODE, bytes([16]))])
        self._send_full(IAX, HANGUP, body)
        deadline = time.monotonic() + 2.0
        while self._pending and time.monotonic() < deadline:
            self.poll(0.05)
        self.hung_up = "we hung up"

    def close(self) -> None:
        """Release the port."""
        self._sock.close()

    # ------------------------------------------------------------------ audio

    def _send_audio(self, samples: Samples) -> None:
        if self.hung_up:
            return
        if self._voice_ts is None:
            self._voice_ts = self._ms()
        ts = self._voice_ts
        self._voice_ts += 20
        payload = samples.astype(">i2").tobytes()
        if self._last_full_voice is None or ts - self._last_full_voice >= FULL_VOICE_EVERY_MS:
            # libiax2 rebuilds a mini frame's timestamp from the last full voice frame's and
            # takes one more than 50 s ahead of it for a late frame from before a wrap: a full
            # frame every 10 s keeps its reference close (and covers the 16-bit wrap).
            self._last_full_voice = ts
            self._send_full(VOICE, SLINEAR, payload, ts=ts)
            return
        self._sendto(struct.pack("!HH", self.callno, ts & 0xFFFF) + payload)

    def bridge(self, terminal: Terminal, done: Callable[[], bool], limit: float) -> str:
        """Exchange 20 ms of audio with ``terminal`` until ``done()``, the far end hangs up or
        ``limit`` seconds pass; returns which.

        The far end's frames are the clock: each 20 ms that arrives is fed to the terminal and
        answered with 20 ms of the terminal's. iaxmodem counts the frames it receives against
        those it sends and shortens or stretches its own 20 ms ("skew") to balance them; a peer
        on its own wall clock would make it drift (and, bursting after a late wake-up, drift
        faster) until the audio overflowed. Only when nothing arrives for ``STALL`` seconds
        does the bridge step on the wall clock with silence, so our T.30 timers still run."""
        start = time.monotonic()
        last_step = start
        far_gone: float | None = None
        while True:
            now = time.monotonic()
            stepped = False
            while len(self._rx) >= FRAME_SAMPLES:
                frame, self._rx = self._rx[:FRAME_SAMPLES], self._rx[FRAME_SAMPLES:]
                terminal.receive(frame)
                self._send_audio(terminal.transmit(FRAME_SAMPLES))
                stepped = True
            if stepped:
                last_step = now
            elif now - last_step >= STALL:
                while last_step + FRAME_SECONDS <= now:
                    self.stats.underruns += 1
                    terminal.receive(np.zeros(FRAME_SAMPLES, dtype=np.int16))
                    self._send_audio(terminal.transmit(FRAME_SAMPLES))
                    last_step += FRAME_SECONDS
            if done():
                return "done"
            if self.hung_up and far_gone is None:
                far_gone = now
            if far_gone is not None and now - far_gone > HANGUP_GRACE:
                # The far end hangs up as soon as DCN is through; ours ends its phase E by
                # itself within the grace (silence from here on).
                return f"far end: {self.hung_up}"
            if now - start > limit:
                return f"limit of {limit:.0f} s"
            self.poll(FRAME_SECONDS / 2)
