"""Settings of the SIP transport (``transmit.sip``) and of the receiver."""

from __future__ import annotations

import re
import socket
from typing import TYPE_CHECKING

from pydantic import BaseModel, Field, SecretStr, field_validator

from faxout.transmit.law import Law
from faxout.transmit.sip.modes import T38Mode

if TYPE_CHECKING:  # the SIP stack and numpy load when a call is made, not with the settings
    from faxout.transmit.sip.media import MediaImpairment
    from faxout.transmit.sip.stack import Credentials

# G.711 fax audio is played out through a fixed buffer this deep. A gap in the received audio is
# silence inside a modem signal, which loses the page, so the buffer must outlast a stall of the
# far end (a GC pause, a busy host, a VM's stolen time), not only network jitter; fax is
# indifferent to the delay, T.30 allowing seconds per response.
JITTER_BUFFER_MS = 300


def playout_frames(ms: int) -> int:
    """A playout buffer of ``ms`` in 20 ms RTP frames."""
    return round(ms / 20)


_HOSTPORT = re.compile(r"^\[?(?P<host>[A-Za-z0-9.\-:]+?)\]?(:(?P<port>\d{1,5}))?$")


def split_hostport(value: str, default_port: int = 5060, any_port: bool = False) -> tuple[str, int]:
    """``host[:port]`` → ``(host, port)``; ``ValueError`` naming the problem.

    ``any_port`` admits port 0 (a local address where any free port will do)."""
    match = _HOSTPORT.match(value.strip())
    if not match:
        raise ValueError(f"'{value}' is not host[:port]")
    port = int(match.group("port") or default_port)
    if not (0 if any_port else 1) <= port <= 65535:
        raise ValueError(f"port {port} in '{value}' is out of range")
    return match.group("host"), port


class Impairment(BaseModel):
    """Degrade what we send (diagnostics and fault tests only; leave at 0 in production)."""

    loss: float = Field(0.0, ge=0.0, lt=1.0, description="fraction of datagrams dropped")
    jitter_ms: float = Field(0.0, ge=0.0, le=500.0, description="random extra delay")
    seed: int = 0

    def media(self) -> MediaImpairment | None:
        """The media-layer form, or None when nothing is impaired."""
        if not self.loss and not self.jitter_ms:
            return None
        from faxout.transmit.sip.media import MediaImpairment

        return MediaImpairment(self.loss, self.jitter_ms, self.seed)


class SipConfig(BaseModel):
    """Where faxes go out over SIP and how (``transmit.sip`` in the settings)."""

    proxy: str = Field(
        "127.0.0.1:5060", description="outbound proxy or trunk, host[:port]; INVITEs go here"
    )
    username: str | None = Field(None, description="digest user name for 401/407 challenges")
    password: SecretStr = Field(SecretStr(""), description="digest password")
    registration: bool = Field(False, description="REGISTER with the proxy before calling")
    caller_id: str | None = Field(None, description="From user; None: the username or 'faxout'")
    local_address: str | None = Field(
        None, description="our address in SIP and SDP; None: the one that routes to the proxy"
    )
    local_port: int = Field(0, ge=0, le=65535, description="SIP port; 0: any free port")
    e164_plus: bool = Field(True, description="dial E.164 numbers with their +; False: digits")
    laws: tuple[Law, ...] = Field((Law.ALAW, Law.ULAW), min_length=1, description="G.711 order")
    t38: T38Mode = Field(T38Mode.ACCEPT, description="off | accept | request")
    t38_request_delay: float = Field(1.0, ge=0, le=30, description="seconds before our re-INVITE")
    t38_redundancy: int = Field(3, ge=0, le=8, description="earlier IFPs repeated per datagram")
    jitter_buffer_ms: int = Field(
        JITTER_BUFFER_MS,
        ge=60,
        le=2000,
        description="fixed playout buffer for G.711 audio; it must outlast the far end's stalls",
    )
    lines: int | None = Field(
        None, ge=1, le=1000, description="calls the trunk allows at once; None: transmit.lines"
    )
    ring_seconds: float = Field(60.0, gt=0, le=300, description="give up ringing after")
    receive: bool = Field(
        False, description="answer calls to us and store them as received faxes (docs/inbound.md)"
    )
    receive_port: int = Field(
        5080, ge=0, le=65535, description="UDP port the receiver answers on (0: any free port)"
    )
    impairment: Impairment = Field(default_factory=Impairment)

    @field_validator("proxy")
    @classmethod
    def _valid_proxy(cls, value: str) -> str:
        split_hostport(value)
        return value

    def jitter_frames(self) -> int:
        """``jitter_buffer_ms`` in 20 ms frames."""
        return playout_frames(self.jitter_buffer_ms)

    def target(self) -> tuple[str, int]:
        """The proxy's host and port."""
        return split_hostport(self.proxy)

    def caller(self) -> str:
        """Our From user (and the user we REGISTER): caller_id, else username, else faxout."""
        return self.caller_id or self.username or "faxout"

    def credentials(self) -> Credentials | None:
        """Digest credentials, when a username is configured."""
        if not self.username:
            return None
        from faxout.transmit.sip.stack import Credentials

        return Credentials(self.username, self.password.get_secret_value())

    def our_address(self) -> str:
        """``local_address``, or the address the kernel would use to reach the proxy."""
        if self.local_address:
            return self.local_address
        host, port = self.target()
        try:
            with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
                probe.connect((host, port))  # UDP connect sends nothing; it only picks a route
                return str(probe.getsockname()[0])
        except OSError:
            return "127.0.0.1"
