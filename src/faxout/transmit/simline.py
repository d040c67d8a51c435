"""``simline``: the embedded default transport. Our calling terminal and a virtual fax machine
run back to back over a simulated line (G.711 audio or T.38), so every fax really goes through
T.30 and what arrives can be compared with what was sent.

The far end's behaviour is chosen by the dialled number (see ``behaviour.py``); the virtual
machines store what they receive under ``<data_dir>/received/<call id>.tif``.
"""

from __future__ import annotations

import enum
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from faxout.clock import Clock, SystemClock
from faxout.errors import TransportError
from faxout.files import make_private, private_dir
from faxout.transmit.behaviour import Behaviour, BehaviourTable, Kind, normalise_number
from faxout.transmit.caller import CallerProgress, caller_config, caller_result
from faxout.transmit.callloop import (
    Ending,
    Limits,
    SampleClock,
    line_watchdog,
    run_audio,
    run_t38,
)
from faxout.transmit.farend import (
    AudioFaxMachine,
    AudioParty,
    MachineSetup,
    SilentT38Party,
    T38FaxMachine,
    T38Party,
    VoiceAnswer,
    machine_setup,
)
from faxout.transmit.g711 import Law
from faxout.transmit.line import AudioImpairment, AudioPath, PacketImpairment, PacketPath
from faxout.transmit.preflight import checked, refused
from faxout.transmit.result import (
    CallProgress,
    CallResult,
    FaxCall,
    Outcome,
)
from faxout.transmit.spandsp import (
    AudioEndpoint,
    LogRoute,
    PhaseEvent,
    T30Session,
    T38Endpoint,
    libtiff,
)
from faxout.transmit.transport import ProgressSink

log = logging.getLogger("faxout.transmit.spandsp")

# A noisy audio line: noise 20 dB under the modem signal (−14 dBm0) while a signal is on, so the
# modems fall back; ungated noise this loud would instead hang the V.21 handshake.
NOISY_SIGNAL_DBM0 = -34.0
# A noisy T.38 path: 1 % of datagrams lost and no redundancy (ECM recovers, non-ECM pages suffer).
NOISY_PACKETS = PacketImpairment(loss=0.01)


# Paced T.38 sends at most one packet per terminal per step: 20 ms steps give the modem's pace.
T38_TICK = 160


class Medium(enum.StrEnum):
    """What the simulated line carries."""

    AUDIO = "audio"
    T38 = "t38"


@dataclass(frozen=True)
class SimLineConfig:
    """Settings of the simulated line. ``data_dir`` is ``FAXOUT_DATA_DIR``.

    ``line_watchdog_seconds`` None derives a limit from the document (generous: 120 s plus
    about ten minutes per page); ``wall_watchdog_seconds`` bounds the real time a call may take.
    """

    data_dir: Path
    medium: Medium = Medium.AUDIO
    law: Law = Law.ALAW
    impairment: AudioImpairment | None = None  # both directions; None: clean G.711
    packets: PacketImpairment = field(default_factory=PacketImpairment)
    t38_paced: bool = True
    realtime: bool = False
    block_samples: int = 800
    line_watchdog_seconds: float | None = None
    wall_watchdog_seconds: float = 600.0
    ring_seconds: float = 60.0
    busy_seconds: float = 4.0
    behaviours: BehaviourTable = field(default_factory=BehaviourTable)
    seed: int = 1728


def _safe_id(call_id: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9._-]", "_", call_id)[:120]
    return cleaned or "call"


class SimLineTransport:
    """The ``FaxTransport`` over a simulated line. Thread-safe: every call builds its own
    spandsp state on the calling thread and frees it before returning."""

    def __init__(
        self,
        config: SimLineConfig,
        clock: Clock | None = None,
    ) -> None:
        self.config = config
        self.wall: Clock = clock or SystemClock()

    def received_dir(self) -> Path:
        """Where the virtual fax machines store what they receive."""
        return self.config.data_dir / "received"

    def send(self, call: FaxCall, progress: ProgressSink) -> CallResult:
        """Dial ``call.number`` on the simulated line and send ``call.document``."""
        start = self.wall.monotonic()
        check = checked(call)
        if not check.ok:
            return refused(check)
        behaviour = self.config.behaviours.lookup(call.number)
        progress(CallProgress("dialing", 0.0, pages=check.pages, detail=call.number))
        if behaviour.kind in (Kind.BUSY, Kind.NO_ANSWER):
            return self._unanswered(behaviour, check.pages, start, progress)
        progress(CallProgress("answered", 0.0, pages=check.pages, detail=str(behaviour)))
        return _Call(self, call, behaviour, check.pages, progress, start).run()

    def _unanswered(
        self, behaviour: Behaviour, pages: int, start: float, progress: ProgressSink
    ) -> CallResult:
        busy = behaviour.kind is Kind.BUSY
        seconds = self.config.busy_seconds if busy else self.config.ring_seconds
        if self.config.realtime:
            self.wall.sleep(seconds)  # a demo hears the ringing or busy tone as long as it lasts
        text = "the line is busy" if busy else f"no answer after {seconds:.0f} s of ringing"
        progress(CallProgress("hangup", seconds, detail=text))
        return CallResult(
            Outcome.BUSY if busy else Outcome.NO_ANSWER,
            None,
            text,
            pages,
            0,
            0,
            line_seconds=seconds,
            wall_seconds=self.wall.monotonic() - start,
        )


class _Call:
    """One call on its own thread: builds the endpoints, runs the loop, frees everything."""

    def __init__(
        self,
        transport: SimLineTransport,
        call: FaxCall,
        behaviour: Behaviour,
        pages: int,
        progress: ProgressSink,
        start: float,
    ) -> None:
        self.t = transport
        self.cfg = transport.config
        self.call = call
        self.behaviour = behaviour
        self.pages = pages
        self.progress = progress
        self.start = start
        self.clock = SampleClock()
        self.rx_file = transport.received_dir() / f"{_safe_id(call.call_id)}.tif"
        adapter = logging.LoggerAdapter(log, {"call_id": call.call_id})
        self.caller_log = LogRoute(adapter, f"{call.call_id} caller")
        self.far_log = LogRoute(adapter, f"{call.call_id} far end")
        self.on_caller_event = CallerProgress(progress, pages)

    def limits(self) -> Limits:
        """Watchdog limits: configured, or derived from the page count."""
        line = self.cfg.line_watchdog_seconds
        if line is None:
            line = line_watchdog(self.pages)
        return Limits(line, self.cfg.wall_watchdog_seconds, self.cfg.realtime)

    def impairments(self) -> tuple[AudioImpairment, AudioImpairment]:
        """Audio impairments (caller→far end, far end→caller)."""
        base = self.cfg.impairment or AudioImpairment(law=self.cfg.law)
        if self.behaviour.kind is Kind.NOISY and self.cfg.impairment is None:
            noisy = AudioImpairment(
                law=self.cfg.law, noise_dbm0=NOISY_SIGNAL_DBM0, noise_gated=True
            )
            return noisy, noisy
        return base, base

    def run(self) -> CallResult:
        """Place the call on the configured medium."""
        try:
            private_dir(self.rx_file.parent)
            # A retry reuses the call id: never report a previous attempt's file as this one's.
            self.rx_file.unlink(missing_ok=True)
        except OSError as exc:
            raise TransportError(f"the virtual fax machine cannot store faxes: {exc}") from exc
        setup = machine_setup(self.behaviour, normalise_number(self.call.number), self.rx_file)
        with libtiff.call_context(self.call.call_id):
            if self.cfg.medium is Medium.AUDIO:
                return self.run_audio(setup)
            return self.run_t38(setup)

    def run_audio(self, setup: MachineSetup) -> CallResult:
        """The call over G.711 audio."""
        now = self.clock.seconds
        caller = AudioEndpoint(True, now, self.caller_log, self.on_caller_event)
        machine: AudioFaxMachine | None = None
        party: AudioParty
        if self.behaviour.kind is Kind.VOICE:
            party = VoiceAnswer(seed=self.cfg.seed)
        else:
            party = machine = AudioFaxMachine(setup, now, self.far_log)
        try:
            caller.t30.configure(caller_config(self.call))
            up_imp, down_imp = self.impairments()
            ending = run_audio(
                caller,
                party,
                AudioPath(up_imp, self.cfg.seed),
                AudioPath(down_imp, self.cfg.seed + 1),
                self.clock,
                self.limits(),
                self.cfg.block_samples,
                self.t.wall,
            )
            return self.result(caller.t30, ending, machine.t30.events if machine else None)
        finally:
            party.close()
            caller.close()

    def run_t38(self, setup: MachineSetup) -> CallResult:
        """The call over T.38."""
        now, paced = self.clock.seconds, self.cfg.t38_paced
        caller = T38Endpoint(True, now, self.caller_log, paced, self.on_caller_event)
        machine: T38FaxMachine | None = None
        party: T38Party
        if self.behaviour.kind is Kind.VOICE:
            party = SilentT38Party()
        else:
            party = machine = T38FaxMachine(setup, now, self.far_log, paced)
        try:
            caller.t30.configure(caller_config(self.call))
            packets = NOISY_PACKETS if self.behaviour.kind is Kind.NOISY else self.cfg.packets
            ending = run_t38(
                caller,
                party,
                PacketPath(packets, self.cfg.seed),
                PacketPath(packets, self.cfg.seed + 1),
                self.clock,
                self.limits(),
                T38_TICK,
                self.t.wall,
            )
            return self.result(caller.t30, ending, machine.t30.events if machine else None)
        finally:
            party.close()
            caller.close()

    def result(
        self, t30: T30Session, ending: Ending, far_events: list[PhaseEvent] | None
    ) -> CallResult:
        """The CallResult from the caller's session (and the far end's page statistics)."""
        notes: list[str] = []
        if ending is not Ending.COMPLETED:
            notes.append(f"{ending.value}: hung up after {self.clock.seconds():.1f} line seconds")
        received = self.rx_file if self.rx_file.exists() else None
        if received is not None:
            make_private(received)  # libtiff created it with whatever umask this process has
        return caller_result(
            t30,
            self.pages,
            far_events,
            self.clock.seconds(),
            self.t.wall.monotonic() - self.start,
            notes,
            self.progress,
            received,
        )
