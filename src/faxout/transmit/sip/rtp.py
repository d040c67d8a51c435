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
    """Reorders packets within ``depth`` frames and plays out one frame per tick."""

    def __init__(self, depth: int = 3) -> None:
        self._depth = depth
        self._frames: dict[int, Samples] = {}
        self._next: int | None = None  # sequence number of the next frame to play
        self.received = 0
        self.lost = 0
        self.late = 0

    def put(self, seq: int, samples: Samples) -> None:
        """Store one decoded packet."""
        self.received += 1
        if self._next is None:
            self._next = seq
        elif (seq - self._next) & 0xFFFF >= 0x8000:
            self.late += 1  # already played (as silence): too late to use
            return
        self._frames[seq] = samples

    def pop(self) -> Samples:
        """The next 20 ms: the due frame, or silence when it is missing or not yet buffered."""
        if self._next is None or (not self._frames):
            return np.zeros(FRAME, dtype=np.int16)
        if self._next not in self._frames and len(self._frames) < self._depth:
            return np.zeros(FRAME, dtype=np.int16)  # still filling (or waiting for a late one)
        frame = self._frames.pop(self._next, None)
        self._next = (self._next + 1) & 0xFFFF
        if frame is None:
            self.lost += 1
            return np.zeros(FRAME, dtype=np.int16)
        return frame
