"""The receive side of the SIP stack: it answers INVITEs as a fax machine (G.711, T.38 when
offered or asked for).

With an ``InboundStore`` (``faxout serve`` with ``transmit.sip.receive``) each call is screened
(a blocked caller hears 603 Decline before anything is answered), committed as a row when it
is answered, made durable page by page before each confirmation, and stored in its inbox
(faxout.inbound.store). Without one (``faxout sip-receiver``, the far end of the SIP tests) each
fax is written as ``<data_dir>/received/<call id>.tif`` with a ``.json`` summary beside it, as
the simulated line's virtual machines do.
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
from faxout.inbound.model import IncomingCall, ReceptionFacts
from faxout.inbound.store import InboundStore, Reception, Refuse
from faxout.transmit.reception import reception_facts
from faxout.transmit.sip.dialog import Dialog, Offered
from faxout.transmit.sip.media import MediaConfig, MediaSession
from faxout.transmit.sip.sdp import LocalSdp, MediaKind, SdpError, T38Params, parse
from faxout.transmit.sip.session import ConnectedCall, Policy, T38Mode
from faxout.transmit.sip.stack import Credentials, SipStack
from faxout.transmit.spandsp import (
    LogRoute,
    StatsSnapshot,
    T30Config,
    libtiff,
)

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
    inbound_id: int | None = None  # the row in the inbound store, when there is one


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
        store: InboundStore | None = None,
    ) -> None:
        self.config = config
        self._on_received = on_received
        self._store = store
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
            log.info("refused a call: %s", exc, extra={"fields": {"call_id": call_id}})
            dialog.refuse(488, "Not Acceptable Here")
            return
        reception: Reception | None = None
        if self._store is not None:
            call = IncomingCall("sip", call_id, event.caller, event.caller_name, event.dialled)
            verdict = self._store.screen(call)
            if isinstance(verdict, Refuse):
                dialog.refuse(603, "Decline")
                return
            reception = self._store.begin(call, verdict.inbox)
            if reception is None:  # this Call-ID was received already: a loop, or a replay
                dialog.refuse(482, "Loop Detected")
                return
        path = reception.path if reception else self.inbox / f"{call_id}.tif"
        t30 = T30Config(ident=self.config.ident[-20:], ecm=self.config.ecm, rx_file=path)
        route = LogRoute(logging.LoggerAdapter(log, {"call_id": call_id}), f"{call_id} rx")
        pages_at: list[float] = []  # media time of each page's end

        def on_phase_d(_fcf: int, stats: StatsSnapshot) -> None:
            pages_at.append(media.line_seconds)
            if reception is not None:
                # before the MCF goes out: the page the sender hears confirmed is on disk
                reception.page_done(max(stats.pages_rx, len(pages_at)))

        media = MediaSession(self._media, t30, False, route, before_phase_d=on_phase_d)
        local = LocalSdp(self.config.address)
        limit = self.config.hang_up_after_pages

        def hang_up_now() -> bool:
            return (
                limit is not None
                and len(pages_at) >= limit
                and media.line_seconds - pages_at[limit - 1] >= self.config.hang_up_delay
            )

        notes: list[str] = []
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
                notes = [*connected.notes, media.stats_note()]
        except Exception as exc:
            notes.append(f"the call broke: {exc}")
            raise
        finally:
            facts = reception_facts(media.t30, media.line_seconds, notes)
            mode = str(media.mode or "")
            media.close()  # frees spandsp, which closes the TIFF
            self._store_fax(call_id, event, mode, path, facts, reception)

    def _store_fax(
        self,
        call_id: str,
        offer: Offered,
        medium: str,
        path: Path,
        facts: ReceptionFacts,
        reception: Reception | None,
    ) -> None:
        inbound_id: int | None = None
        if reception is not None:
            stored = reception.finish(facts)
            inbound_id = stored.id
        fax = ReceivedFax(
            call_id=call_id,
            caller=offer.caller,
            called=offer.dialled,
            medium=medium,
            pages=facts.pages,
            t30_code=facts.t30_code if facts.t30_code is not None else -1,
            t30_text=facts.t30_text,
            remote_csid=facts.csid,
            path=str(path) if path.exists() else None,
            line_seconds=facts.line_seconds or 0.0,
            notes=facts.notes,
            inbound_id=inbound_id,
        )
        if reception is None:
            if fax.path is not None:
                make_private(path)  # libtiff created it with whatever umask this process has
            write_private(
                self.inbox / f"{call_id}.json", json.dumps(asdict(fax), indent=2).encode()
            )
        log.info(
            "received %d page(s) from %s over %s: %s",
            fax.pages,
            fax.caller or "unknown",
            fax.medium,
            fax.t30_text,
            extra={"fields": {"call_id": call_id}},
        )
        with self._arrived:
            self.received.append(fax)
            self._arrived.notify_all()
        if self._on_received is not None:
            self._on_received(fax)


def _safe(call_id: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]", "_", call_id)[:120] or "call"
