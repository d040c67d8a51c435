"""Typed settings: embedded defaults, then an optional TOML file, then ``FAXOUT_*`` variables.

Precedence (highest first): keyword arguments (CLI flags) > environment (``FAXOUT_PORT=…``;
nested values with ``__``, e.g. ``FAXOUT_LIMITS__MAX_RECIPIENTS=20``) > the TOML file named by
``FAXOUT_CONFIG`` (or ``--config``) > the defaults below. Every default lets ``faxout serve`` run
with no configuration at all.
"""

from __future__ import annotations

import ipaddress
import os
import tomllib
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from faxout import timezones
from faxout.errors import ConfigError
from faxout.jobs.retry import RetryPolicy
from faxout.render import tagline
from faxout.report.settings import Report
from faxout.transmit.dialrules import DialRules
from faxout.transmit.hylafax import HylaFaxConfig
from faxout.transmit.sip.config import SipConfig

if TYPE_CHECKING:
    from faxout.render.options import RenderOptions
    from faxout.render.pool import WorkerLimits


class Limits(BaseModel):
    """What one FaxOut request may carry; anything over a limit is answered ``5``."""

    max_body_bytes: int = Field(50 * 1024 * 1024, ge=1024)
    max_recipients: int = Field(100, ge=1)
    max_attachments: int = Field(50, ge=1)
    max_cover_text_chars: int = Field(10_000, ge=0)
    max_field_bytes: int = Field(64 * 1024, ge=256, description="one non-file field")
    max_parts: int = Field(1000, ge=2, description="all parts of one multipart body")
    max_drain_bytes: int = Field(
        1024 * 1024 * 1024,
        ge=0,
        description="an oversized body is read and discarded up to this many bytes so the "
        "client can read the answer; past it the connection is closed",
    )


class Http(BaseModel):
    """What the HTTP server allows a connection before any request reaches the endpoint
    (enforced by ``faxout.intake.edge``; see docs/security.md, "Requests")."""

    max_header_bytes: int = Field(
        16 * 1024, ge=1024, le=1024 * 1024, description="request line and headers together"
    )
    max_headers: int = Field(100, ge=8, description="header fields in one request")
    header_timeout: float = Field(
        10.0, gt=0, description="seconds from connecting (or a request's first byte) to its end"
    )
    body_timeout: float = Field(
        20.0, gt=0, description="seconds a body may go without a byte, and its head start"
    )
    body_min_rate: int = Field(
        1024, ge=1, description="bytes/s a body must average beyond body_timeout's head start"
    )
    keep_alive_timeout: float = Field(5.0, gt=0, description="idle seconds between requests")
    max_connections: int = Field(1000, ge=2, description="open connections per HTTP worker")
    max_connections_per_address: int = Field(
        50, ge=0, description="per client address (IPv6: per /64) and worker; 0: no cap"
    )


class Auth(BaseModel):
    """Password hashing and login throttling."""

    # OWASP's argon2id baseline (19 MiB, 2 passes, 1 lane): ~50 ms a check on one core.
    argon2_time_cost: int = Field(2, ge=1)
    argon2_memory_kib: int = Field(19 * 1024, ge=8)
    argon2_parallelism: int = Field(1, ge=1)
    cache_seconds: float = Field(300.0, ge=0, description="reuse a successful verification")
    cache_entries: int = Field(10_000, ge=0)
    account_cache_seconds: float = Field(
        2.0, ge=0, description="reuse an account row; changes apply within this time"
    )
    throttle_failures: int = Field(10, ge=1, description="failures that lock a username+address")
    throttle_window_seconds: float = Field(600.0, gt=0)
    throttle_lock_seconds: float = Field(300.0, ge=0)


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


class Render(BaseModel):
    """Rendering: the converter jail and the budgets no sender can exceed (docs/security.md)."""

    sandbox: bool = Field(
        True,
        description="jail every converter with bubblewrap (false: unconfined, not recommended)",
    )
    document_seconds: float = Field(120.0, gt=0, description="one document's time limit")
    submission_seconds: float = Field(
        300.0, gt=0, description="all documents of one submission together"
    )
    max_pages: int = Field(500, ge=1, description="pages of one submission, all documents")
    worker_memory_mb: int = Field(2048, ge=256, description="address space of a render worker")
    converter_memory_mb: int = Field(
        2048, ge=256, description="address space of each Ghostscript or LibreOffice process"
    )
    max_file_mb: int = Field(1024, ge=16, description="the largest file a converter may write")

    def options(self) -> RenderOptions:
        """The render options these settings give (per-submission values are set later)."""
        from faxout.render.options import RenderOptions  # the renderer loads only when used

        return RenderOptions(
            timeout_s=self.document_seconds,
            submission_timeout_s=self.submission_seconds,
            max_pages=self.max_pages,
        )

    def worker_limits(self) -> WorkerLimits:
        """The jailed render workers' limits."""
        from faxout.render.pool import WorkerLimits

        return WorkerLimits(
            memory_mb=self.worker_memory_mb,
            converter_memory_mb=self.converter_memory_mb,
            file_mb=self.max_file_mb,
        )


class Runtime(BaseModel):
    """The background workers inside ``faxout serve`` (and ``faxout worker``)."""

    consumer_threads: int = Field(0, ge=0, description="0: lines + 2")
    render_workers: int = Field(0, ge=0, description="render processes; 0: one per core")
    dispatch_interval: float = Field(1.0, gt=0)
    reconcile_interval: float = Field(5.0, gt=0)
    requeue_after: float = Field(120.0, gt=0, description="re-enqueue a job queued this long")


class Settings(BaseSettings):
    """All of faxout's configuration."""

    model_config = SettingsConfigDict(
        env_prefix="FAXOUT_",
        env_nested_delimiter="__",
        extra="forbid",
        validate_default=True,
    )

    data_dir: Path = Field(Path("var"), description="database, documents, received faxes")
    database_url: str = Field("", description="default: SQLite in the data directory")
    host: str = "127.0.0.1"
    port: int = Field(8080, ge=0, le=65535)
    workers: int = Field(1, ge=1, le=64, description="HTTP worker processes")
    tls_cert: Path | None = None
    tls_key: Path | None = None
    trusted_proxies: list[str] = Field(
        default_factory=list,
        description="reverse proxies (IP addresses or CIDR networks) whose X-Forwarded-For is "
        "believed; empty: the client address is always the TCP peer",
    )
    log_level: str = "INFO"
    log_format: str = Field("text", pattern="^(text|json)$")
    coverpages_dir: Path | None = Field(None, description="default: DATA_DIR/coverpages")
    demo_account: bool = Field(True, description="create a demo account when there is none")
    auto_migrate: bool = Field(True, description="bring the database schema up to date on start")
    queue_url: str = Field("", description="task queue: sqlite:///… (default) or redis://…")
    store_url: str = Field(
        "", description="documents: DATA_DIR/documents (default), file:///shared/dir, s3://bucket"
    )
    limits: Limits = Limits()
    http: Http = Http()
    auth: Auth = Auth()
    transmit: Transmit = Transmit()
    render: Render = Render()
    runtime: Runtime = Runtime()
    retry: RetryPolicy = RetryPolicy()
    report: Report = Report()
    header: Header = Header()

    @field_validator("trusted_proxies")
    @classmethod
    def _networks(cls, value: list[str]) -> list[str]:
        # A typo must stop faxout rather than silently trust nobody (or everybody).
        for entry in value:
            try:
                ipaddress.ip_network(entry.strip())
            except ValueError as exc:
                raise ValueError(f"{entry!r} is not an IP address or CIDR network") from exc
        return [entry.strip() for entry in value]

    @field_validator("log_level")
    @classmethod
    def _level(cls, value: str) -> str:
        level = value.upper()
        if level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise ValueError("must be one of DEBUG, INFO, WARNING, ERROR")
        return level

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        config = os.environ.get("FAXOUT_CONFIG")
        if config:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(config)))
        return tuple(sources)

    @property
    def db_url(self) -> str:
        """The SQLAlchemy URL in force."""
        return self.database_url or f"sqlite:///{self.data_dir / 'faxout.db'}"

    @property
    def queue(self) -> str:
        """The task-queue URL in force."""
        return self.queue_url or f"sqlite:///{self.data_dir / 'queue.db'}"

    @property
    def store_dir(self) -> Path:
        """Where the local document store keeps blobs."""
        return self.data_dir / "documents"

    @property
    def spool_dir(self) -> Path:
        """Where uploads stream to before they are stored (same filesystem as the store)."""
        return self.data_dir / "spool"

    @property
    def coverpages_path(self) -> Path:
        """Where installed cover pages live (one file per cover page, named by its stem)."""
        return self.coverpages_dir or self.data_dir / "coverpages"


def load_settings(config_file: Path | None = None, **overrides: Any) -> Settings:
    """Build the settings, raising ``ConfigError`` that names each bad value."""
    previous = os.environ.get("FAXOUT_CONFIG")
    try:
        if config_file is not None:
            if not config_file.is_file():
                raise ConfigError(f"config file {config_file} does not exist")
            os.environ["FAXOUT_CONFIG"] = str(config_file)
        elif previous and not Path(previous).is_file():
            raise ConfigError(f"FAXOUT_CONFIG names {previous}, which does not exist")
        clean = {k: v for k, v in overrides.items() if v is not None}
        return Settings(**clean)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc']) or 'settings'}: {err['msg']}"
            for err in exc.errors()
        )
        raise ConfigError(f"invalid configuration: {problems}") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"config file is not valid TOML: {exc}") from exc
    finally:
        if config_file is not None:
            if previous is None:
                os.environ.pop("FAXOUT_CONFIG", None)
            else:
                os.environ["FAXOUT_CONFIG"] = previous
