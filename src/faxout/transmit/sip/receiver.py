"""``faxout sip-receiver``: the receive side of the SIP stack. It answers every INVITE as a fax
machine (G.711, T.38 when offered or asked for), and stores each fax as
``<data_dir>/received/<call id>.tif`` with a ``.json`` summary beside it, as the simulated
line's virtual machines do. It is the far end of the SIP tests and the first piece of inbound
fax.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from faxout.clock import Clock, SystemClock
from faxout.files import make_private, private_dir, write_private
from faxout.transmit.sip.dialog import Dialog, Offered
from faxout.transmit.sip.media import MediaConfig, MediaSession
from faxout.transmit.sip.sdp import LocalSdp, MediaKind, SdpError, T38Params, parse
from faxout.transmit.sip.session import ConnectedCall, Policy, T38Mode
from faxout.transmit.sip.stack import Credentials, SipStack
from faxout.transmit.spandsp import (
    LogRoute,
    StatsSnapshot,
    T30Config,
    completion_text,
    libtiff,
)
from faxout.transmit.spandsp import constants as k

log = logging.getLogger("faxout.transmit.sip.receiver")


@dataclass(frozen=True)
class ReceivedFax:
    """What one incoming call left behind."""

    call_id: str
    caller: str
    called: str
    medium: str
    pages: int
    t30_code: int
    t30_text: str
    remote_csid: str
    path: str | None
    line_seconds: float
    notes: tuple[str, ...]


@dataclass(frozen=True)
class ReceiverConfig:
    """How the receiver answers. ``hang_up_after_pages`` makes it drop the call in the middle
    of the page after that many (a broken fax machine, for tests and demos)."""

    data_dir: Path
    address: str = "127.0.0.1"
    port: int = 5080
    ident: str = "faxout receiver"
    t38: T38Mode = T38Mode.ACCEPT
    t38_request_delay: float = 0.5
    ecm: bool = True
    hang_up_after_pages: int | None = None
    hang_up_delay: float = 4.0
    media: MediaConfig | None = None


class SipReceiver:
    """Listens on ``config.address:port`` until ``close``; each call runs on its own thread."""

    def __init__(
        self,
        config: ReceiverConfig,
        on_received: Callable[[ReceivedFax], None] | None = None,
        wall: Clock | None = None,
    ) -> None:
        self.config = config
        self._on_received = on_received
        self._wall: Clock = wall or SystemClock()
        self._media = config.media or MediaConfig(address=config.address)
        self.received: list[ReceivedFax] = []
        self._arrived = threading.Condition()
        self._threads: list[threading.Thread] = []
        self.inbox = config.data_dir / "received"
        private_dir(self.inbox)
        self.stack = SipStack(config.address, config.port, on_offer=self._offer)
        self.port = self.stack.port

    def register(self, registrar: tuple[str, int], user: str, creds: Credentials | None) -> None:
        """REGISTER ``user`` at ``registrar`` so a proxy routes calls for it here."""
        ok, said = self.stack.register(registrar, user, creds)
        if not ok:
            raise RuntimeError(f"REGISTER at {registrar[0]}:{registrar[1]} failed: {said}")

    def wait_for(self, count: int, timeout: float) -> list[ReceivedFax]:
        """Block until ``count`` faxes were received (or ``timeout``); returns them all."""
        with self._arrived:
            self._arrived.wait_for(lambda: len(self.received) >= count, timeout)
            return list(self.received)

    def close(self) -> None:
        """Stop listening and wait for calls in progress."""
        self.stack.close()
        for thread in list(self._threads):
            thread.join(timeout=5)

    def _offer(self, dialog: Dialog) -> None:
        # On sippy's thread: the call itself runs on a thread of its own.
        thread = threading.Thread(target=self._answer, args=(dialog,), daemon=True)
        # a receiver runs for months: keep only the calls still in progress
        self._threads = [t for t in self._threads if t.is_alive()]
        self._threads.append(thread)
        thread.start()

    def _answer(self, dialog: Dialog) -> None:
        try:
            event = dialog.events.get(timeout=10)
        except Exception:
            return
        if not isinstance(event, Offered):
            return
        call_id = _safe(dialog.call_id or f"call-{time.time_ns()}")
        try:
            offer = parse(event.sdp or "")
            if offer.kind is MediaKind.AUDIO:
                offer.law(self._media.laws)
        except SdpError as exc:
            log.info("refused a call: %s", exc, extra={"call_id": call_id})
            dialog.refuse(488, "Not Acceptable Here")
            return
        path = self.inbox / f"{call_id}.tif"
        t30 = T30Config(ident=self.config.ident[-20:], ecm=self.config.ecm, rx_file=path)
        route = LogRoute(logging.LoggerAdapter(log, {"call_id": call_id}), f"{call_id} rx")
        pages_at: list[float] = []  # media time of each page's end

        def on_phase_d(_fcf: int, _stats: StatsSnapshot) -> None:
            pages_at.append(media.line_seconds)

        media = MediaSession(self._media, t30, False, route, before_phase_d=on_phase_d)
        local = LocalSdp(self.config.address)
        limit = self.config.hang_up_after_pages

        def hang_up_now() -> bool:
            return (
                limit is not None
                and len(pages_at) >= limit
                and media.line_seconds - pages_at[limit - 1] >= self.config.hang_up_delay
            )

        try:
            with libtiff.call_context(call_id):
                if offer.kind is MediaKind.T38:
                    params = self._media.t38.answer_to(offer.t38 or T38Params())
                    answer = local.t38(media.udptl.port, params)
                    dialog.accept(answer)
                    media.start_t38(offer)
                else:
                    law = offer.law(self._media.laws)
                    dialog.accept(local.audio(media.rtp.port, (law,)))
                    media.start_audio(offer)
                policy = Policy(self.config.t38, self.config.t38_request_delay, 7200.0, 7200.0)
                connected = ConnectedCall(
                    dialog,
                    media,
                    local,
                    self._media,
                    policy,
                    False,
                    self._wall,
                    hang_up_now if limit is not None else None,
                ).run()
                self._store(call_id, event, media, path, [*connected.notes, media.stats_note()])
        finally:
            media.close()

    def _store(
        self, call_id: str, offer: Offered, media: MediaSession, path: Path, notes: list[str]
    ) -> None:
        t30 = media.t30
        code = t30.completion if t30 and t30.completion is not None else k.T30_ERR_CALLDROPPED
        stats = t30.stats() if t30 else None
        fax = ReceivedFax(
            call_id=call_id,
            caller=offer.caller,
            called=offer.called,
            medium=str(media.mode or ""),
            pages=stats.pages_rx if stats else 0,
            t30_code=code,
            t30_text=completion_text(code),
            remote_csid=(t30.remote_ident if t30 else "") or "",
            path=str(path) if path.exists() else None,
            line_seconds=round(media.line_seconds, 2),
            notes=tuple(notes),
        )
        if fax.path is not None:
            make_private(path)  # libtiff created it with whatever umask this process has
        write_private(self.inbox / f"{call_id}.json", json.dumps(asdict(fax), indent=2).encode())
        log.info(
            "received %d page(s) from %s over %s: %s",
            fax.pages,
            fax.caller or "unknown",
            fax.medium,
            fax.t30_text,
            extra={"call_id": call_id},
        )
        with self._arrived:
            self.received.append(fax)
            self._arrived.notify_all()
        if self._on_received is not None:
            self._on_received(fax)


def _safe(call_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", call_id)[:120] or "call"
