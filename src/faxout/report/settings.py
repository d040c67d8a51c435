"""Report settings: the ``report`` section of the main settings (``FAXOUT_REPORT__…``)."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field, model_validator


class Smtp(BaseModel):
    """The relay reports go through. No host (the embedded default): Maildir in DATA_DIR/outbox."""

    host: str = Field("", description="relay host name; empty: write reports to DATA_DIR/outbox")
    port: int = Field(0, ge=0, le=65535, description="0: 465 for security=tls, else 587")
    security: Literal["starttls", "tls", "none"] = Field(
        "starttls", description="STARTTLS (required), implicit TLS, or plain (local relays only)"
    )
    username: str = Field("", description="AUTH user; empty: no AUTH")
    # A plain str (kept out of repr): `serve --workers N` hands the settings to its worker
    # processes as JSON, where a SecretStr would arrive masked.
    password: str = Field("", repr=False)
    timeout: float = Field(30.0, gt=0, description="seconds for connect and each command")
    validate_certs: bool = True
    ca_file: Path | None = Field(None, description="PEM bundle to trust instead of the system's")

    @property
    def port_in_force(self) -> int:
        """The port to connect to."""
        if self.port:
            return self.port
        return 465 if self.security == "tls" else 587


class AccountReport(BaseModel):
    """Per-account overrides, keyed by username in ``report.accounts``."""

    privacy: bool | None = None
    attempt_notices: bool | None = None


class Report(BaseModel):
    """Delivery reports by email."""

    enabled: bool = Field(True, description="send reports at all")
    from_address: str = Field("faxout@localhost", description="envelope and From: address")
    from_name: str = Field("Fax gateway", description="From: display name")
    smtp: Smtp = Smtp()
    privacy: bool = Field(
        False, description="no page images, no recipient names, no file names (for PHI)"
    )
    attempt_notices: bool = Field(
        False, description="also mail a notice after each failed attempt that will be retried"
    )
    accounts: dict[str, AccountReport] = Field(
        default_factory=dict, description="per-username overrides of privacy/attempt_notices"
    )
    thumbnail_width: int = Field(300, ge=50, le=1728, description="page-1 image width (px)")
    attach_pdf_on_failure: bool = Field(True, description="attach the fax as PDF on failure")
    retry_initial: timedelta = Field(timedelta(minutes=1), description="first backoff")
    retry_max: timedelta = Field(timedelta(hours=1), description="longest backoff")
    give_up_after: timedelta = Field(
        timedelta(days=3), description="a report the relay never accepted is failed after this"
    )
    lease_seconds: float = Field(
        300.0, ge=5, description="a sender that died mid-send is replaced after this"
    )
    interval: float = Field(5.0, gt=0, description="seconds between outbox passes")
    catch_up_window: timedelta = Field(
        timedelta(days=2),
        description="jobs sent within this window are checked for a report that was never queued",
    )

    @model_validator(mode="after")
    def _positive(self) -> Report:
        for name in ("retry_initial", "retry_max", "give_up_after", "catch_up_window"):
            if getattr(self, name) <= timedelta(0):
                raise ValueError(f"{name} must be positive")
        return self

    def privacy_for(self, username: str) -> bool:
        """Whether ``username``'s reports leave out images, names and file names."""
        override = self.accounts.get(username)
        if override is not None and override.privacy is not None:
            return override.privacy
        return self.privacy

    def notices_for(self, username: str) -> bool:
        """Whether ``username`` gets a notice after each retried attempt."""
        override = self.accounts.get(username)
        if override is not None and override.attempt_notices is not None:
            return override.attempt_notices
        return self.attempt_notices

    def any_notices(self) -> bool:
        """Whether any account may get per-attempt notices (else the notice scan is skipped)."""
        return self.attempt_notices or any(a.attempt_notices for a in self.accounts.values())
