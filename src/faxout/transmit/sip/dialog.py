"""One call's SIP dialog, and the plain values it hands to the call's thread.

What happens in a dialog (sippy's events, on sippy's thread) becomes a ``DialogEvent`` on a
``queue.Queue`` that the call's own thread reads; the thread answers through ``Dialog``'s
methods, which marshal onto sippy's thread.
"""

from __future__ import annotations

import logging
import queue
import random
from dataclasses import dataclass
from typing import Any

from faxout.transmit.sip.sippyloop import Modules, post

log = logging.getLogger("faxout.transmit.sip")


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
    called: str  # the request URI's user
    caller_name: str = ""
    to: str = ""  # the To header's user
    diversion: str = ""  # the first Diversion header's user: the number first dialled

    @property
    def dialled(self) -> str:
        """The number the sender dialled: the Diversion header's when the call was forwarded,
        else the To header's when it holds digits, else the request URI's (a trunk that
        calls our registered contact may put only its own name there)."""
        if any(c.isdigit() for c in self.diversion):
            return self.diversion
        if any(c.isdigit() for c in self.to):
            return self.to
        return self.called


@dataclass(frozen=True)
class Ended:
    """The dialog is over: ``by_remote`` when the far end sent BYE (or CANCEL)."""

    by_remote: bool
    reason: str


DialogEvent = (
    Ringing | Answered | Refused | ReinviteAnswered | ReinviteRefused | RemoteReinvite
) | (Offered | Ended)


class Dialog:
    """One call's SIP dialog. Methods are safe from any thread; events arrive on ``events``."""

    def __init__(self, mods: Modules, events: queue.Queue[DialogEvent], sdp: str | None):
        self.events = events
        self._mods = mods
        self._ua: Any = None
        self._connected = False
        self._updating = False  # our re-INVITE is in flight
        self._local_sdp = sdp  # the description in force (sippy may drop its copy)
        self._proposed: str | None = None
        self.call_id = ""
        self.invite_to = ""  # set by the stack from the INVITE (sippy's event lacks them)
        self.invite_diversion = ""

    # sippy's thread ---------------------------------------------------------------------

    def _on_event(self, event: Any, ua: Any) -> None:
        cc = self._mods.cc
        self.call_id = str(ua.cId) if ua.cId is not None else self.call_id
        data = event.getData()
        log.debug("sip event %s %r", type(event).__name__, data)
        if isinstance(event, cc.CCEventTry):
            _cid, caller, called, body, _auth, name = data
            self.events.put(
                Offered(
                    _text(body),
                    str(caller or ""),
                    str(called or ""),
                    str(name or ""),
                    self.invite_to,
                    self.invite_diversion,
                )
            )
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
                ua.lSDP = self._mods.body.MsgBody(self._local_sdp)
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
        mods = self._mods

        def send() -> None:
            self._local_sdp = sdp
            self._connected = True
            self._ua.recvEvent(mods.cc.CCEventConnect((200, "OK", mods.body.MsgBody(sdp))))

        post(send)

    def refuse(self, code: int, reason: str) -> None:
        """Refuse an offer or a re-INVITE."""
        mods = self._mods

        def send() -> None:
            self._ua.recvEvent(mods.cc.CCEventFail((code, reason)))
            if self._connected and self._local_sdp is not None:
                self._ua.lSDP = mods.body.MsgBody(self._local_sdp)

        post(send)

    def ring(self) -> None:
        """Send 180 Ringing on an incoming call."""
        mods = self._mods
        post(lambda: self._ua.recvEvent(mods.cc.CCEventRing((180, "Ringing", None))))

    def reinvite(self, sdp: str) -> None:
        """Send a re-INVITE offering ``sdp`` (answers arrive as events)."""
        mods = self._mods

        def send() -> None:
            self._updating = True
            self._proposed = sdp
            self._ua.recvEvent(mods.cc.CCEventUpdate(mods.body.MsgBody(sdp), origin="faxout"))

        post(send)

    def hang_up(self) -> None:
        """BYE when connected, CANCEL while ringing; idempotent."""
        mods = self._mods

        def send() -> None:
            if self._ua is not None and not self._ua.isDead():
                self._ua.recvEvent(mods.cc.CCEventDisconnect(origin="faxout"))

        post(send)


def glare_delay(owner: bool) -> float:
    """RFC 3261 §14.1: after a 491, wait 2.1–4 s if we own the Call-ID, else 0–2 s."""
    # Timing jitter, not security.
    return random.uniform(2.1, 4.0) if owner else random.uniform(0.0, 2.0)  # noqa: S311


def _text(body: Any) -> str | None:
    if body is None:
        return None
    return str(body)
