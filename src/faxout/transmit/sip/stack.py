"""sippy, tamed: one SIP endpoint per ``SipStack``, its dialogs, and the events they produce.

sippy runs every transaction on its own event thread (``ED2``). Nothing here touches sippy
state from another thread: requests go in through ``ED2.callFromThread`` and what happens in a
dialog comes out as plain values (``DialogEvent``) on a ``queue.Queue`` that the call's own
thread reads. That thread also owns the spandsp state, so neither side ever blocks the other.

Two sippy defects are handled here (both described in docs/transmit-sip.md):

* sippy issue #54: the ACK for the 2xx of a re-INVITE we sent is built from that 2xx's
  Record-Route, which a re-INVITE answer never carries, so the ACK skipped the proxy. The
  transaction manager below gives in-dialog ACKs the route set and target of their re-INVITE.
* After a refused re-INVITE sippy forgets the local SDP (``ua.lSDP = None``); the dialog keeps
  the description in force and puts it back.
"""

from __future__ import annotations

import logging
import queue
import random
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from faxout.errors import TransportError

log = logging.getLogger("faxout.transmit.sip")
wire_log = logging.getLogger("faxout.transmit.sip.wire")

_loop_lock = threading.Lock()
_loop_ready = threading.Event()
_sippy: Any = None  # the imported sippy modules, once the event thread has started


# ---- what a dialog tells the call thread -------------------------------------------------


@dataclass(frozen=True)
class Ringing:
    """A provisional answer (180/183)."""

    code: int


@dataclass(frozen=True)
class Answered:
    """The INVITE got a 2xx; ``sdp`` is the far end's answer."""

    sdp: str | None


@dataclass(frozen=True)
class Refused:
    """The INVITE got a final non-2xx answer (or timed out: 408)."""

    code: int
    reason: str


@dataclass(frozen=True)
class ReinviteAnswered:
    """Our re-INVITE was accepted with ``sdp``."""

    sdp: str | None


@dataclass(frozen=True)
class ReinviteRefused:
    """Our re-INVITE was refused; the dialog goes on with the previous media."""

    code: int
    reason: str


@dataclass(frozen=True)
class RemoteReinvite:
    """The far end sent a re-INVITE; answer it with ``Dialog.accept`` or ``Dialog.refuse``."""

    sdp: str | None


@dataclass(frozen=True)
class Offered:
    """An incoming call (receive side); answer with ``Dialog.accept`` or ``Dialog.refuse``."""

    sdp: str | None
    caller: str
    called: str


@dataclass(frozen=True)
class Ended:
    """The dialog is over: ``by_remote`` when the far end sent BYE (or CANCEL)."""

    by_remote: bool
    reason: str


DialogEvent = (
    Ringing | Answered | Refused | ReinviteAnswered | ReinviteRefused | RemoteReinvite
) | (Offered | Ended)


# ---- sippy's event thread ----------------------------------------------------------------


def _start_loop() -> Any:
    """Import sippy on a thread of its own and run its event loop there, once per process."""
    global _sippy
    with _loop_lock:
        if _sippy is not None:
            return _sippy
        failure: list[BaseException] = []

        def run() -> None:
            global _sippy
            try:
                # sippy names its modules after their classes.
                import sippy.CCEvents as cc  # noqa: N813
                import sippy.MsgBody as body  # noqa: N813
                import sippy.SipContact as contact  # noqa: N813
                import sippy.SipRegistrationAgent as reg  # noqa: N813
                import sippy.SipRequest as request  # noqa: N813
                import sippy.SipTransactionManager as tm  # noqa: N813
                import sippy.SipURL as url  # noqa: N813
                import sippy.Time.Timeout as timeout  # noqa: N813
                import sippy.UA as ua  # noqa: N811
                from sippy.Core.EventDispatcher import ED2

                # Timers must be armed on the loop's thread; sippy notes the thread that first
                # imported it, which may not be this one.
                ED2.my_ident = threading.get_ident()
                _sippy = _Modules(cc, body, contact, reg, request, tm, url, ua, timeout, ED2)
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                _loop_ready.set()
                return
            _loop_ready.set()
            ED2.loop()

        threading.Thread(target=run, name="sippy-loop", daemon=True).start()
        _loop_ready.wait(30)
        if failure or _sippy is None:
            raise TransportError(f"the SIP stack (sippy) could not start: {failure or 'timeout'}")
        return _sippy


@dataclass(frozen=True)
class _Modules:
    cc: Any
    body: Any
    contact: Any
    reg: Any
    request: Any
    tm: Any
    url: Any
    ua: Any
    timeout: Any
    ed2: Any


def _on_loop(fn: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Run ``fn`` on sippy's thread and return its result."""
    mods = _start_loop()
    done: queue.Queue[tuple[Any, BaseException | None]] = queue.Queue()

    def call() -> None:
        try:
            done.put((fn(), None))
        except BaseException as exc:  # handed back to the caller
            done.put((None, exc))

    mods.ed2.callFromThread(call)
    try:
        value, exc = done.get(timeout=timeout)
    except queue.Empty:
        raise TransportError("the SIP stack did not respond within 10 s") from None
    if exc is not None:
        raise exc
    return value


def _post(fn: Callable[[], None]) -> None:
    """Run ``fn`` on sippy's thread, without waiting."""
    _start_loop().ed2.callFromThread(fn)


class _WireLog:
    """sippy's logger interface, routed to Python logging (DEBUG: every SIP message)."""

    def write(self, *args: Any, **kwargs: Any) -> None:
        if wire_log.isEnabledFor(logging.DEBUG):
            wire_log.debug("".join(str(a) for a in args).rstrip())


def _manager_class(mods: _Modules) -> Any:
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


def _ua_class(mods: _Modules) -> Any:
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


# ---- the endpoint and its dialogs --------------------------------------------------------


@dataclass(frozen=True)
class Credentials:
    """Digest credentials for 401/407 challenges."""

    username: str
    password: str


class SipStack:
    """One SIP endpoint (UDP) on ``address:port`` (port 0: any free port).

    ``on_offer`` receives each incoming call's ``Dialog`` (receive side); without it, incoming
    INVITEs are refused with 480. OPTIONS are answered 200 so a proxy can ping us.
    """

    def __init__(
        self,
        address: str = "127.0.0.1",
        port: int = 0,
        on_offer: Callable[[Dialog], None] | None = None,
        user_agent: str = "faxout",
    ) -> None:
        self.address = address
        self._on_offer = on_offer
        self._user_agent = user_agent
        self._mods: _Modules = _start_loop()
        self._gc: dict[str, Any] = {
            "_sip_address": address,
            "_sip_port": port,
            "_sip_logger": _WireLog(),
        }
        self._registrations: list[Any] = []

        def build() -> int:
            manager = _manager_class(self._mods)(self._gc, self._incoming)
            self._gc["_sip_tm"] = manager
            server = manager.l4r.getServer((address, port), is_local=True)
            return int(server.uopts.laddress[1])

        try:
            self.port: int = _on_loop(build)
        except OSError as exc:
            raise TransportError(f"cannot listen for SIP on {address}:{port}: {exc}") from exc

    # -- outgoing

    def invite(
        self,
        target: tuple[str, int],
        number: str,
        caller: str,
        sdp: str,
        credentials: Credentials | None,
        events: queue.Queue[DialogEvent],
        caller_name: str | None = None,
    ) -> Dialog:
        """Send an INVITE for ``number`` to ``target`` (the proxy or the far end)."""
        dialog = Dialog(self, events, sdp)
        mods = self._mods

        def start() -> None:
            ua = _ua_class(mods)(
                self._gc,
                event_cb=dialog._on_event,
                username=credentials.username if credentials else None,
                password=credentials.password if credentials else None,
                nh_address=target,
            )
            ua.local_ua = self._user_agent
            ua.lContact = self._contact()
            dialog._ua = ua
            body = mods.body.MsgBody(sdp)
            ua.recvEvent(mods.cc.CCEventTry((None, caller, number, body, None, caller_name)))

        _on_loop(start)
        return dialog

    def options(self, target: tuple[str, int], timeout: float = 5.0) -> tuple[int, str] | None:
        """Send OPTIONS to ``target``: its ``(code, reason)``, or None when nobody answered."""
        answer: queue.Queue[tuple[int, str]] = queue.Queue()
        mods = self._mods

        def send() -> None:
            ruri = mods.url.SipURL(host=target[0], port=target[1])
            req = mods.request.SipRequest(
                method="OPTIONS", ruri=ruri, target=(target, "udp"), user_agent=self._user_agent
            )
            from_ = req.getHFBody("from")
            from_.genTag()

            def reply(resp: Any) -> None:
                if resp.scode >= 200:
                    answer.put((int(resp.scode), str(resp.reason)))

            self._gc["_sip_tm"].newTransaction(req, reply)

        _on_loop(send)
        try:
            return answer.get(timeout=timeout)
        except queue.Empty:
            return None

    def register(
        self,
        registrar: tuple[str, int],
        user: str,
        credentials: Credentials | None,
        expires: int = 300,
        timeout: float = 10.0,
    ) -> tuple[bool, str]:
        """REGISTER ``user`` at ``registrar`` (kept refreshed): ``(ok, what it said)``."""
        result: queue.Queue[tuple[bool, str]] = queue.Queue()
        mods = self._mods

        def start() -> None:
            aor = mods.url.SipURL(username=user, host=registrar[0], port=registrar[1])
            contact = mods.url.SipURL(username=user, host=self.address, port=self.port)
            agent = mods.reg.SipRegistrationAgent(
                self._gc,
                aor,
                contact,
                user=credentials.username if credentials else None,
                passw=credentials.password if credentials else None,
                exp=expires,
                rok_cb=lambda *_: result.put((True, "registered")),
                rfail_cb=lambda reason, *_: result.put((False, str(reason))),
                target=(registrar, "udp"),
            )
            self._registrations.append(agent)
            agent.doregister()

        _on_loop(start)
        try:
            return result.get(timeout=timeout)
        except queue.Empty:
            return False, f"no answer from the registrar within {timeout:.0f} s"

    def close(self) -> None:
        """Stop registrations and release the port."""

        def stop() -> None:
            for agent in self._registrations:
                agent.stopregister()
            manager = self._gc.get("_sip_tm")
            if manager is not None:
                # sippy's shutdown() empties the manager while the timers of open transactions
                # and of ended dialogs (32 s "go dead") are still armed, and they fire into it
                # later. Disarm the transactions' timers, close the sockets, and leave the
                # manager's tables in place for the dialog timers to clean up.
                pending = [*manager.tclient.values(), *manager.tserver.values()]
                for transaction in pending:
                    for name in ("teA", "teB", "teC", "teD", "teE", "teF", "teG"):
                        timer = getattr(transaction, name, None)
                        if timer is not None:
                            timer.cancel()
                manager.cp_timer.cancel()
                manager.l4r.shutdown()

        try:
            _on_loop(stop)
        except TransportError:
            log.warning("the SIP stack did not stop cleanly")

    def _contact(self) -> Any:
        # sippy's default Contact carries the display name "Anonymous"; some peers (SIPp's
        # [next_url]) copy the whole thing into their request line.
        contact = self._mods.contact.SipContact()
        contact.address.name = None
        return contact

    # -- incoming

    def _incoming(self, req: Any, sip_t: Any) -> Any:
        method = req.getMethod()
        if method == "OPTIONS":
            return (req.genResponse(200, "OK", server=self._user_agent), None, None)
        if method != "INVITE":
            return (req.genResponse(501, "Not Implemented", server=self._user_agent), None, None)
        if self._on_offer is None:
            return (req.genResponse(480, "Not Receiving", server=self._user_agent), None, None)
        dialog = Dialog(self, queue.Queue(), None)
        ua = self._mods.ua.UA(self._gc, event_cb=dialog._on_event)
        ua.local_ua = self._user_agent
        ua.lContact = self._contact()
        dialog._ua = ua
        self._on_offer(dialog)
        return ua.recvRequest(req, sip_t)


class Dialog:
    """One call's SIP dialog. Methods are safe from any thread; events arrive on ``events``."""

    def __init__(self, stack: SipStack, events: queue.Queue[DialogEvent], sdp: str | None):
        self.events = events
        self._stack = stack
        self._ua: Any = None
        self._connected = False
        self._updating = False  # our re-INVITE is in flight
        self._local_sdp = sdp  # the description in force (sippy may drop its copy)
        self._proposed: str | None = None
        self.call_id = ""

    # sippy's thread ---------------------------------------------------------------------

    def _on_event(self, event: Any, ua: Any) -> None:
        cc = self._stack._mods.cc
        self.call_id = str(ua.cId) if ua.cId is not None else self.call_id
        data = event.getData()
        log.debug("sip event %s %r", type(event).__name__, data)
        if isinstance(event, cc.CCEventTry):
            _cid, caller, called, body, _auth, _name = data
            self.events.put(Offered(_text(body), str(caller or ""), str(called or "")))
        elif isinstance(event, cc.CCEventRing):
            self.events.put(Ringing(int(data[0]) if data else 180))
        elif isinstance(event, cc.CCEventConnect):
            body = data[2] if len(data) > 2 else None
            if self._updating:
                self._updating = False
                self._local_sdp = self._proposed
                self.events.put(ReinviteAnswered(_text(body)))
            elif not self._connected:
                self._connected = True
                self.events.put(Answered(_text(body)))
        elif isinstance(event, cc.CCEventUpdate):
            self.events.put(RemoteReinvite(_text(data)))
        elif isinstance(event, cc.CCEventFail):
            code, reason = int(data[0]), str(data[1])
            if self._updating and self._connected:
                self._updating = False
                ua.lSDP = self._stack._mods.body.MsgBody(self._local_sdp)
                self.events.put(ReinviteRefused(code, reason))
            elif not self._connected:
                self.events.put(Refused(code, reason))
            else:
                self.events.put(Ended(True, f"{code} {reason}"))
        elif isinstance(event, cc.CCEventDisconnect):
            self.events.put(Ended(True, "BYE"))
        elif isinstance(event, cc.CCEventRedirect):
            code, reason = int(data[0]), str(data[1])
            self.events.put(Refused(code, f"{reason} (redirects are not followed)"))

    # any thread ---------------------------------------------------------------------------

    def accept(self, sdp: str) -> None:
        """Answer an offer or a re-INVITE with 200 and ``sdp``."""
        mods = self._stack._mods

        def send() -> None:
            self._local_sdp = sdp
            self._connected = True
            self._ua.recvEvent(mods.cc.CCEventConnect((200, "OK", mods.body.MsgBody(sdp))))

        _post(send)

    def refuse(self, code: int, reason: str) -> None:
        """Refuse an offer or a re-INVITE."""
        mods = self._stack._mods

        def send() -> None:
            self._ua.recvEvent(mods.cc.CCEventFail((code, reason)))
            if self._connected and self._local_sdp is not None:
                self._ua.lSDP = mods.body.MsgBody(self._local_sdp)

        _post(send)

    def ring(self) -> None:
        """Send 180 Ringing on an incoming call."""
        mods = self._stack._mods
        _post(lambda: self._ua.recvEvent(mods.cc.CCEventRing((180, "Ringing", None))))

    def reinvite(self, sdp: str) -> None:
        """Send a re-INVITE offering ``sdp`` (answers arrive as events)."""
        mods = self._stack._mods

        def send() -> None:
            self._updating = True
            self._proposed = sdp
            self._ua.recvEvent(mods.cc.CCEventUpdate(mods.body.MsgBody(sdp), origin="faxout"))

        _post(send)

    def hang_up(self) -> None:
        """BYE when connected, CANCEL while ringing; idempotent."""
        mods = self._stack._mods

        def send() -> None:
            if self._ua is not None and not self._ua.isDead():
                self._ua.recvEvent(mods.cc.CCEventDisconnect(origin="faxout"))

        _post(send)


def glare_delay(owner: bool) -> float:
    """RFC 3261 §14.1: after a 491, wait 2.1–4 s if we own the Call-ID, else 0–2 s."""
    # Timing jitter, not security.
    return random.uniform(2.1, 4.0) if owner else random.uniform(0.0, 2.0)  # noqa: S311


def _text(body: Any) -> str | None:
    if body is None:
        return None
    return str(body)
