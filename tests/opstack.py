"""The distributed topology's real components for the operator-facing tests (``faxout check``,
the start banners, redaction): PostgreSQL with a role of its own and a password, Redis that
requires a password, an SMTP relay with STARTTLS and AUTH, a shared store directory.

Every secret is a distinct string (``SECRETS``) so a test can assert none of them is printed.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
import redis
import trustme
from psycopg import sql

from tests.pgserver import PgServer
from tests.report.relay import PASSWORD as SMTP_PASSWORD
from tests.report.relay import USER as SMTP_USER
from tests.report.relay import Relay, write_ca
from tests.server import run_cli
from tests.services import redis_server

DB_PASSWORD = "Db-pw-4f2a9"
REDIS_PASSWORD = "Redis-pw-77c1e"
SECRETS = (DB_PASSWORD, REDIS_PASSWORD, SMTP_PASSWORD)


@dataclass
class Stack:
    """The running components and the ``FAXOUT_*`` variables that point at them."""

    data: Path
    env: dict[str, str]
    relay: Relay
    redis_url: str
    store: Path
    stop_redis: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def cli(self, *args: str, **env: str) -> tuple[int, str]:
        """``faxout ARGS`` with these settings (and ``env`` over them): (status, all output)."""
        done = run_cli(self.data, *args, **{**self.env, **env})
        return done.returncode, done.stdout + done.stderr


def _admin(server: PgServer, statement: sql.Composable) -> None:
    with psycopg.connect(server.dsn("postgres"), autocommit=True) as conn:
        conn.execute(statement)


@contextlib.contextmanager
def pg_role_database(server: PgServer) -> Iterator[str]:
    """A role with a password owning a fresh database, as docs/deployment.md creates them;
    yields its ``postgresql+psycopg://role:password@…`` URL."""
    name = f"fx{uuid.uuid4().hex[:10]}"
    _admin(
        server,
        sql.SQL("CREATE ROLE {} LOGIN PASSWORD {}").format(
            sql.Identifier(name), sql.Literal(DB_PASSWORD)
        ),
    )
    _admin(
        server,
        sql.SQL("CREATE DATABASE {} OWNER {}").format(sql.Identifier(name), sql.Identifier(name)),
    )
    try:
        yield f"postgresql+psycopg://{name}:{DB_PASSWORD}@{server.host}:{server.port}/{name}"
    finally:
        server.drop_database(name)
        _admin(server, sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def _stop_relay(relay: Relay) -> None:
    with contextlib.suppress(Exception):  # a test may have stopped it already
        relay.stop()


@contextlib.contextmanager
def stack(tmp: Path, server: PgServer) -> Iterator[Stack]:
    """Everything up and configured; the database migrated with ``faxout migrate``."""
    ca = trustme.CA()
    store = tmp / "shared-store"
    store.mkdir()
    with contextlib.ExitStack() as outer, pg_role_database(server) as db_url:
        stop_redis = contextlib.ExitStack()
        outer.callback(stop_redis.close)
        plain = stop_redis.enter_context(redis_server(tmp / "redis"))
        client = redis.Redis.from_url(plain)
        client.config_set("requirepass", REDIS_PASSWORD)
        client.close()
        relay = Relay(ca).start()
        outer.callback(_stop_relay, relay)
        redis_url = plain.replace("redis://", f"redis://:{REDIS_PASSWORD}@")
        env = {
            "FAXOUT_DATABASE_URL": db_url,
            "FAXOUT_QUEUE_URL": redis_url,
            "FAXOUT_STORE_URL": f"file://{store}",
            "FAXOUT_AUTO_MIGRATE": "false",
            "FAXOUT_DEMO_ACCOUNT": "false",
            "FAXOUT_REPORT__SMTP__HOST": "127.0.0.1",
            "FAXOUT_REPORT__SMTP__PORT": str(relay.port),
            "FAXOUT_REPORT__SMTP__USERNAME": SMTP_USER,
            "FAXOUT_REPORT__SMTP__PASSWORD": SMTP_PASSWORD,
            "FAXOUT_REPORT__SMTP__CA_FILE": str(write_ca(ca, tmp)),
        }
        up = Stack(tmp / "var", env, relay, redis_url, store, stop_redis)
        status, said = up.cli("migrate")
        assert status == 0, said
        yield up
