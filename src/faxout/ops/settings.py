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
from typing import Any

from pydantic import BaseModel, Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from faxout.accounts.settings import Auth
from faxout.errors import ConfigError
from faxout.inbound.settings import Inbound
from faxout.intake.console.settings import ConsoleSettings
from faxout.intake.settings import ApiLimits, Http, Limits
from faxout.jobs.retry import RetryPolicy
from faxout.render.settings import Render
from faxout.report.settings import Report
from faxout.transmit.settings import Header, Transmit
from faxout.webhooks.settings import Webhooks


class Runtime(BaseModel):
    """The background workers inside ``faxout serve`` (and ``faxout worker``)."""

    consumer_threads: int = Field(0, ge=0, description="0: lines + 2")
    render_workers: int = Field(0, ge=0, description="render processes; 0: one per core")
    dispatch_interval: float = Field(1.0, gt=0)
    reconcile_interval: float = Field(5.0, gt=0)
    requeue_after: float = Field(120.0, gt=0, description="re-enqueue a job queued this long")


class Metrics(BaseModel):
    """``/metrics``: Prometheus metrics on the HTTP port (``faxout.ops.metrics``)."""

    enabled: bool = Field(True, description="serve /metrics (no FaxOut credentials needed)")
    token: str = Field(
        "",
        repr=False,
        description="non-empty: /metrics answers only with Authorization: Bearer TOKEN",
    )

    @field_validator("token")
    @classmethod
    def _token(cls, value: str) -> str:
        # It travels in a header: printable ASCII, no spaces, and long enough not to be guessed.
        if value and not (value.isascii() and value.isprintable() and " " not in value):
            raise ValueError("must be printable ASCII without spaces")
        if value and len(value) < 16:
            raise ValueError("must be at least 16 characters (or empty: no token)")
        return value


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
    api: ApiLimits = ApiLimits()
    auth: Auth = Auth()
    transmit: Transmit = Transmit()
    render: Render = Render()
    runtime: Runtime = Runtime()
    retry: RetryPolicy = RetryPolicy()
    report: Report = Report()
    header: Header = Header()
    metrics: Metrics = Metrics()
    webhooks: Webhooks = Webhooks()
    console: ConsoleSettings = ConsoleSettings()
    inbound: Inbound = Inbound()

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
    def console_base(self) -> str:
        """The console's address in mails: ``inbound.console_url``, else this server's own."""
        if self.inbound.console_url:
            return self.inbound.console_url.rstrip("/")
        # a wildcard address is where we listen, not an address to open: use loopback
        wildcard = ("", "0.0.0.0", "::")  # noqa: S104
        host = "127.0.0.1" if self.host in wildcard else self.host
        host = f"[{host}]" if ":" in host else host
        return f"{'https' if self.tls_cert else 'http'}://{host}:{self.port}"

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
