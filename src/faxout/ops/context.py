"""The state the ``faxout`` commands share: settings from the global options, one gateway."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:  # loaded by the commands that use them: `faxout --help` needs neither
    from faxout.ops.gateway import Gateway
    from faxout.ops.settings import Settings


class CliContext:
    """What every command gets: the settings (from --config/--data-dir) and a gateway."""

    def __init__(self, config: Path | None, data_dir: Path | None) -> None:
        self.config = config
        self.data_dir = data_dir
        self._gateway: Gateway | None = None

    def settings(self, **overrides: Any) -> Settings:
        from faxout.ops.settings import load_settings

        return load_settings(self.config, data_dir=self.data_dir, **overrides)

    def gateway(self, **overrides: Any) -> Gateway:
        """The gateway of every command that works on the data directory; before it is built,
        this process is made private (umask 077) and so is the data directory
        (``faxout.files.secure_data_dir``): ``serve`` and its worker processes, ``worker``,
        ``dispatch`` and the admin commands all create what they create 0600."""
        if self._gateway is None:
            from faxout.files import secure_data_dir
            from faxout.ops.gateway import build_gateway

            settings = self.settings(**overrides)
            secure_data_dir(settings.data_dir, shared=settings.coverpages_path)
            self._gateway = build_gateway(settings)
        return self._gateway

    def ready_gateway(self) -> Gateway:
        """A gateway whose database schema is current (migrating it when allowed)."""
        from faxout.db import migrate as migrations

        gw = self.gateway()
        if migrations.current_revision(gw.engine) != migrations.head_revision():
            if not gw.settings.auto_migrate:
                raise click.ClickException(
                    "the database schema is out of date: run `faxout migrate`"
                )
            migrations.upgrade(gw.engine)
        return gw


pass_ctx = click.make_pass_decorator(CliContext)
