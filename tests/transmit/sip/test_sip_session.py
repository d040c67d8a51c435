"""ConnectedCall's decisions, with a scripted dialog and media and a fake clock (no network)."""

from __future__ import annotations

import itertools
import queue
from dataclasses import dataclass, field
from typing import Any

from faxout.transmit.sip.dialog import (
    DialogEvent,
    Ended,
    ReinviteAnswered,
    ReinviteRefused,
    RemoteReinvite,
)
from faxout.transmit.sip.media import MediaConfig, Mode
from faxout.transmit.sip.sdp import LocalSdp, MediaKind, T38Params, parse
from faxout.transmit.sip.session import ConnectedCall, Finish, Policy, T38Mode

T38_OFFER = LocalSdp("192.0.2.9").t38(6000, T38Params(max_bit_rate=9600))


class FakeDialog:
    def __init__(self) -> None:
        self.events: queue.Queue[DialogEvent] = queue.Queue()
        self.sent: list[tuple[str, str]] = []

    def accept(self, sdp: str) -> None:
        self.sent.append(("accept", sdp))

    def refuse(self, code: int, reason: str) -> None:
        self.sent.append(("refuse", str(code)))

    def reinvite(self, sdp: str) -> None:
        self.sent.append(("reinvite", sdp))

    def hang_up(self) -> None:
        self.sent.append(("hang_up", ""))


@dataclass
class FakeT30:
    finished: bool = False
    terminated: bool = False

    def terminate(self) -> None:
        self.terminated = True
        self.finished = True


@dataclass
class Port:
    port: int


@dataclass
class FakeMedia:
    """Steps 20 ms at a time; T.30 finishes after ``finish_after`` steps (None: never)."""

    finish_after: int | None = None
    pages: bool = False
    mode: Mode = Mode.AUDIO
    ticks: int = 0
    t30: FakeT30 = field(default_factory=FakeT30)
    rtp: Port = field(default_factory=lambda: Port(5000))
    udptl: Port = field(default_factory=lambda: Port(5002))
    started_t38: list[Any] = field(default_factory=list)
    on_step: Any = None

    @property
    def line_seconds(self) -> float:
        return self.ticks * 0.02

    def pages_started(self) -> bool:
        return self.pages

    def start_t38(self, remote: Any) -> None:
        self.started_t38.append(remote)
        self.mode = Mode.T38

    def retarget(self, remote: Any) -> None:
        pass

    def step(self, wall: float) -> None:
        self.ticks += 1
        if self.on_step:
            self.on_step(self)
        if self.finish_after is not None and self.ticks >= self.finish_after:
            self.t30.finished = True


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def run(
    media: FakeMedia, dialog: FakeDialog, policy: Policy | None = None, owner: bool = True
) -> tuple[Any, Clock]:
    clock = Clock()
    policy = policy or Policy()
    call = ConnectedCall(
        dialog,  # type: ignore[arg-type]
        media,  # type: ignore[arg-type]
        LocalSdp("192.0.2.1"),
        MediaConfig(address="192.0.2.1"),
        policy,
        owner,
        clock,  # type: ignore[arg-type]
    )
    return call.run(), clock


def test_the_far_ends_reinvite_to_t38_is_accepted_before_any_page() -> None:
    dialog, media = FakeDialog(), FakeMedia(finish_after=100)
    dialog.events.put(RemoteReinvite(T38_OFFER))
    result, _ = run(media, dialog)
    kind, sdp = dialog.sent[0]
    answer = parse(sdp)
    assert kind == "accept" and answer.kind is MediaKind.T38 and answer.port == 5002
    assert answer.t38 is not None and answer.t38.max_bit_rate == 9600  # the lower rate
    assert media.mode is Mode.T38 and media.started_t38[0].port == 6000
    assert "switched to T.38 at the far end's request" in result.notes
    assert dialog.sent[-1] == ("hang_up", "")  # the caller hangs up when T.30 is over


def test_a_reinvite_to_t38_after_a_page_is_refused_so_no_page_is_sent_twice() -> None:
    dialog, media = FakeDialog(), FakeMedia(finish_after=100, pages=True)
    dialog.events.put(RemoteReinvite(T38_OFFER))
    result, _ = run(media, dialog)
    assert dialog.sent[0] == ("refuse", "488") and media.mode is Mode.AUDIO
    assert "refused the far end's re-INVITE to T.38 (pages already sent)" in result.notes


def test_t38_off_refuses_the_reinvite() -> None:
    dialog, media = FakeDialog(), FakeMedia(finish_after=100)
    dialog.events.put(RemoteReinvite(T38_OFFER))
    run(media, dialog, Policy(t38=T38Mode.OFF))
    assert dialog.sent[0] == ("refuse", "488") and media.mode is Mode.AUDIO


def test_glare_retries_our_reinvite_after_two_to_four_seconds() -> None:
    dialog = FakeDialog()
    times: list[float] = []

    def answer_reinvites(media: FakeMedia) -> None:
        offers = [s for s in dialog.sent if s[0] == "reinvite"]
        if len(offers) > len(times):
            times.append(media.line_seconds)
            if len(offers) == 1:
                dialog.events.put(ReinviteRefused(491, "Request Pending"))
            else:
                dialog.events.put(ReinviteAnswered(LocalSdp("192.0.2.9").t38(7000, T38Params())))

    media = FakeMedia(finish_after=400, on_step=answer_reinvites)
    result, _ = run(media, dialog, Policy(t38=T38Mode.REQUEST, t38_request_delay=0.5))
    assert len(times) == 2 and 2.1 <= times[1] - times[0] <= 4.1
    assert "re-INVITE glare (491): trying again" in result.notes
    assert media.mode is Mode.T38 and "switched to T.38 at our request" in result.notes


def test_a_refused_reinvite_stays_on_audio_and_says_so() -> None:
    dialog = FakeDialog()

    def refuse(media: FakeMedia) -> None:
        if dialog.sent and dialog.sent[-1][0] == "reinvite":
            dialog.sent.append(("seen", ""))
            dialog.events.put(ReinviteRefused(488, "Not Acceptable Here"))

    media = FakeMedia(finish_after=200, on_step=refuse)
    result, _ = run(media, dialog, Policy(t38=T38Mode.REQUEST, t38_request_delay=0.2))
    assert media.mode is Mode.AUDIO
    assert "T.38 refused by the far end (SIP 488 Not Acceptable Here): stayed on G.711" in (
        result.notes
    )


def test_a_bye_mid_fax_stops_t30_and_reports_the_hang_up() -> None:
    dialog, media = FakeDialog(), FakeMedia()
    dialog.events.put(Ended(True, "BYE"))
    result, _ = run(media, dialog)
    assert result.finish is Finish.REMOTE_HANGUP and media.t30.terminated
    assert result.notes == ["the far end hung up mid-call (BYE)"]
    assert ("hang_up", "") not in dialog.sent  # the dialog is already over


def test_the_answering_side_waits_for_the_callers_bye() -> None:
    dialog, media = FakeDialog(), FakeMedia(finish_after=10)
    result, _ = run(media, dialog, owner=False)
    assert result.finish is Finish.COMPLETED and dialog.sent == [("hang_up", "")]
    assert media.line_seconds >= 0.2 + 5.0  # T.30 ended at 0.2 s, then the 5 s grace


def test_the_line_watchdog_hangs_up() -> None:
    dialog, media = FakeDialog(), FakeMedia()
    result, _ = run(media, dialog, Policy(line_seconds=3.0, wall_seconds=100.0))
    assert result.finish is Finish.LINE_WATCHDOG and media.t30.terminated
    assert dialog.sent == [("hang_up", "")]


def _stall_at(
    tick: int, seconds: float, clock_box: list[Clock], log: list[tuple[float, int]]
) -> Any:
    def on_step(media: FakeMedia) -> None:
        clock = clock_box[0]
        log.append((clock.now, media.ticks))
        if media.ticks == tick:
            clock.now += seconds  # this end is paused (a GC pause, a busy host)

    return on_step


def _run_with_stall(seconds: float) -> list[tuple[float, int]]:
    clock, log = Clock(), []
    media = FakeMedia(finish_after=400)
    media.on_step = _stall_at(100, seconds, [clock], log)
    call = ConnectedCall(
        FakeDialog(),  # type: ignore[arg-type]
        media,  # type: ignore[arg-type]
        LocalSdp("192.0.2.1"),
        MediaConfig(address="192.0.2.1"),
        Policy(),
        True,
        clock,  # type: ignore[arg-type]
    )
    call.run()
    return log


def test_a_stall_shorter_than_a_second_is_made_up_so_media_time_keeps_wall_time() -> None:
    log = _run_with_stall(0.6)
    start = log[0][0]
    # every step after the catch-up is where a clock that never stopped would have put it
    assert all(abs((now - start) - (ticks - 1) * 0.02) < 0.021 for now, ticks in log[140:])
    # the missed 30 ticks were stepped back to back, without sleeping in between
    burst = [ticks for now, ticks in log if now == log[100][0]]
    assert len(burst) >= 30


def test_a_longer_stall_is_not_made_up_in_one_burst() -> None:
    log = _run_with_stall(5.0)
    after = log[100][0]
    burst = [ticks for now, ticks in log if now == after]
    assert len(burst) <= 2  # no 250-step burst of stale audio: the clock starts again from now
    assert all(b[0] > a[0] for a, b in itertools.pairwise(log[101:]))
