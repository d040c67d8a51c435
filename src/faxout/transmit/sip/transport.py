"""``SipTransport``: the ``FaxTransport`` over a SIP trunk or proxy, G.711 or T.38.

One SIP endpoint per process, shared by every call (each on its own thread); REGISTER, when
configured, happens once before the first call and is kept refreshed by sippy.
"""

from __future__ import annotations

import logging
import queue
import re
import threading

from faxout.clock import Clock, SystemClock
from faxout.errors import TransportError
from faxout.transmit.caller import CallerProgress, caller_config, caller_result
from faxout.transmit.callloop import line_watchdog
from faxout.transmit.preflight import checked, refused
from faxout.transmit.result import CallProgress, CallResult, FaxCall, Outcome
from faxout.transmit.sip import causes
from faxout.transmit.sip.config import SipConfig
from faxout.transmit.sip.dialog import Answered, DialogEvent, Ended, Refused, Ringing
from faxout.transmit.sip.media import MediaConfig, MediaSession
from faxout.transmit.sip.sdp import LocalSdp, MediaKind, SdpError, parse
from faxout.transmit.sip.session import ConnectedCall, Policy
from faxout.transmit.sip.stack import SipStack
from faxout.transmit.spandsp import LogRoute, libtiff
from faxout.transmit.transport import ProgressSink

log = logging.getLogger("faxout.transmit.sip")


def dial_string(number: str) -> str:
    """The user part we dial: digits with an optional leading ``+`` (E.164 as stored)."""
    cleaned = re.sub(r"[^0-9+*#]", "", number)
    if not cleaned:
        raise ValueError(f"'{number}' has no digits to dial")
    return cleaned


class SipTransport:
    """Sends faxes through ``config.proxy``. Thread-safe; each ``send`` blocks its thread."""

    def __init__(
        self,
        config: SipConfig,
        wall: Clock | None = None,
        stack: SipStack | None = None,
    ) -> None:
        self.config = config
        self._wall: Clock = wall or SystemClock()
        self._stack = stack
        self._lock = threading.Lock()
        self._address = config.our_address()
        self.media_config = MediaConfig(
            address=self._address,
            laws=config.laws,
            redundancy=config.t38_redundancy,
            jitter_depth=config.jitter_frames(),
            impairment=config.impairment.media(),
        )

    def stack(self) -> SipStack:
        """The process's SIP endpoint, started (and registered) on first use."""
        with self._lock:
            if self._stack is None:
                stack = SipStack(self._address, self.config.local_port)
                if self.config.registration:
                    user = self.config.username or self.config.caller()
                    creds = self.config.credentials()
                    ok, said = stack.register(self.config.target(), user, creds)
                    if not ok:
                        stack.close()
                        raise TransportError(
                            f"REGISTER at {self.config.proxy} as {user} failed: {said}"
                        )
                self._stack = stack
            return self._stack

    def send(self, call: FaxCall, progress: ProgressSink) -> CallResult:
        """Call ``call.number`` through the proxy and send ``call.document``."""
        start = self._wall.monotonic()
        check = checked(call)
        if not check.ok:
            return refused(check)
        try:
            number = dial_string(call.number)
            if not self.config.e164_plus:
                number = number.lstrip("+")
        except ValueError as exc:
            return CallResult(Outcome.INVALID_NUMBER, None, str(exc), check.pages, 0, 0)
        stack = self.stack()
        route = LogRoute(logging.LoggerAdapter(log, {"call_id": call.call_id}), call.call_id)
        media = MediaSession(
            self.media_config,
            caller_config(call),
            True,
            route,
            CallerProgress(progress, check.pages),
        )
        try:
            with libtiff.call_context(call.call_id):
                return self._call(stack, call, number, media, check.pages, progress, start)
        finally:
            media.close()

    def _call(
        self,
        stack: SipStack,
        call: FaxCall,
        number: str,
        media: MediaSession,
        pages: int,
        progress: ProgressSink,
        start: float,
    ) -> CallResult:
        cfg = self.config
        local = LocalSdp(self._address)
        events: queue.Queue[DialogEvent] = queue.Queue()
        host, port = cfg.target()
        progress(CallProgress("dialing", 0.0, pages=pages, detail=number))
        dialog = stack.invite(
            (host, port),
            number,
            self.config.caller(),
            local.audio(media.rtp.port, cfg.laws),
            self.config.credentials(),
            events,
        )
        deadline = start + cfg.ring_seconds
        heard = False  # any response at all: the proxy (or the far end) is there
        silent = (
            f"no response from the SIP proxy at {cfg.proxy} (not even 100 Trying): "
            "check transmit.sip.proxy and that UDP reaches it"
        )
        while True:
            left = deadline - self._wall.monotonic()
            try:
                event = events.get(timeout=max(0.0, left)) if left > 0 else events.get_nowait()
            except queue.Empty:
                dialog.hang_up()
                if not heard:
                    return self._unconnected(Outcome.FAILED, silent, pages, start, progress)
                text = f"no answer after {cfg.ring_seconds:.0f} s of ringing"
                return self._unconnected(Outcome.NO_ANSWER, text, pages, start, progress)
            if isinstance(event, Ringing):
                heard = True
                continue
            if isinstance(event, Refused) and not heard and event.code == 408:
                # sippy's own timeout: nothing ever came back, so nobody rang
                return self._unconnected(Outcome.FAILED, silent, pages, start, progress)
            if isinstance(event, Refused):
                log.info(
                    "call refused: SIP %s %s",
                    event.code,
                    event.reason,
                    extra={"fields": {"call_id": call.call_id}},
                )
                text = causes.explain(event.code, event.reason)
                outcome = causes.outcome_of(event.code)
                return self._unconnected(outcome, text, pages, start, progress)
            if isinstance(event, Ended):
                text = f"the call ended before it was answered ({event.reason})"
                return self._unconnected(Outcome.FAILED, text, pages, start, progress)
            if isinstance(event, Answered):
                break
        try:
            answer = parse(event.sdp or "")
            if answer.kind is MediaKind.T38:
                media.start_t38(answer)
            else:
                media.start_audio(answer)
        except SdpError as exc:
            dialog.hang_up()
            return self._unconnected(
                Outcome.FAILED, f"the far end's answer is unusable: {exc}", pages, start, progress
            )
        progress(CallProgress("answered", 0.0, pages=pages, detail=str(answer.kind)))
        limit = line_watchdog(pages)
        policy = Policy(cfg.t38, cfg.t38_request_delay, limit, limit + 60.0)
        connected = ConnectedCall(
            dialog, media, local, self.media_config, policy, True, self._wall
        ).run()
        t30 = media.t30
        assert t30 is not None  # media started above
        notes = [*connected.notes, media.stats_note()]
        return caller_result(
            t30,
            pages,
            None,
            media.line_seconds,
            self._wall.monotonic() - start,
            notes,
            progress,
        )

    def _unconnected(
        self, outcome: Outcome, text: str, pages: int, start: float, progress: ProgressSink
    ) -> CallResult:
        progress(CallProgress("hangup", 0.0, detail=text))
        return CallResult(
            outcome,
            None,
            text,
            pages,
            0,
            0,
            wall_seconds=round(self._wall.monotonic() - start, 4),
        )
