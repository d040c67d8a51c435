"""The sample loop that drives a caller and a far end against each other until the call ends.

Time on the line is counted in samples (8 kHz); T.30 timers run on it, so a call runs as fast
as the CPU allows unless pacing is asked for. Every loop has a watchdog: a call whose line time
or wall time runs out is hung up (``t30_terminate``, completion code 49), because continuous
noise above the V.21 detector threshold leaves spandsp with no timer armed at all.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from faxout.clock import Clock
from faxout.transmit.farend import SAMPLE_RATE, AudioParty, T38Party
from faxout.transmit.line import AudioPath, PacketPath
from faxout.transmit.spandsp import AudioEndpoint, T38Endpoint

# After the caller's phase E, how long the far end may take to finish (DCN in flight).
GRACE_SECONDS = 10.0


class Ending(enum.StrEnum):
    """Why the loop stopped."""

    COMPLETED = "completed"
    LINE_WATCHDOG = "line-watchdog"
    WALL_WATCHDOG = "wall-watchdog"


@dataclass
class SampleClock:
    """Line time of one call, in samples. Lives on the call's thread."""

    samples: int = 0

    def seconds(self) -> float:
        """Line seconds so far."""
        return self.samples / SAMPLE_RATE


def line_watchdog(pages: int) -> float:
    """Line seconds a call of ``pages`` pages may take before its watchdog hangs up: generous
    (two minutes, plus ten per page: a page at 2400 bit/s with retrains takes well under two)."""
    return 120.0 + 600.0 * pages


@dataclass(frozen=True)
class Limits:
    """Watchdog limits and pacing for one call."""

    line_seconds: float
    wall_seconds: float
    realtime: bool = False


class _Guard:
    """Checks the watchdog limits and paces to real time when asked."""

    # Reading the wall clock every 20 ms step costs more than the check is worth.
    WALL_CHECK_EVERY = 32

    def __init__(self, clock: SampleClock, limits: Limits, wall: Clock):
        self._clock = clock
        self._limits = limits
        self._wall = wall
        self._start = wall.monotonic()
        self._limit_samples = limits.line_seconds * SAMPLE_RATE
        self._steps = 0

    def expired(self) -> Ending | None:
        """Which watchdog, if any, has run out."""
        if self._clock.samples >= self._limit_samples:
            return Ending.LINE_WATCHDOG
        self._steps += 1
        due = self._steps % self.WALL_CHECK_EVERY == 0 or self._limits.realtime
        if due and self._wall.monotonic() - self._start >= self._limits.wall_seconds:
            return Ending.WALL_WATCHDOG
        return None

    def pace(self) -> None:
        """In real-time mode, sleep until the wall clock catches up with the line."""
        if self._limits.realtime:
            ahead = self._start + self._clock.seconds() - self._wall.monotonic()
            if ahead > 0:
                self._wall.sleep(ahead)  # pacing for demos, not waiting for a state


def run_audio(
    caller: AudioEndpoint,
    far: AudioParty,
    up: AudioPath,
    down: AudioPath,
    clock: SampleClock,
    limits: Limits,
    block: int,
    wall: Clock,
) -> Ending:
    """Exchange ``block`` samples each way per step until both ends are done.

    A block is also the one-way delay of the line, so it must stay well under T.30's
    response windows; 800 samples (100 ms) was tested pixel-exact.
    """
    guard = _Guard(clock, limits, wall)
    done_at: float | None = None
    while True:
        if caller.t30.finished:
            done_at = clock.seconds() if done_at is None else done_at
            if far.on_hook or clock.seconds() - done_at >= GRACE_SECONDS:
                far.hang_up()
                return Ending.COMPLETED
        ending = guard.expired()
        if ending is not None:
            caller.t30.terminate()
            far.hang_up()
            return ending
        outgoing = caller.transmit(block)
        incoming = far.transmit(block)
        far.receive(up.carry(outgoing))
        caller.receive(down.carry(incoming))
        clock.samples += block
        guard.pace()


def run_t38(
    caller: T38Endpoint,
    far: T38Party,
    up: PacketPath,
    down: PacketPath,
    clock: SampleClock,
    limits: Limits,
    tick: int,
    wall: Clock,
) -> Ending:
    """Advance both terminals by ``tick`` samples per step and exchange their IFP packets.

    Paced T.38 emits at most one packet per terminal per step, so ``tick`` sets the packet
    clock: 160 samples (20 ms) is the usual RTP/UDPTL rhythm and keeps line time realistic.
    """
    guard = _Guard(clock, limits, wall)
    done_at: float | None = None
    # Bound methods looked up once: this loop runs 50 times per simulated second.
    caller_advance, far_advance = caller.advance, far.advance
    caller_take, far_take = caller.take_packets, far.take_packets
    caller_rx, far_rx = caller.receive, far.receive
    up_carry, down_carry = up.carry, down.carry
    while True:
        if caller.t30.finished:
            done_at = clock.seconds() if done_at is None else done_at
            if far.on_hook or clock.seconds() - done_at >= GRACE_SECONDS:
                far.hang_up()
                return Ending.COMPLETED
        ending = guard.expired()
        if ending is not None:
            caller.t30.terminate()
            far.hang_up()
            return ending
        caller_advance(tick)
        far_advance(tick)
        for packet, seq in up_carry(caller_take()):
            far_rx(packet, seq)
        for packet, seq in down_carry(far_take()):
            caller_rx(packet, seq)
        clock.samples += tick
        guard.pace()
