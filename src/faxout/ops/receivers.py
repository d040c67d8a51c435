"""The inbound side of one process: the receivers of the configured transports, each storing
what it receives through the inbound store. They run in the process that runs the dispatcher
(``faxout serve`` embedded, ``faxout dispatch`` distributed): one receiver per port.

Before a receiver answers its first call it recovers what its predecessor on this host left
half received (``InboundStore.recover``): those faxes are finished as partial, with the pages
that had arrived, and mailed and announced like any other.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

from faxout.inbound.model import InboundFax
from faxout.ops.gateway import Gateway

if TYPE_CHECKING:
    from faxout.inbound.store import InboundStore

log = logging.getLogger("faxout.inbound")


class Receiver(Protocol):
    """Something that answers calls until ``close``."""

    def close(self) -> None:
        """Stop answering; wait for the calls in progress."""
        ...


class Receivers:
    """Starts and stops this process's receivers."""

    def __init__(self, gw: Gateway, on_final: Callable[[InboundFax], None] | None = None) -> None:
        self.gw = gw
        self.on_final = on_final  # wakes the mail and webhook runners: no wait for a pass
        self.running: list[Receiver] = []

    def store(self, transport: str) -> InboundStore:
        """The inbound store of ``transport``'s receiver, with this process's hooks."""
        store = self.gw.inbound_store(transport)
        if self.on_final is not None:
            store.hooks.append(self.on_final)
        return store

    def start(self) -> None:
        """Recover, then start every receiver the settings ask for."""
        sip = self.gw.settings.transmit.sip
        if sip.receive:
            self.running.append(self._sip())
        if self.gw.settings.transmit.hylafax.receive:
            self.running.append(self._hylafax())

    def _sip(self) -> Receiver:
        from faxout.transmit.sip.media import MediaConfig
        from faxout.transmit.sip.receiver import ReceiverConfig, SipReceiver

        s = self.gw.settings
        sip = s.transmit.sip
        store = self.store("sip")
        _recover(store.recover(), "sip")
        address = sip.our_address()
        config = ReceiverConfig(
            data_dir=s.data_dir,
            address=address,
            port=sip.receive_port,
            ident=(s.transmit.ident or "faxout")[-20:],
            t38=sip.t38,
            t38_request_delay=sip.t38_request_delay,
            media=MediaConfig(
                address=address,
                laws=sip.laws,
                redundancy=sip.t38_redundancy,
                jitter_depth=sip.jitter_frames(),
            ),
        )
        receiver = SipReceiver(config, wall=self.gw.clock, store=store)
        if sip.registration:
            receiver.register(sip.target(), sip.caller(), sip.credentials())
        log.info("receiving SIP faxes on sip:%s:%d", address, receiver.port)
        return receiver

    def _hylafax(self) -> Receiver:
        from faxout.errors import TransportError
        from faxout.transmit.hylafax_inbound import TRANSPORT, HylaFaxReceiver

        config = self.gw.settings.transmit.hylafax
        store = self.store(TRANSPORT)
        receiver = HylaFaxReceiver(config, store, self.gw.clock)
        try:  # a killed pickup again from HylaFAX's whole file, when it is still there
            receiver.recover()
        except TransportError as exc:
            log.warning("hylafax: could not finish stopped pickups from HylaFAX: %s", exc)
        _recover(store.recover(), TRANSPORT)
        receiver.start()
        log.info("picking up HylaFAX's received faxes from %s:%d", config.host, config.port)
        return receiver

    def stop(self) -> None:
        """Stop every receiver (calls in progress are waited for, briefly)."""
        while self.running:
            receiver = self.running.pop()
            try:
                receiver.close()
            except Exception:
                log.exception("stopping a receiver")


def _recover(faxes: list[InboundFax], transport: str) -> None:
    if faxes:
        log.warning(
            "%s: finished %d reception(s) a stopped receiver had left as partial",
            transport,
            len(faxes),
        )
