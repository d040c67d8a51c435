"""The simulated line, the other way round: a virtual fax machine calls the gateway.

``receive_test_fax`` plays a sender that dials the gateway and sends a document; the gateway
answers with its own T.30 terminal and stores the fax through the inbound store, exactly as a
call from the SIP trunk is stored (screening, a row from the answer on, each page durable
before its MCF, routing, the mail and the events). It is how a new installation tries its
inbound path with no trunk (``faxout receive-test``), and how the tests drive it.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from pathlib import Path

from faxout.clock import Clock, SystemClock
from faxout.inbound.model import InboundFax, IncomingCall
from faxout.inbound.store import InboundStore, Refuse
from faxout.transmit.caller import caller_config
from faxout.transmit.callloop import Limits, SampleClock, line_watchdog, run_audio, run_t38
from faxout.transmit.farend import AudioFaxMachine, MachineSetup, T38FaxMachine
from faxout.transmit.line import AudioImpairment, AudioPath, PacketImpairment, PacketPath
from faxout.transmit.preflight import checked
from faxout.transmit.reception import reception_facts
from faxout.transmit.result import FaxCall
from faxout.transmit.simline import T38_TICK, Medium
from faxout.transmit.spandsp import (
    AudioEndpoint,
    LogRoute,
    StatsSnapshot,
    T30Config,
    T38Endpoint,
    libtiff,
)

log = logging.getLogger("faxout.transmit.spandsp")
TRANSPORT = "simline"


@dataclass(frozen=True)
class VirtualSender:
    """The virtual machine that calls: its number, its CSID and the number it dials."""

    caller: str = "+15555550100"
    caller_name: str = "faxout test sender"
    csid: str = "+1 555 555 0100"
    called: str = ""
    medium: Medium = Medium.AUDIO
    ecm: bool = True


class DocumentError(ValueError):
    """The document cannot be sent as a fax (the message says why)."""


def receive_test_fax(
    store: InboundStore,
    document: Path,
    sender: VirtualSender = VirtualSender(),
    *,
    wall: Clock | None = None,
) -> InboundFax | Refuse:
    """Have a virtual machine fax ``document`` (TIFF-F) to the gateway; the stored fax, or
    the refusal when the sender is blocked."""
    call_id = f"test-{uuid.uuid4().hex[:12]}"
    fax_call = FaxCall(
        document, sender.called or "gateway", call_id, ecm=sender.ecm, ident=sender.csid[-20:]
    )
    check = checked(fax_call)
    if not check.ok:
        raise DocumentError(check.reason or "the document cannot be sent")
    call = IncomingCall(TRANSPORT, call_id, sender.caller, sender.caller_name, sender.called)
    verdict = store.screen(call)
    if isinstance(verdict, Refuse):
        return verdict
    reception = store.begin(call, verdict.inbox)
    assert reception is not None, "a fresh call id is never stored already"
    clock = SampleClock()
    adapter = logging.LoggerAdapter(log, {"call_id": call_id})
    now = clock.seconds

    def on_page(_fcf: int, stats: StatsSnapshot) -> None:
        reception.page_done(stats.pages_rx)

    setup = MachineSetup(
        T30Config(ident="faxout gateway", ecm=True, rx_file=reception.path), reject_after=None
    )
    limits = Limits(line_watchdog(check.pages), 600.0)
    ours: AudioFaxMachine | T38FaxMachine
    with libtiff.call_context(call_id):
        if sender.medium is Medium.AUDIO:
            ours = AudioFaxMachine(setup, now, LogRoute(adapter, f"{call_id} rx"), on_page)
            them = AudioEndpoint(True, now, LogRoute(adapter, f"{call_id} test sender"))
            try:
                them.t30.configure(caller_config(fax_call))
                clean = AudioImpairment()
                run_audio(
                    them,
                    ours,
                    AudioPath(clean, 1),
                    AudioPath(clean, 2),
                    clock,
                    limits,
                    800,
                    wall or SystemClock(),
                )
                facts = reception_facts(ours.t30, clock.seconds())
            finally:
                ours.close()
                them.close()
        else:
            ours = T38FaxMachine(setup, now, LogRoute(adapter, f"{call_id} rx"), True, on_page)
            sender_t38 = T38Endpoint(True, now, LogRoute(adapter, f"{call_id} test sender"), True)
            try:
                sender_t38.t30.configure(caller_config(fax_call))
                clean_p = PacketImpairment()
                run_t38(
                    sender_t38,
                    ours,
                    PacketPath(clean_p, 1),
                    PacketPath(clean_p, 2),
                    clock,
                    limits,
                    T38_TICK,
                    wall or SystemClock(),
                )
                facts = reception_facts(ours.t30, clock.seconds())
            finally:
                ours.close()
                sender_t38.close()
    return reception.finish(facts)
