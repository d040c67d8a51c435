"""The ``faxout`` command line."""

from __future__ import annotations

import importlib
import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from faxout import __version__
from faxout.ops.context import CliContext, pass_ctx

if TYPE_CHECKING:
    from faxout.ops.settings import Settings

# The subsystems' command groups: imported only when one of them runs, so `faxout --help` and
# every other command do not load what they do not use. The short help is what `--help` lists
# (tests/test_cli.py checks it against each command's own).
LAZY_COMMANDS: dict[str, tuple[str, str]] = {
    "coverpage": (
        "faxout.render.cli:coverpage",
        "Cover pages: HTML/CSS templates with Jinja2 placeholders...",
    ),
    "inbox": (
        "faxout.ops.commands.inbox:inbox",
        "Received faxes: inboxes, routing rules, block lists.",
    ),
    "jobs": (
        "faxout.ops.commands.jobs:jobs",
        "Look at submissions and their jobs (one job per recipient).",
    ),
    "render": (
        "faxout.render.cli:render_command",
        "Render FILES (PDF, Office, HTML, text, images,...",
    ),
    "report": ("faxout.report.cli:report", "Delivery reports: show one, or send it again."),
    "retention": (
        "faxout.ops.commands.retention:retention",
        "Retention: remove old received images and sent documents.",
    ),
    "sim": (
        "faxout.transmit.cli:sim",
        "Send faxes over the simulated phone line (spandsp on both...",
    ),
    "sip-receiver": (
        "faxout.transmit.sip.cli:sip_receiver",
        "Answer SIP fax calls (G.711 or T.38) and store what arrives.",
    ),
    "sip-send": (
        "faxout.transmit.sip.cli:sip_send",
        "Send FILE (a fax TIFF) to NUMBER over SIP, using...",
    ),
    "token": (
        "faxout.ops.commands.tokens:token",
        "API tokens: create one for a program, list them, revoke one.",
    ),
    "user": (
        "faxout.ops.commands.users:user",
        "Manage sender accounts (USERNAME is the phone number with...",
    ),
    "webhook": (
        "faxout.ops.commands.webhooks:webhook",
        "Webhooks: where an account's fax events are POSTed, signed.",
    ),
}


def lazy_command(name: str) -> click.Command:
    """Import and return the subsystem command ``name`` of :data:`LAZY_COMMANDS`."""
    module, _, attr = LAZY_COMMANDS[name][0].partition(":")
    command = getattr(importlib.import_module(module), attr)
    assert isinstance(command, click.Command)
    return command


class _Group(click.Group):
    """Loads subsystem commands on first use, and turns faxout's own errors into one clear
    line and exit status 1."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*super().list_commands(ctx), *LAZY_COMMANDS})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name in LAZY_COMMANDS and cmd_name not in self.commands:
            self.add_command(lazy_command(cmd_name), cmd_name)
        return super().get_command(ctx, cmd_name)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        names = self.list_commands(ctx)
        limit = formatter.width - 6 - max(len(name) for name in names)
        rows = []
        for name in names:
            if name in LAZY_COMMANDS and name not in self.commands:
                rows.append((name, LAZY_COMMANDS[name][1]))
                continue
            command = self.get_command(ctx, name)
            if command is not None and not command.hidden:
                rows.append((name, command.get_short_help_str(limit)))
        if rows:
            with formatter.section("Commands"):
                formatter.write_dl(rows)

    def invoke(self, ctx: click.Context) -> Any:
        from faxout.accounts.repo import AccountError
        from faxout.errors import FaxoutError
        from faxout.jobs.numbers import InvalidNumberError

        try:
            return super().invoke(ctx)
        except (FaxoutError, AccountError, InvalidNumberError) as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="faxout")
@click.option(
    "--config",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="FAXOUT_CONFIG",
    help="TOML settings file (env: FAXOUT_CONFIG). FAXOUT_* variables override it.",
)
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    help="Database, documents and received faxes (env: FAXOUT_DATA_DIR; default ./var).",
)
@click.pass_context
def cli(ctx: click.Context, config: Path | None, data_dir: Path | None) -> None:
    """faxout: a self-hosted fax gateway speaking the RingCentral FaxOut API.

    Start with `faxout serve`; on first start it creates a demo account and prints a curl command
    that sends a fax. Every setting has a default; see `docs/configuration.md`.
    """
    ctx.obj = CliContext(config, data_dir)


# -- serve ---------------------------------------------------------------------------------


@cli.command()
@click.option("--host", help="Address to listen on (default 127.0.0.1; 0.0.0.0 for all).")
@click.option("--port", type=click.IntRange(0, 65535), help="TCP port (default 8080).")
@click.option(
    "--tls-cert",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM certificate: serve HTTPS.",
)
@click.option(
    "--tls-key",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="PEM private key for --tls-cert.",
)
@click.option("--workers", type=click.IntRange(1, 64), help="HTTP worker processes (default 1).")
@click.option(
    "--no-workers",
    "api_only",
    is_flag=True,
    help="API only: accept faxes but leave rendering and sending to `faxout worker`/`dispatch`.",
)
@pass_ctx
def serve(
    obj: CliContext,
    host: str | None,
    port: int | None,
    tls_cert: Path | None,
    tls_key: Path | None,
    workers: int | None,
    api_only: bool,
) -> None:
    """Run the gateway: the FaxOut endpoint (/faxapi.asp), /healthz, and (unless --no-workers)
    the pipeline that renders, schedules and sends the faxes."""
    import uvicorn

    from faxout.intake.edge import edge_options, ensure_descriptors
    from faxout.intake.proxies import server_options
    from faxout.ops.banner import serve_banner
    from faxout.ops.demo import ensure_demo_account
    from faxout.ops.logs import setup_logging
    from faxout.ops.serve import SETTINGS_ENV, gateway_app

    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together")
    gw = obj.gateway(host=host, port=port, tls_cert=tls_cert, tls_key=tls_key, workers=workers)
    s = gw.settings
    if (s.tls_cert is None) != (s.tls_key is None):
        raise click.UsageError("tls_cert and tls_key go together")
    setup_logging(s.log_level, s.log_format)
    if not api_only:
        _check_jail(s)
    obj.ready_gateway()
    _check_queue(s)
    gw.store.clean_spool()
    demo = ensure_demo_account(gw)
    scheme = "https" if s.tls_cert else "http"
    shown_host = "127.0.0.1" if s.host in {"0.0.0.0", "::", ""} else s.host  # noqa: S104
    url = f"{scheme}://{shown_host}:{s.port}"
    click.echo(f"faxout {__version__}: FaxOut endpoint at {url}/faxapi.asp (data in {s.data_dir})")
    if s.console.enabled:
        click.echo(f"Web console at {url}/ (sign in with an account's fax number and password)")
    click.echo(serve_banner(s, pipeline=not api_only))
    if demo is not None:
        verb = "created" if demo.created else "in use"
        insecure = " -k" if s.tls_cert else ""
        click.echo(f"Demo account {verb}: username {demo.username}, password {demo.password}")
        click.echo("Send a test fax:")
        click.echo(
            f"  curl{insecure} -F Username={demo.username} -F Password={demo.password} "
            f"-F 'Recipient=+15550123456|Test machine' -F Attachment=@README.md {url}/faxapi.asp"
        )
    options: dict[str, Any] = {}
    app: Any
    if s.workers > 1:
        # Worker processes rebuild the gateway from the settings resolved here.
        os.environ[SETTINGS_ENV] = json.dumps(
            {**s.model_dump(mode="json"), "_pipeline": not api_only}
        )
        app, options = "faxout.ops.serve:app_from_environment", {"factory": True}
        gw.engine.dispose()
    else:
        app = gateway_app(gw, pipeline=not api_only)
    ensure_descriptors(s.http)
    uvicorn.run(
        app,
        workers=s.workers,
        **options,
        # h11 with faxout's limits on headers, timeouts and connections (docs/security.md, Requests)
        **edge_options(s.http),
        **server_options(s.trusted_proxies),  # X-Forwarded-For only from trusted_proxies
        host=s.host,
        port=s.port,
        ssl_certfile=str(s.tls_cert) if s.tls_cert else None,
        ssl_keyfile=str(s.tls_key) if s.tls_key else None,
        log_config=None,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=10,
    )


# -- migrate / check -----------------------------------------------------------------------


@cli.command()
@click.option("--revision", default="head", show_default=True, help="Target schema revision.")
@pass_ctx
def migrate(obj: CliContext, revision: str) -> None:
    """Create or upgrade the database schema (serve does this itself by default)."""
    from faxout.db import migrate as migrations
    from faxout.db.engine import shown_url

    gw = obj.gateway()
    before = migrations.current_revision(gw.engine)
    migrations.upgrade(gw.engine, revision)
    after = migrations.current_revision(gw.engine)
    shown = shown_url(gw.settings.db_url)
    click.echo(f"database {shown}: schema {before or 'empty'} -> {after}")


@cli.command()
@pass_ctx
def check(obj: CliContext) -> None:
    """Verify this node: database, task queue, document store, report relay, transport,
    system libraries and programs. Exit status 1 when anything fails."""
    from faxout.ops.check import run_checks, show

    ok, fail = click.style("ok  ", fg="green"), click.style("FAIL", fg="red")
    sys.exit(show(run_checks(obj.settings()), click.echo, ok, fail))


@cli.command()
@click.option(
    "--threads", type=click.IntRange(1, 256), help="Consumer threads (default lines + 2)."
)
@pass_ctx
def worker(obj: CliContext, threads: int | None) -> None:
    """Run task consumers only (render and transmit), for the distributed topology."""
    _run_pipeline(obj, consumers=True, dispatcher=False, threads=threads)


@cli.command()
@pass_ctx
def dispatch(obj: CliContext) -> None:
    """Run the dispatcher and reconciler only, for the distributed topology."""
    _run_pipeline(obj, consumers=False, dispatcher=True, threads=None)


def _run_pipeline(
    obj: CliContext, *, consumers: bool, dispatcher: bool, threads: int | None
) -> None:
    import signal
    import threading

    from faxout.ops.banner import pipeline_banner
    from faxout.ops.logs import setup_logging
    from faxout.ops.runtime import Pipeline

    gw = obj.ready_gateway()
    setup_logging(gw.settings.log_level, gw.settings.log_format)
    _check_queue(gw.settings)
    if consumers:
        _check_jail(gw.settings)
    if threads:
        gw.settings.runtime.consumer_threads = threads
    pipeline = Pipeline(
        gw, consumers=consumers, dispatcher=dispatcher, dispatch_on_release=not dispatcher
    )
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    pipeline.start()
    click.echo(pipeline_banner(gw.settings, consumers=consumers))
    stop.wait()
    pipeline.stop()


def _check_queue(settings: Settings) -> None:
    """Refuse to start a worker or dispatcher whose task queue does not answer: it would say
    "running" and do nothing. (Once running, an outage is waited out and logged once.)"""
    from faxout.ops.check import queue_check

    found = queue_check(settings)
    if not found.ok:
        raise click.ClickException(f"{found.what}: {found.detail}")


def _check_jail(settings: Settings) -> None:
    """Refuse to start rendering where converters cannot be jailed, saying what to do."""
    from faxout.sandbox import jail

    jail.set_enabled(settings.render.sandbox)
    problem = jail.problem()
    if problem is not None:
        raise click.ClickException(problem)


def main() -> None:
    """Entry point of the ``faxout`` command."""
    cli(prog_name="faxout")
