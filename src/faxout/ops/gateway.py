"""The assembled services one process runs on: settings, database, document store, auth, clock.

Light to import: the document store (boto3 for S3), password hashing (argon2) and the
authenticator load in ``build_gateway``; the read-only commands take ``build_repos`` instead and
load none of them."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from faxout.accounts.repo import AccountRepo
from faxout.clock import Clock, SystemClock
from faxout.db.engine import make_engine
from faxout.files import private_dir
from faxout.jobs.repo import JobRepo

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from faxout.accounts.passwords import Passwords
    from faxout.blobs.store import BlobStore
    from faxout.inbound.store import InboundStore
    from faxout.intake.auth import Authenticator
    from faxout.ops.settings import Settings


@dataclass
class Repos:
    """The database side alone: what the read-only commands (``jobs list``, ``user list``…) use."""

    settings: Settings
    engine: Engine
    clock: Clock
    accounts: AccountRepo
    jobs: JobRepo


@dataclass
class Gateway:
    """What the HTTP app and the CLI commands work with."""

    settings: Settings
    engine: Engine
    store: BlobStore
    clock: Clock
    accounts: AccountRepo
    jobs: JobRepo
    passwords: Passwords
    authenticator: Authenticator

    def installed_covers(self) -> list[str]:
        """Names of the cover pages: those shipped and those in the cover-page directory."""
        from faxout.render.cover import cover_names

        return cover_names(self.settings.coverpages_path)

    def inbound_store(self, transport: str) -> InboundStore:
        """Where the receiver of ``transport`` stores the faxes it receives."""
        from faxout.inbound.inboxes import InboxRepo
        from faxout.inbound.store import InboundStore, receiver_name

        return InboundStore(
            self.engine,
            self.store,
            InboxRepo(self.engine, self.clock),
            self.settings.inbound,
            self.settings.data_dir / "inbound" / "spool",
            clock=self.clock,
            receiver=receiver_name(transport),
        )


def build_repos(settings: Settings, *, clock: Clock | None = None) -> Repos:
    """The database and its repositories for ``settings``: no document store, no auth."""
    private_dir(settings.data_dir)
    engine = make_engine(settings.db_url)
    return Repos(
        settings=settings,
        engine=engine,
        clock=clock or SystemClock(),
        accounts=AccountRepo(engine),
        jobs=JobRepo(engine),
    )


def build_gateway(
    settings: Settings, *, clock: Clock | None = None, store: BlobStore | None = None
) -> Gateway:
    """Wire the real services for ``settings`` (a test may hand in its own clock or store)."""
    from faxout.accounts.locks import LoginLocks
    from faxout.accounts.passwords import Passwords
    from faxout.blobs.factory import open_store
    from faxout.intake.auth import Authenticator

    repos = build_repos(settings, clock=clock)
    store = store or open_store(settings.store_url, settings.data_dir)
    passwords = Passwords(settings.auth)
    return Gateway(
        settings=settings,
        engine=repos.engine,
        store=store,
        clock=repos.clock,
        accounts=repos.accounts,
        jobs=repos.jobs,
        passwords=passwords,
        authenticator=Authenticator(
            repos.accounts,
            passwords,
            settings.auth,
            repos.clock,
            locks=LoginLocks(repos.engine),
        ),
    )
