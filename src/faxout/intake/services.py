"""What the HTTP intake works with, handed in by whoever starts it (``faxout.ops.serve``).

The intake knows nothing of the process around it: not the settings file, not the pipeline.
``Background`` is the one thing it calls back: ``accepted`` after a commit, so the new fax is
started on at once (in this process, or through the task queue by an API node).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

from sqlalchemy import Engine

from faxout.accounts.locks import LoginLocks
from faxout.accounts.repo import AccountRepo
from faxout.accounts.tokens import TokenRepo
from faxout.blobs.store import BlobStore
from faxout.clock import Clock
from faxout.intake.auth import Authenticator
from faxout.intake.console.settings import ConsoleSettings
from faxout.intake.overview import CheckFinding, LineState
from faxout.intake.settings import ApiLimits, Http, Limits
from faxout.jobs.lifecycle import Lifecycle
from faxout.jobs.repo import JobRepo
from faxout.webhooks.endpoints import Endpoints

if TYPE_CHECKING:
    from faxout.intake.sentpages import SentPages


class Background(Protocol):
    """Work that runs beside the HTTP app in the same process (``faxout.ops.runtime``)."""

    def start(self) -> None:
        """Start (in the app's lifespan, before the first request)."""

    def stop(self, timeout: float = 30.0) -> None:
        """Stop (when the server shuts down)."""

    def accepted(self, submission_id: int) -> None:
        """``submission_id`` was committed: start on it now."""


@dataclass(frozen=True)
class Api:
    """What the status API (``/api/v1``) works with besides the intake's own services."""

    tokens: TokenRepo
    accounts: AccountRepo
    jobs: JobRepo
    lifecycle: Lifecycle  # the state owner: cancel, retry
    webhooks: Endpoints
    pages: SentPages | None = None  # page images and PDF; None: those routes answer 404
    locks: LoginLocks | None = None  # the login locks on record; None: the admin shows none


@dataclass(frozen=True)
class Intake:
    """The services and limits of the HTTP intake."""

    engine: Engine
    store: BlobStore
    clock: Clock
    authenticator: Authenticator
    limits: Limits
    http: Http
    trusted_proxies: Sequence[str] = ()
    reachable: tuple[str, ...] = ()  # fictional prefixes the line reaches (the simulated line)
    covers: Callable[[], list[str]] = list  # names of the installed cover pages
    api: Api | None = None  # None: no /api/v1
    api_limits: ApiLimits = field(default_factory=ApiLimits)  # requests per second to /api/v1
    console: ConsoleSettings = field(default_factory=ConsoleSettings)  # the web console under /
    lines: Callable[[], list[LineState]] = list  # every line and its call (overview.line_states)
    check: Callable[[], Sequence[CheckFinding]] | None = None  # `faxout check`; None: not offered
