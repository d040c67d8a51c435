"""The app of a gateway in this process, for tests that drive ``/api/v1`` without a server:
SQLite in a temporary folder, documents in memory, a frozen clock, nothing running beside it."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI

from faxout.blobs.memory import MemoryBlobStore
from faxout.clock import FrozenClock
from faxout.db.migrate import upgrade
from faxout.intake.app import create_app
from faxout.intake.settings import ApiLimits
from faxout.ops.gateway import Gateway, build_gateway
from faxout.ops.serve import intake_of
from faxout.ops.settings import Auth, Settings

USER, PASSWORD = "16505551234", "in-process pass"


@dataclass
class InProcess:
    """The app, its gateway and clock, and a token with both scopes for ``USER``."""

    app: FastAPI
    gw: Gateway
    clock: FrozenClock
    secret: str

    @property
    def auth(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.secret}"}

    def token(self, *scopes: str) -> str:
        """Another token for ``USER``."""
        account = self.gw.accounts.get(USER)
        assert account is not None
        api = intake_of(self.gw).api
        assert api is not None
        return api.tokens.create(account.id, scopes or ("read", "send"), self.clock.now())[0]


def in_process(tmp: Path, limits: ApiLimits | None = None) -> InProcess:
    """A fresh app (not started: use it in a ``TestClient`` block to run its lifespan)."""
    clock = FrozenClock()
    cheap = Auth(argon2_memory_kib=1024, argon2_time_cost=1)
    settings = Settings(data_dir=tmp, demo_account=False, auth=cheap)
    gw = build_gateway(settings, clock=clock, store=MemoryBlobStore())
    upgrade(gw.engine)
    gw.accounts.add(
        USER,
        email="a@example.com",
        password_hash=gw.passwords.hash(PASSWORD),
        now=clock.now(),
        name="In process",
    )
    intake = intake_of(gw)
    if limits is not None:
        intake = dataclasses.replace(intake, api_limits=limits)
    made = InProcess(create_app(intake), gw, clock, "")
    made.secret = made.token()
    return made
