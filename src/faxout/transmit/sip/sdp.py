"""The two session descriptions a fax call needs: G.711 audio on RTP, and T.38 on UDPTL.

We only ever offer or answer one active media stream, so the parser reads the first ``m=`` line
with a non-zero port and the attributes that follow it. Anything it cannot use is named in an
``SdpError`` (mapped to a 488 or a failed call by the caller).
"""

from __future__ import annotations

import enum
import itertools
import time
from dataclasses import dataclass, field

from faxout.transmit.g711 import Law

PCMU, PCMA = 0, 8
_LAW_PT = {Law.ULAW: PCMU, Law.ALAW: PCMA}
_PT_LAW = {PCMU: Law.ULAW, PCMA: Law.ALAW}
_session_ids = itertools.count(int(time.time()))


class SdpError(ValueError):
    """A session description we cannot use; the message says why."""


class MediaKind(enum.StrEnum):
    """What a description carries."""

    AUDIO = "audio"
    T38 = "t38"


@dataclass(frozen=True)
class T38Params:
    """The T.38 attributes both ends agree on (RFC 4612 / T.38 Annex D names)."""

    version: int = 0
    max_bit_rate: int = 14400
    rate_management: str = "transferredTCF"
    max_buffer: int = 2000
    max_datagram: int = 400
    error_correction: str = "t38UDPRedundancy"

    def answer_to(self, offer: T38Params) -> T38Params:
        """What we answer to ``offer``: the lower version and rate, their datagram limit."""
        ec = offer.error_correction
        if ec not in ("t38UDPRedundancy", "t38UDPNoEC"):
            ec = "t38UDPRedundancy"  # we never send FEC; redundancy is the safe common ground
        return T38Params(
            version=min(self.version, offer.version),
            max_bit_rate=min(self.max_bit_rate, offer.max_bit_rate),
            rate_management="transferredTCF",
            max_buffer=self.max_buffer,
            max_datagram=offer.max_datagram,
            error_correction=ec,
        )


@dataclass(frozen=True)
class Media:
    """One parsed media stream: where to send, and in what form."""

    kind: MediaKind
    address: str
    port: int
    payload_types: tuple[int, ...] = ()
    t38: T38Params | None = None
    attributes: dict[str, str] = field(default_factory=dict)

    def law(self, preference: tuple[Law, ...]) -> Law:
        """The first of our preferred G.711 laws that the far end offers or answered."""
        for law in preference:
            if _LAW_PT[law] in self.payload_types:
                return law
        raise SdpError(
            "no common audio codec: the far end offers payload types "
            f"{list(self.payload_types)}, faxout needs PCMU (0) or PCMA (8)"
        )


@dataclass
class LocalSdp:
    """Our side of the session: the origin line's id and version, which must grow on change."""

    address: str
    session_id: int = field(default_factory=lambda: next(_session_ids))
    version: int = 0

    def audio(self, port: int, laws: tuple[Law, ...]) -> str:
        """An audio description offering (or answering with) ``laws`` in order."""
        pts = " ".join(str(_LAW_PT[law]) for law in laws)
        rtpmaps = "".join(f"a=rtpmap:{_LAW_PT[law]} {_rtpmap(law)}/8000\r\n" for law in laws)
        return self._head() + (
            f"m=audio {port} RTP/AVP {pts}\r\n{rtpmaps}a=ptime:20\r\na=sendrecv\r\n"
        )

    def t38(self, port: int, params: T38Params) -> str:
        """A T.38 description on UDPTL."""
        return self._head() + (
            f"m=image {port} udptl t38\r\n"
            f"a=T38FaxVersion:{params.version}\r\n"
            f"a=T38MaxBitRate:{params.max_bit_rate}\r\n"
            f"a=T38FaxRateManagement:{params.rate_management}\r\n"
            f"a=T38FaxMaxBuffer:{params.max_buffer}\r\n"
            f"a=T38FaxMaxDatagram:{params.max_datagram}\r\n"
            f"a=T38FaxUdpEC:{params.error_correction}\r\n"
        )

    def _head(self) -> str:
        self.version += 1
        return (
            "v=0\r\n"
            f"o=faxout {self.session_id} {self.version} IN IP4 {self.address}\r\n"
            "s=faxout\r\n"
            f"c=IN IP4 {self.address}\r\n"
            "t=0 0\r\n"
        )


def _rtpmap(law: Law) -> str:
    return "PCMU" if law is Law.ULAW else "PCMA"


def parse(text: str) -> Media:
    """The first active media stream of ``text`` (audio or T.38), or ``SdpError``."""
    session_address: str | None = None
    media: list[tuple[str, int, str, list[str], str | None, dict[str, str]]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if len(line) < 2 or line[1] != "=":
            continue
        kind, value = line[0], line[2:].strip()
        if kind == "c":
            address = _connection_address(value)
            if media:
                m_kind, m_port, proto, fmts, _, attrs = media[-1]
                media[-1] = (m_kind, m_port, proto, fmts, address, attrs)
            else:
                session_address = address
        elif kind == "m":
            parts = value.split()
            if len(parts) < 4 or not parts[1].split("/")[0].isdigit():
                raise SdpError(f"malformed media line 'm={value}'")
            media.append((parts[0], int(parts[1].split("/")[0]), parts[2], parts[3:], None, {}))
        elif kind == "a" and media:
            attr, _, attr_value = value.partition(":")
            media[-1][5][attr.strip().lower()] = attr_value.strip()
    for kind_name, port, proto, fmts, media_address, attrs in media:
        if port == 0:
            continue  # a declined stream
        found = media_address or session_address
        if found is None:
            raise SdpError("the session description has no connection address (c=)")
        if kind_name == "audio" and proto.upper().startswith("RTP/AVP"):
            pts = tuple(int(f) for f in fmts if f.isdigit())
            return Media(MediaKind.AUDIO, found, port, payload_types=pts, attributes=attrs)
        if kind_name == "image" and proto.lower() == "udptl" and "t38" in (f.lower() for f in fmts):
            return Media(MediaKind.T38, found, port, t38=_t38_params(attrs), attributes=attrs)
    offered = ", ".join(f"{m[0]} {m[2]}" for m in media) or "nothing"
    raise SdpError(f"no usable media stream (offered: {offered}); faxout takes G.711 or T.38")


def audio_law(payload_type: int) -> Law | None:
    """The G.711 law of an RTP payload type, or None."""
    return _PT_LAW.get(payload_type)


def _connection_address(value: str) -> str:
    parts = value.split()
    if len(parts) < 3 or parts[0] != "IN" or parts[1] not in ("IP4", "IP6"):
        raise SdpError(f"malformed connection line 'c={value}'")
    return parts[2].split("/")[0]


def _t38_params(attrs: dict[str, str]) -> T38Params:
    def number(name: str, default: int) -> int:
        value = attrs.get(name.lower(), "")
        return int(value) if value.isdigit() else default

    base = T38Params()
    return T38Params(
        version=number("T38FaxVersion", base.version),
        max_bit_rate=number("T38MaxBitRate", base.max_bit_rate),
        rate_management=attrs.get("t38faxratemanagement", base.rate_management),
        max_buffer=number("T38FaxMaxBuffer", base.max_buffer),
        max_datagram=number("T38FaxMaxDatagram", base.max_datagram),
        error_correction=attrs.get("t38faxudpec", "t38UDPNoEC"),
    )
