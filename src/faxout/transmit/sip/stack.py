"""``SipStack``: one SIP endpoint (UDP) on sippy's event thread, placing and taking calls.

Each call becomes a ``Dialog`` (``dialog.py``) whose events the call's own thread reads; sippy
itself lives on its loop thread (``sippyloop.py``), with the defects faxout works around
patched in ``fixes.py`` and described in docs/sip.md.
"""

from __future__ import annotations

import logging
import queue
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from faxout.errors import TransportError
from faxout.transmit.sip.dialog import Dialog, DialogEvent
from faxout.transmit.sip.fixes import manager_class, ua_class
from faxout.transmit.sip.sippyloop import Modules, WireLog, on_loop, start_loop

log = logging.getLogger("faxout.transmit.sip")


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
        self._mods: Modules = start_loop()
        self._gc: dict[str, Any] = {
            "_sip_address": address,
            "_sip_port": port,
            "_sip_logger": WireLog(),
        }
        self._registrations: list[Any] = []

        def build() -> int:
            manager = manager_class(self._mods)(self._gc, self._incoming)
            self._gc["_sip_tm"] = manager
            server = manager.l4r.getServer((address, port), is_local=True)
            return int(server.uopts.laddress[1])

        try:
            self.port: int = on_loop(build)
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
        dialog = Dialog(self._mods, events, sdp)
        mods = self._mods

        def start() -> None:
            ua = ua_class(mods)(
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

        on_loop(start)
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

        on_loop(send)
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

        on_loop(start)
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
            on_loop(stop)
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
        dialog = Dialog(self._mods, queue.Queue(), None)
        ua = self._mods.ua.UA(self._gc, event_cb=dialog._on_event)
        ua.local_ua = self._user_agent
        ua.lContact = self._contact()
        dialog._ua = ua
        dialog.invite_to = _header_user(req, "to")
        dialog.invite_diversion = _header_user(req, "diversion")
        self._on_offer(dialog)
        return ua.recvRequest(req, sip_t)


def _header_user(req: Any, name: str) -> str:
    """The user part of the first ``name`` header's URI, or "" (absent or unparsable)."""
    try:
        if not req.countHFs(name):
            return ""
        return str(req.getHFBody(name).getUrl().username or "")
    except Exception:  # sippy parses lazily: a malformed header raises here, not earlier
        return ""
