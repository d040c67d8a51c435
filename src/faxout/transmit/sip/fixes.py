"""The sippy defects faxout works around, as subclasses built on sippy's loop thread.

* sippy issue #54: the ACK for the 2xx of a re-INVITE we sent was built from that 2xx's
  Record-Route, which a re-INVITE answer never carries, so the ACK skipped the proxy. In-dialog
  ACKs now get the route set and target of their re-INVITE.
* ``;transport=UDP`` in upper case (SIPp, many phones) made sippy refuse to send.
* A 401/407 was answered from inside the response callback, before the transaction layer had
  ACKed the challenge; strict peers reject an INVITE that overtakes that ACK.

(The local SDP that sippy forgets after a refused re-INVITE is put back by ``Dialog``.)
"""

from __future__ import annotations

from typing import Any

from faxout.transmit.sip.sippyloop import Modules


def manager_class(mods: Modules) -> Any:
    base = mods.tm.SipTransactionManager

    class RoutedAckManager(base):  # type: ignore[misc, valid-type]
        """sippy's transaction manager with in-dialog ACKs that follow the dialog's route set,
        and transport names compared without case."""

        def newTransaction(self, msg: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N802
            address, transport = msg.getTarget()
            if isinstance(transport, str):
                # ";transport=UDP" (SIPp, many phones) is as valid as "udp"; sippy only
                # knows the lower-case spelling.
                msg.setTarget((address, transport.lower()))
            t = super().newTransaction(msg, *args, **kwargs)
            if msg.getMethod() == "INVITE" and msg.getHFBody("to").getTag() is not None:
                t.faxout_route = (
                    msg.getRURI().getCopy(),
                    msg.getHFBCopys("route"),
                    t.address,
                )
            return t

        def transmitReq(self, t: Any, msg: Any, *args: Any, **kwargs: Any) -> Any:  # noqa: N802
            route = getattr(t, "faxout_route", None)
            if route is not None and msg.getMethod() == "ACK":
                ruri, routes, address = route
                msg.setRURI(ruri.getCopy())
                msg.delHFs("route")
                msg.appendHeaders([mods.tm.SipHeader(name="route", body=r) for r in routes])
                args = (address, *args[1:]) if args else (address,)
            return super().transmitReq(t, msg, *args, **kwargs)

    return RoutedAckManager


def ua_class(mods: Modules) -> Any:
    base = mods.ua.UA

    class OrderedAuthUA(base):  # type: ignore[misc, valid-type]
        """sippy's UA, answering a 401/407 only after the ACK for it is on the wire.

        sippy resends the INVITE with credentials from inside the response callback, before
        its transaction layer ACKs the challenge; strict peers (SIPp among them) reject an
        INVITE that overtakes the ACK of the previous one.
        """

        def recvResponse(self, resp: Any, tr: Any) -> Any:  # noqa: N802
            if resp.getSCode()[0] in (401, 407):
                mods.timeout.Timeout(lambda: base.recvResponse(self, resp, tr), 0.0)
                return None
            return base.recvResponse(self, resp, tr)

    return OrderedAuthUA
