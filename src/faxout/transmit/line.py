"""Impairments of the simulated line: an audio path (G.711, gain, noise, dropouts) and a
T.38 packet path (loss, UDPTL-style redundancy).

Each direction of a call gets its own impairment object with its own seeded random generator,
created on the thread that runs the call.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from faxout.transmit.g711 import Law, compand

Samples = npt.NDArray[np.int16]

# 0 dBm0 as RMS of 16-bit linear audio (spandsp's reference: −14 dBm0 modem level ≈ RMS 3210).
DBM0_RMS = 16131.0


@dataclass(frozen=True)
class AudioImpairment:
    """How one audio direction is degraded.

    ``noise_dbm0``: white noise power (None for none). ``noise_gated``: noise only while a
    signal is on the line (isolates the demodulators); ungated noise is a true noise floor, and
    above about −40 dBm0 it keeps the V.21 carrier detector on forever so no T.30 timer ever
    fires — the call hangs until the watchdog hangs up. ``dropout_rate``: chance per second of a
    dropout of ``dropout_ms`` of silence.
    """

    law: Law | None = Law.ALAW
    gain_db: float = 0.0
    noise_dbm0: float | None = None
    noise_gated: bool = False
    dropout_rate: float = 0.0
    dropout_ms: float = 50.0


class AudioPath:
    """One direction of an audio call, applied block by block."""

    def __init__(self, impairment: AudioImpairment, seed: int) -> None:
        self._imp = impairment
        self._rng = np.random.default_rng(seed)
        self._gain = 10.0 ** (impairment.gain_db / 20.0)
        self._noise_rms = (
            DBM0_RMS * 10.0 ** (impairment.noise_dbm0 / 20.0)
            if impairment.noise_dbm0 is not None
            else 0.0
        )
        self._mute_left = 0  # samples of an ongoing dropout

    @property
    def transparent(self) -> bool:
        """True when this path changes nothing but companding."""
        imp = self._imp
        return imp.gain_db == 0.0 and not self._noise_rms and not imp.dropout_rate

    def carry(self, block: Samples) -> Samples:
        """What arrives at the far end for ``block``."""
        if self.transparent:
            return compand(block, self._imp.law) if self._imp.law else block
        signal = block.astype(np.float64) * self._gain
        if self._noise_rms:
            noise = self._rng.normal(0.0, self._noise_rms, len(block))
            if self._imp.noise_gated:
                nz = np.flatnonzero(block)
                gate = np.zeros(len(block))
                if len(nz):
                    gate[nz[0] : nz[-1] + 1] = 1.0
                noise *= gate
            signal += noise
        self._drop(signal)
        out = np.clip(np.rint(signal), -32768, 32767).astype(np.int16)
        return compand(out, self._imp.law) if self._imp.law else out

    def _drop(self, signal: npt.NDArray[np.float64]) -> None:
        n = len(signal)
        if self._mute_left:
            cut = min(self._mute_left, n)
            signal[:cut] = 0.0
            self._mute_left -= cut
        if self._imp.dropout_rate and self._rng.random() < self._imp.dropout_rate * n / 8000:
            start = int(self._rng.integers(0, n))
            length = int(self._imp.dropout_ms * 8)
            cut = min(length, n - start)
            signal[start : start + cut] = 0.0
            self._mute_left = length - cut


@dataclass(frozen=True)
class PacketImpairment:
    """How one T.38 direction is degraded: independent datagram ``loss`` (0..1), and
    ``redundancy`` earlier IFP packets repeated in every datagram (UDPTL redundancy)."""

    loss: float = 0.0
    redundancy: int = 0


class PacketPath:
    """One direction of a T.38 call: numbers IFP packets, frames them into datagrams with
    redundancy, loses datagrams, and hands the receiver the packets it can recover, in order."""

    def __init__(self, impairment: PacketImpairment, seed: int) -> None:
        self._imp = impairment
        self._rng = np.random.default_rng(seed)
        self._seq = 0
        self._sent: list[bytes] = []  # recent packets, for redundancy
        self._delivered = -1  # highest sequence number handed to the receiver
        self.datagrams = 0
        self.lost = 0

    def carry(self, packets: list[tuple[bytes, int]]) -> list[tuple[bytes, int]]:
        """Packets as ``(payload, copies wanted)`` in; ``(payload, seq)`` delivered out."""
        if not packets:
            return []
        out: list[tuple[bytes, int]] = []
        for payload, copies in packets:
            seq = self._seq
            self._seq += 1
            self._sent.append(payload)
            del self._sent[: -(self._imp.redundancy + 1)]
            # spandsp asks for extra copies of indicator packets; they share a sequence number.
            for _ in range(copies):
                self.datagrams += 1
                if self._imp.loss and self._rng.random() < self._imp.loss:
                    self.lost += 1
                    continue
                self._arrive(seq, out)
        return out

    def _arrive(self, seq: int, out: list[tuple[bytes, int]]) -> None:
        if seq <= self._delivered:
            return  # a duplicate copy
        # The datagram also carries up to `redundancy` earlier packets: recover those missed.
        first = max(self._delivered + 1, seq - self._imp.redundancy)
        for s in range(first, seq + 1):
            payload = self._sent[len(self._sent) - 1 - (seq - s)]
            out.append((payload, s & 0xFFFF))
        self._delivered = seq
