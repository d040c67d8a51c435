"""Settings of sending (``transmit``, ``header``): lines, caps, leases, the transports' own
sections and the header line. Light on purpose: loading the settings must not load a modem."""

from __future__ import annotations

from pydantic import BaseModel, Field, SecretStr, field_validator

from faxout import timezones
from faxout.render import tagline
from faxout.transmit.dialrules import DialRules
from faxout.transmit.sip.config import SipConfig


class HylaFaxConfig(BaseModel):
    """Where the HylaFAX server is and how to use it (``transmit.hylafax`` in the settings)."""

    host: str = Field("127.0.0.1", description="hfaxd host (it has no TLS: keep it local)")
    port: int = Field(4559, ge=1, le=65535, description="hfaxd client-protocol port")
    user: str = Field("faxout", min_length=1, description="login name (hosts.hfaxd)")
    password: SecretStr = Field(SecretStr(""), description="empty: the entry needs none")
    modem: str | None = Field(None, description="pin jobs to this modem or class (JPARM MODEM)")
    lines: int | None = Field(
        None, ge=1, le=1000, description="calls at once (HylaFAX's modems); None: transmit.lines"
    )
    poll_interval: float = Field(2.0, gt=0, le=60, description="seconds between job polls")
    connect_timeout: float = Field(10.0, gt=0, description="seconds for connect and login")
    command_timeout: float = Field(30.0, gt=0, description="seconds for one reply")
    job_timeout: float = Field(
        3600.0,
        ge=60,
        description="seconds an attempt may take, waiting for a modem included; HylaFAX kills "
        "the job at this time (LASTTIME) and we give up a minute later",
    )
    from_user: str = Field("faxout", description="FROMUSER of the jobs (HylaFAX logs)")
    receive: bool = Field(
        False, description="pick up the faxes HylaFAX receives (its recvq) into the inboxes"
    )
    receive_poll_interval: float = Field(
        5.0, gt=0, le=3600, description="seconds between looks at HylaFAX's received queue"
    )
    receive_delete: bool = Field(
        False,
        description="delete a queue file once its fax is stored (false: HylaFAX's faxcron "
        "ages it out, as with HylaFAX's own tools)",
    )
    admin_password: SecretStr = Field(
        SecretStr(""),
        description="hfaxd ADMIN password (hosts.hfaxd's 4th field): the received queue's "
        "files (mode 0600) and log/xferfaxlog are visible to an administrator only",
    )
    receive_did_field: int = Field(
        0,
        ge=0,
        le=9,
        description="which CallIDPattern of the receiving modem (1-based) holds the dialled "
        "number (DID); 0: the called number is the modem's FAXNumber",
    )


class Transmit(BaseModel):
    """Sending: lines, concurrency caps, leases. The embedded transport is the simulated line."""

    transport: str = Field("simline", pattern="^(simline|hylafax|sip)$")
    lines: int = Field(4, ge=1, le=1000, description="concurrent calls across all workers")
    per_number_calls: int = Field(1, ge=0, description="calls at once to one number (0: no cap)")
    lease_seconds: float = Field(30.0, ge=3, description="a dead worker's call is reclaimed after")
    redial_on_unknown: bool = Field(
        False, description="redial a job whose worker died mid-call (it may have been delivered)"
    )
    ident: str = Field(
        "",
        max_length=20,
        description="our fax identity (TSI); empty: each account's own number (+1 650 555 1234)",
    )
    medium: str = Field("audio", pattern="^(audio|t38)$", description="simulated line medium")
    dial: DialRules = DialRules()
    hylafax: HylaFaxConfig = HylaFaxConfig()
    sip: SipConfig = Field(default_factory=SipConfig)

    def line_count(self) -> int:
        """Calls at once: the chosen transport's own count when it has one, else ``lines``."""
        own = {"hylafax": self.hylafax.lines, "sip": self.sip.lines}.get(self.transport)
        return own if own is not None else self.lines


class Header(BaseModel):
    """The header line printed into the blank band at the top of every page sent."""

    enabled: bool = Field(True, description="print a header on every page")
    format: str = Field(
        tagline.DEFAULT_FORMAT,
        description="HylaFAX TagLineFormat: strftime codes, %%s %%n %%l %%r %%d %%P %%T %%C %%i",
    )
    time_zone: str = Field("", description="IANA zone of the header's time; empty: the server's")

    @field_validator("format")
    @classmethod
    def _format(cls, value: str) -> str:
        try:
            return tagline.validate(value)
        except tagline.TagLineError as exc:
            raise ValueError(str(exc)) from exc

    @field_validator("time_zone")
    @classmethod
    def _zone(cls, value: str) -> str:
        return timezones.validate(value) if value else ""
