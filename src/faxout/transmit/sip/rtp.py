"""RTP for G.711 fax: 20 ms packets out, a fixed jitter buffer in.

Fax modems want every sample in its place, so the receive side is a fixed-depth buffer keyed
by sequence number: no adaptive resizing, no packet-loss concealment (a lost packet plays as
silence, which the modem's training copes with or ECM repairs), no VAD or comfort noise.
"""

from __future__ import annotations

import secrets
import struct

import numpy as np
import numpy.typing as npt

from faxout.transmit import g711
from faxout.transmit.g711 import Law

FRAME = 160  # samples in 20 ms at 8 kHz
_HEADER = struct.Struct("!BBHII")
Samples = npt.NDArray[np.int16]


class RtpSender:
    """Numbers and timestamps our outgoing packets (random start, as RFC 3550 asks)."""

    def __init__(self, law: Law, payload_type: int) -> None:
        self.law = law
        self._pt = payload_type
        self._seq = secrets.randbelow(0x10000)
        self._ts = secrets.randbelow(0x100000000)
        self._ssrc = secrets.randbelow(0x100000000)
        self._first = True

    def packet(self, samples: Samples) -> bytes:
        """One RTP packet carrying ``samples`` (G.711-coded)."""
        marker = 0x80 if self._first else 0
        self._first = False
        header = _HEADER.pack(0x80, marker | self._pt, self._seq, self._ts, self._ssrc)
        self._seq = (self._seq + 1) & 0xFFFF
        self._ts = (self._ts + len(samples)) & 0xFFFFFFFF
        return header + g711.encode(samples, self.law).tobytes()


def parse(datagram: bytes) -> tuple[int, int, bytes] | None:
    """``(sequence, payload type, payload)`` of an RTP packet, or None for anything else."""
    if len(datagram) < 12 or datagram[0] >> 6 != 2:
        return None
    first, second, seq = datagram[0], datagram[1], int.from_bytes(datagram[2:4], "big")
    offset = 12 + 4 * (first & 0x0F)  # CSRC list
    if first & 0x10:  # header extension
        if len(datagram) < offset + 4:
            return None
        offset += 4 + 4 * int.from_bytes(datagram[offset + 2 : offset + 4], "big")
    end = len(datagram)
    if first & 0x20:  # padding
        end -= datagram[-1]
    if end < offset:
        return None
    return seq, second & 0x7F, datagram[offset:end]


class JitterBuffer:
    """Reorders packets within ``depth`` frames and plays out one frame per tick.

    Playout starts only once ``depth`` frames are buffered, so the two ends' 20 ms clocks may
    drift in phase by up to that much without a gap: a frame played late would insert 20 ms
    of silence into a modem signal and break a page. When the buffer runs dry it refills
    before playing again (an underrun); a frame that is still missing when ``depth`` later
    frames have arrived is lost and plays as silence. More than ``limit`` frames held (default
    ``4 * depth``) means the far end's clock runs fast, and the oldest frame is dropped; the
    limit must leave room for the burst a stalled end sends when it catches up.
    """

    def __init__(self, depth: int = 3, limit: int | None = None) -> None:
        self._depth = max(1, depth)
        self._limit = max(self._depth, limit if limit is not None else 4 * self._depth)
        self._frames: dict[int, Samples] = {}
        self._next: int | None = None  # sequence number of the next frame to play
        self._playing = False
        self.received = 0
        self.lost = 0
        self.late = 0
        self.underruns = 0

    def put(self, seq: int, samples: Samples) -> None:
        """Store one decoded packet."""
        self.received += 1
        if self._next is None:
            self._next = seq
        elif (seq - self._next) & 0xFFFF >= 0x8000:
            self.late += 1  # already played (as silence): too late to use
            return
        self._frames[seq] = samples
        if len(self._frames) > self._limit:
            # The far end's clock runs fast: drop the oldest so the delay stays bounded.
            start = self._next
            oldest = min(self._frames, key=lambda s: (s - start) & 0xFFFF)
            del self._frames[oldest]
            self._next = (oldest + 1) & 0xFFFF
            self.lost += 1

    def pop(self) -> Samples:
        """The next 20 ms: the due frame, or silence while filling or when it is missing."""
        silence = np.zeros(FRAME, dtype=np.int16)
        if self._next is None:
            return silence
        if not self._playing:
            if len(self._frames) < self._depth:
                return silence
            self._playing = True
        if not self._frames:
            self.underruns += 1
            self._playing = False  # nothing to play: refill before going on
            return silence
        frame = self._frames.pop(self._next, None)
        if frame is None and len(self._frames) < self._depth:
            return silence  # the due frame may still come: wait, up to the depth
        self._next = (self._next + 1) & 0xFFFF
        if frame is None:
            self.lost += 1
            return silence
        return frame
