"""The state the ``faxout`` commands share: settings from the global options, one gateway."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # loaded by the commands that use them: `faxout --help` needs neither
    from sqlalchemy import Engine

    from faxout.ops.gateway import Gateway, Repos
    from faxout.ops.settings import Settings

_ASSIGNMENT = re.compile(r"^(revision|down_revision|depends_on)\s*(?::[^=]*)?=\s*(.+)$", re.M)


class CliContext:
    """What every command gets: the settings (from --config/--data-dir) and a gateway."""

    def __init__(self, config: Path | None, data_dir: Path | None) -> None:
        self.config = config
        self.data_dir = data_dir
        self._gateway: Gateway | None = None
        self._repos: Repos | None = None

    def settings(self, **overrides: Any) -> Settings:
        from faxout.ops.settings import load_settings

        return load_settings(self.config, data_dir=self.data_dir, **overrides)

    def gateway(self, **overrides: Any) -> Gateway:
        """The gateway of every command that works on the data directory; before it is built,
        this process is made private (umask 077) and so is the data directory
        (``faxout.files.secure_data_dir``): ``serve`` and its worker processes, ``worker``,
        ``dispatch`` and the admin commands all create what they create 0600."""
        if self._gateway is None:
            from faxout.ops.gateway import build_gateway

            self._gateway = build_gateway(self._secured_settings(**overrides))
        return self._gateway

    def repos(self) -> Repos:
        """The database side of the gateway alone (settings, engine, clock, repositories), for
        the commands that only read or change rows: no document store, no password hashing,
        so ``faxout jobs list`` and ``faxout user list`` load neither boto3 nor argon2."""
        if self._repos is None:
            from faxout.ops.gateway import Repos, build_repos

            if self._gateway is not None:
                gw = self._gateway
                self._repos = Repos(gw.settings, gw.engine, gw.clock, gw.accounts, gw.jobs)
            else:
                self._repos = build_repos(self._secured_settings())
        return self._repos

    def _secured_settings(self, **overrides: Any) -> Settings:
        from faxout.files import secure_data_dir

        settings = self.settings(**overrides)
        secure_data_dir(settings.data_dir, shared=settings.coverpages_path)
        return settings

    def ready_gateway(self) -> Gateway:
        """A gateway whose database schema is current (migrating it when allowed)."""
        gw = self.gateway()
        _ensure_schema(gw.engine, gw.settings.auto_migrate)
        return gw

    def ready_repos(self) -> Repos:
        """``repos()`` on a database whose schema is current (migrating it when allowed)."""
        repos = self.repos()
        _ensure_schema(repos.engine, repos.settings.auto_migrate)
        return repos


def _ensure_schema(engine: Engine, auto_migrate: bool) -> None:
    if _schema_at(engine, _script_head()):
        return  # the usual case, settled without loading Alembic (a third of a second)
    from faxout.db import migrate as migrations

    if migrations.current_revision(engine) != migrations.head_revision():
        if not auto_migrate:
            raise click.ClickException("the database schema is out of date: run `faxout migrate`")
        migrations.upgrade(engine)


def _script_head() -> str | None:
    """The newest revision of the migration scripts, read from their ``revision`` and
    ``down_revision`` lines; None when that is not plain (a branch, a merge, ``depends_on``,
    scripts not on disk): Alembic decides then."""
    import faxout.db

    versions = Path(faxout.db.__file__).parent / "migrations" / "versions"
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in versions.glob("*.py"):
        if script.name == "__init__.py":
            continue
        try:
            found = {
                k: ast.literal_eval(v.strip()) for k, v in _ASSIGNMENT.findall(script.read_text())
            }
        except (OSError, ValueError, SyntaxError):
            return None
        rev, down = found.get("revision"), found.get("down_revision", ())
        if not isinstance(rev, str) or found.get("depends_on") is not None:
            return None
        if down is not None:
            if not isinstance(down, str):
                return None  # a merge (a tuple), or no down_revision line at all
            parents.add(down)
        revisions.add(rev)
    heads = revisions - parents
    return heads.pop() if len(heads) == 1 else None


def _schema_at(engine: Engine, head: str | None) -> bool:
    """Whether the database's ``alembic_version`` holds just ``head``; False when unsure."""
    if head is None:
        return False
    from sqlalchemy import exc, text

    try:
        with engine.connect() as conn:
            rows = conn.execute(text("SELECT version_num FROM alembic_version")).scalars().all()
    except exc.SQLAlchemyError:
        return False  # no table yet, say: Alembic looks again and reports
    return list(rows) == [head]


pass_ctx = click.make_pass_decorator(CliContext)
