"""A connected SIP fax call, either direction: the 20 ms media clock, the re-INVITEs that move
the call to T.38 (theirs answered, ours sent when configured), and how the call ends.

Runs on the call's own thread, which owns the ``MediaSession`` and reads the dialog's events.
"""

from __future__ import annotations

import enum
import logging
import queue
from collections.abc import Callable
from dataclasses import dataclass, field

from faxout.clock import Clock
from faxout.transmit.sip.dialog import (
    Dialog,
    DialogEvent,
    Ended,
    ReinviteAnswered,
    ReinviteRefused,
    RemoteReinvite,
    glare_delay,
)
from faxout.transmit.sip.media import (
    CATCH_UP_TICKS,
    TICK_SECONDS,
    MediaConfig,
    MediaSession,
    Mode,
)
from faxout.transmit.sip.modes import T38Mode as T38Mode
from faxout.transmit.sip.sdp import LocalSdp, Media, MediaKind, SdpError, T38Params, parse

log = logging.getLogger("faxout.transmit.sip")

# After T.30 ends here, a few steps still go out so the last frames (DCN, MCF) reach the far end.
FLUSH_SECONDS = 0.6
# On the answering side, how long the caller may take to hang up after T.30 ended.
GRACE_SECONDS = 5.0


class Finish(enum.StrEnum):
    """Why a connected call stopped."""

    COMPLETED = "completed"
    REMOTE_HANGUP = "remote-hangup"
    LINE_WATCHDOG = "line-watchdog"
    WALL_WATCHDOG = "wall-watchdog"
    LOCAL_HANGUP = "local-hangup"


@dataclass(frozen=True)
class Policy:
    """Per-call T.38 behaviour and limits."""

    t38: T38Mode = T38Mode.ACCEPT
    t38_request_delay: float = 1.0
    line_seconds: float = 720.0
    wall_seconds: float = 780.0


@dataclass
class Ending:
    """How the connected phase ended, and what happened on the way (for the call's notes)."""

    finish: Finish = Finish.COMPLETED
    notes: list[str] = field(default_factory=list)


class ConnectedCall:
    """Steps one connected call until T.30 is over, the far end hangs up, or a watchdog fires."""

    def __init__(
        self,
        dialog: Dialog,
        media: MediaSession,
        local: LocalSdp,
        config: MediaConfig,
        policy: Policy,
        owner: bool,
        wall: Clock,
        hang_up_at: Callable[[], bool] | None = None,
    ) -> None:
        self.dialog = dialog
        self.media = media
        self.local = local
        self.config = config
        self.policy = policy
        self._owner = owner  # we sent the initial INVITE (owner of the Call-ID, RFC 3261 §14.1)
        self._wall = wall
        self._hang_up_at = hang_up_at
        self.result = Ending()
        self._glare_at: float | None = None

    def run(self) -> Ending:
        """Drive the call to its end; the dialog is hung up (or was, by the far end)."""
        wall, media, policy = self._wall, self.media, self.policy
        start = wall.monotonic()
        next_tick = start
        request_at = start + policy.t38_request_delay if policy.t38 is T38Mode.REQUEST else None
        done_at: float | None = None
        while True:
            now = wall.monotonic()
            ended = self._handle_events(now)
            if ended is not None:
                t30 = media.t30
                if t30 is None or not t30.finished:
                    self._stop_t30()
                    self.result.finish = Finish.REMOTE_HANGUP
                    self.result.notes.append(f"the far end hung up mid-call ({ended.reason})")
                return self.result
            t30 = media.t30
            if t30 is not None and t30.finished:
                done_at = now if done_at is None else done_at
                # The caller hangs up once its last frames are out; the answerer gives the
                # caller time to do so first, as a fax machine does.
                if now - done_at >= (FLUSH_SECONDS if self._owner else GRACE_SECONDS):
                    self.dialog.hang_up()
                    return self.result
            elif self._hang_up_at is not None and self._hang_up_at():
                self._stop_t30()
                self.dialog.hang_up()
                self.result.finish = Finish.LOCAL_HANGUP
                self.result.notes.append("hung up by this end during the fax")
                return self.result
            if media.line_seconds >= policy.line_seconds or now - start >= policy.wall_seconds:
                self._stop_t30()
                self.dialog.hang_up()
                over_line = media.line_seconds >= policy.line_seconds
                self.result.finish = Finish.LINE_WATCHDOG if over_line else Finish.WALL_WATCHDOG
                self.result.notes.append(
                    f"{self.result.finish.value}: hung up after {media.line_seconds:.1f} s"
                )
                return self.result
            if request_at is not None and now >= request_at:
                request_at = None
                self._request_t38()
            if self._glare_at is not None and now >= self._glare_at:
                self._glare_at = None
                self._request_t38()
            media.step(now)
            next_tick += TICK_SECONDS
            delay = next_tick - wall.monotonic()
            if delay > 0:
                wall.sleep(delay)  # the 20 ms media clock
            elif delay < -CATCH_UP_TICKS * TICK_SECONDS:
                # Too far behind to make up: go on from now. The sample stream stays whole
                # either way (a tick is 20 ms of signal, not of wall time); only the far end's
                # playout buffer sees the gap.
                next_tick = wall.monotonic()

    def _stop_t30(self) -> None:
        t30 = self.media.t30
        if t30 is not None and not t30.finished:
            t30.terminate()

    def _request_t38(self) -> None:
        if self.media.mode is not Mode.AUDIO or self.media.pages_started():
            return
        self.dialog.reinvite(self.local.t38(self.media.udptl.port, self.config.t38))

    def _handle_events(self, now: float) -> Ended | None:
        while True:
            try:
                event: DialogEvent = self.dialog.events.get_nowait()
            except queue.Empty:
                return None
            if isinstance(event, Ended):
                return event
            if isinstance(event, RemoteReinvite):
                self._answer_reinvite(event.sdp)
            elif isinstance(event, ReinviteAnswered):
                self._reinvite_answered(event.sdp)
            elif isinstance(event, ReinviteRefused):
                if event.code == 491:
                    self._glare_at = now + glare_delay(self._owner)
                    self.result.notes.append("re-INVITE glare (491): trying again")
                else:
                    self.result.notes.append(
                        f"T.38 refused by the far end (SIP {event.code} {event.reason}): "
                        "stayed on G.711"
                    )

    def _answer_reinvite(self, sdp: str | None) -> None:
        try:
            if sdp is None:
                raise SdpError("a re-INVITE without SDP")
            offer = parse(sdp)
        except SdpError as exc:
            log.info("refusing a re-INVITE: %s", exc)
            self.dialog.refuse(488, "Not Acceptable Here")
            return
        media = self.media
        if offer.kind is MediaKind.T38:
            if media.mode is Mode.T38:
                media.retarget(offer)
                self.dialog.accept(self.local.t38(media.udptl.port, self._t38_answer(offer)))
            elif self.policy.t38 is T38Mode.OFF or media.pages_started():
                why = "T.38 is off" if self.policy.t38 is T38Mode.OFF else "pages already sent"
                self.result.notes.append(f"refused the far end's re-INVITE to T.38 ({why})")
                self.dialog.refuse(488, "Not Acceptable Here")
            else:
                self.dialog.accept(self.local.t38(media.udptl.port, self._t38_answer(offer)))
                media.start_t38(offer)
                self.result.notes.append("switched to T.38 at the far end's request")
            return
        if media.mode is Mode.T38:
            self.dialog.refuse(488, "Not Acceptable Here")  # no way back to audio mid-fax
            return
        try:
            law = offer.law(self.config.laws)
        except SdpError:
            self.dialog.refuse(488, "Not Acceptable Here")
            return
        self.dialog.accept(self.local.audio(media.rtp.port, (law,)))
        media.retarget(offer)

    def _t38_answer(self, offer: Media) -> T38Params:
        return self.config.t38.answer_to(offer.t38 or T38Params())

    def _reinvite_answered(self, sdp: str | None) -> None:
        try:
            answer = parse(sdp or "")
        except SdpError as exc:
            self.result.notes.append(f"unusable answer to our re-INVITE ({exc}): stayed on G.711")
            return
        if answer.kind is MediaKind.T38 and self.media.mode is Mode.AUDIO:
            self.media.start_t38(answer)
            self.result.notes.append("switched to T.38 at our request")
