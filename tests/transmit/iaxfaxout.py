"""faxout's own fax terminal on an IAX2 call (``iax2peer.py``): the product's caller sends,
or the product's inbound machine receives into the inbound store, with nothing of T.30 here.
"""

from __future__ import annotations

import logging
import time

from faxout.inbound.model import InboundFax, IncomingCall
from faxout.inbound.store import InboundStore, Refuse
from faxout.transmit.caller import caller_config, caller_result
from faxout.transmit.farend import AudioFaxMachine, MachineSetup
from faxout.transmit.preflight import checked
from faxout.transmit.reception import reception_facts
from faxout.transmit.result import CallResult, FaxCall
from faxout.transmit.spandsp import AudioEndpoint, LogRoute, StatsSnapshot, T30Config, libtiff
from tests.transmit.iax2peer import Iax2Call, Samples, Terminal

log = logging.getLogger("faxout.transmit.spandsp")


def faxout_send(call: Iax2Call, remote: tuple[str, int], fax: FaxCall, limit: float) -> CallResult:
    """faxout's own caller (the product's ``AudioEndpoint`` with ``caller_config``) dials the
    iaxmodem at ``remote`` and sends ``fax.document``; its ``CallResult`` as the product reads
    it off the T.30 session."""
    check = checked(fax)
    assert check.ok, check.reason
    clock = _LineClock()
    route = LogRoute(logging.LoggerAdapter(log, {"call_id": fax.call_id}), f"{fax.call_id} tx")
    with libtiff.call_context(fax.call_id):
        endpoint = AudioEndpoint(True, clock.seconds, route)
        try:
            endpoint.t30.configure(caller_config(fax))
            call.place(remote, fax.number)
            start = time.monotonic()
            ending = call.bridge(clock.counting(endpoint), lambda: endpoint.t30.finished, limit)
            endpoint.t30.terminate()  # a no-op after phase E; else ends it with what it has
            call.hang_up()
            notes = [f"iax2: {ending}; {call.stats.summary()}"]
            return caller_result(
                endpoint.t30,
                check.pages,
                None,
                clock.seconds(),
                time.monotonic() - start,
                notes,
                lambda _: None,
            )
        finally:
            endpoint.close()


def faxout_receive(
    call: Iax2Call, store: InboundStore, wait: float, limit: float, called: str = ""
) -> InboundFax | Refuse:
    """Wait for an iaxmodem to call, answer with faxout's own receiving terminal (the inbound
    ``AudioFaxMachine``) and store the fax through ``store`` as a SIP call is stored: screened,
    a row from the answer on, each page durable before its MCF, then finished."""
    call.await_call(wait)
    incoming = IncomingCall(
        "iax2-test", f"iax-{call.callno}", call.calling, "", called or call.called
    )
    verdict = store.screen(incoming)
    if isinstance(verdict, Refuse):
        call.hang_up("Call rejected")
        return verdict
    reception = store.begin(incoming, verdict.inbox)
    assert reception is not None, "a fresh call id is never stored already"

    def on_page(_fcf: int, stats: StatsSnapshot) -> None:
        reception.page_done(stats.pages_rx)

    clock = _LineClock()
    route = LogRoute(logging.LoggerAdapter(log, {"call_id": incoming.call_ref}), "rx")
    setup = MachineSetup(
        T30Config(ident="faxout interop", ecm=True, rx_file=reception.path), reject_after=None
    )
    with libtiff.call_context(incoming.call_ref):
        machine = AudioFaxMachine(setup, clock.seconds, route, on_page)
        try:
            ending = call.bridge(clock.counting(machine), lambda: machine.on_hook, limit)
            machine.hang_up()
            call.hang_up()
            notes = [f"iax2: {ending}; {call.stats.summary()}"]
            facts = reception_facts(machine.t30, clock.seconds(), notes)
        finally:
            machine.close()
    return reception.finish(facts)


class _LineClock:
    """Line time of one call: the samples the terminal has received, at 8 kHz."""

    def __init__(self) -> None:
        self.samples = 0

    def seconds(self) -> float:
        return self.samples / 8000

    def counting(self, terminal: Terminal) -> Terminal:
        clock = self

        class _Counted:
            def transmit(self, n: int) -> Samples:
                return terminal.transmit(n)

            def receive(self, samples: Samples) -> None:
                clock.samples += len(samples)
                terminal.receive(samples)

        return _Counted()
