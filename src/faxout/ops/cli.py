"""The ``faxout`` command line."""

from __future__ import annotations

import json
import os
import secrets
import sys
from pathlib import Path
from typing import Any

import click

from faxout import __version__
from faxout.accounts.repo import Account, AccountError
from faxout.errors import FaxoutError
from faxout.jobs.numbers import InvalidNumberError
from faxout.jobs.repo import JobView, to_json
from faxout.ops.gateway import Gateway, build_gateway
from faxout.ops.settings import Settings, load_settings


class _Ctx:
    def __init__(self, config: Path | None, data_dir: Path | None) -> None:
        self.config = config
        self.data_dir = data_dir
        self._gateway: Gateway | None = None

    def settings(self, **overrides: Any) -> Settings:
        return load_settings(self.config, data_dir=self.data_dir, **overrides)

    def gateway(self, **overrides: Any) -> Gateway:
        if self._gateway is None:
            self._gateway = build_gateway(self.settings(**overrides))
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


pass_ctx = click.make_pass_decorator(_Ctx)


class _Group(click.Group):
    """Turns faxout's own errors into one clear line and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
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
    ctx.obj = _Ctx(config, data_dir)


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
    obj: _Ctx,
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

    from faxout.intake.app import SETTINGS_ENV, create_app
    from faxout.ops.demo import ensure_demo_account
    from faxout.ops.logs import setup_logging

    if (tls_cert is None) != (tls_key is None):
        raise click.UsageError("--tls-cert and --tls-key go together")
    gw = obj.gateway(host=host, port=port, tls_cert=tls_cert, tls_key=tls_key, workers=workers)
    s = gw.settings
    if (s.tls_cert is None) != (s.tls_key is None):
        raise click.UsageError("tls_cert and tls_key go together")
    setup_logging(s.log_level, s.log_format)
    obj.ready_gateway()
    clean = getattr(gw.store, "clean_spool", None)
    if clean is not None:
        clean()
    demo = ensure_demo_account(gw)
    scheme = "https" if s.tls_cert else "http"
    shown_host = "127.0.0.1" if s.host in {"0.0.0.0", "::", ""} else s.host  # noqa: S104
    url = f"{scheme}://{shown_host}:{s.port}"
    click.echo(f"faxout {__version__}: FaxOut endpoint at {url}/faxapi.asp (data in {s.data_dir})")
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
        app, options = "faxout.intake.app:app_from_environment", {"factory": True}
        gw.engine.dispose()
    else:
        app = create_app(gw, pipeline=not api_only)
    uvicorn.run(
        app,
        workers=s.workers,
        **options,
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
def migrate(obj: _Ctx, revision: str) -> None:
    """Create or upgrade the database schema (serve does this itself by default)."""
    from faxout.db import migrate as migrations

    gw = obj.gateway()
    before = migrations.current_revision(gw.engine)
    migrations.upgrade(gw.engine, revision)
    after = migrations.current_revision(gw.engine)
    click.echo(f"database {gw.settings.db_url}: schema {before or 'empty'} -> {after}")


@cli.command()
@pass_ctx
def check(obj: _Ctx) -> None:
    """Verify the installation: database, document store, system libraries and programs."""
    from faxout.ops.check import run_checks

    findings = run_checks(obj.gateway())
    for f in findings:
        mark = click.style("ok  ", fg="green") if f.ok else click.style("FAIL", fg="red")
        click.echo(f"{mark} {f.what:<16} {f.detail}")
    missing = [f for f in findings if not f.ok]
    if missing:
        click.echo(f"{len(missing)} problem(s); `make setup` installs the system packages.")
        sys.exit(1)
    click.echo("All good.")


# -- users ---------------------------------------------------------------------------------


@cli.group()
def user() -> None:
    """Manage sender accounts (USERNAME is the phone number with country code, `*ext` allowed)."""


def _read_password(from_stdin: bool) -> str:
    if from_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
        if not password:
            raise click.UsageError("--password-stdin: standard input held no password")
        return password
    if sys.stdin.isatty():
        return str(click.prompt("Password", hide_input=True, confirmation_prompt=True))
    return ""


def _account_json(a: Account) -> dict[str, Any]:
    return {
        "username": a.username,
        "email": a.email,
        "name": a.name,
        "fax_prohibited": a.fax_prohibited,
        "created_at": a.created_at.isoformat(),
    }


@user.command("add")
@click.argument("username")
@click.option("--email", required=True, help="Where delivery reports go.")
@click.option("--name", default="", help="Display name (cover page, reports).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--fax-prohibited", is_flag=True, help="Account exists but may not send (reply 2).")
@pass_ctx
def user_add(
    obj: _Ctx, username: str, email: str, name: str, password_stdin: bool, fax_prohibited: bool
) -> None:
    """Create an account. Without --password-stdin (and no terminal) a password is generated."""
    gw = obj.ready_gateway()
    password = _read_password(password_stdin)
    generated = not password
    if generated:
        password = secrets.token_urlsafe(12)
    account = gw.accounts.add(
        username,
        email=email,
        name=name,
        password_hash=gw.passwords.hash(password),
        fax_prohibited=fax_prohibited,
        now=gw.clock.now(),
    )
    click.echo(f"account {account.username} created")
    if generated:
        click.echo(f"password: {password}")


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def user_list(obj: _Ctx, as_json: bool) -> None:
    """List accounts."""
    accounts = obj.ready_gateway().accounts.list()
    if as_json:
        click.echo(json.dumps([_account_json(a) for a in accounts], indent=2))
        return
    if not accounts:
        click.echo("no accounts; add one with `faxout user add NUMBER --email ADDR`")
        return
    click.echo(f"{'USERNAME':<20} {'EMAIL':<32} {'STATUS':<10} NAME")
    for a in accounts:
        status = "prohibited" if a.fax_prohibited else "active"
        click.echo(f"{a.username:<20} {a.email:<32} {status:<10} {a.name}")


@user.command("set")
@click.argument("username")
@click.option("--email", help="New report address.")
@click.option("--name", help="New display name.")
@click.option("--password-stdin", is_flag=True, help="Read a new password from standard input.")
@click.option("--fax-prohibited/--fax-allowed", default=None, help="Stop or allow sending.")
@pass_ctx
def user_set(
    obj: _Ctx,
    username: str,
    email: str | None,
    name: str | None,
    password_stdin: bool,
    fax_prohibited: bool | None,
) -> None:
    """Change an account."""
    gw = obj.ready_gateway()
    password_hash = gw.passwords.hash(_read_password(True)) if password_stdin else None
    if email is None and name is None and password_hash is None and fax_prohibited is None:
        raise click.UsageError(
            "nothing to change: give --email, --name, --password-stdin or "
            "--fax-prohibited/--fax-allowed"
        )
    account = gw.accounts.update(
        username,
        email=email,
        name=name,
        password_hash=password_hash,
        fax_prohibited=fax_prohibited,
        now=gw.clock.now(),
    )
    click.echo(f"account {account.username} updated")


@user.command("remove")
@click.argument("username")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
def user_remove(obj: _Ctx, username: str, yes: bool) -> None:
    """Delete an account that has never submitted a fax."""
    gw = obj.ready_gateway()
    if not yes and sys.stdin.isatty():
        click.confirm(f"Remove account {username}?", abort=True)
    gw.accounts.remove(username)
    click.echo(f"account {username} removed")


# -- jobs ----------------------------------------------------------------------------------


@cli.group()
def jobs() -> None:
    """Look at submissions and their jobs (one job per recipient)."""


def _job_line(j: JobView) -> str:
    when = j.send_at.strftime("%Y-%m-%d %H:%M")
    return (
        f"{j.id:>6} {j.submission_id:>6} {j.state:<12} {j.number:<18} {j.username:<16} "
        f"{when}  {j.name}"
    )


@jobs.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--state", help="Only jobs in this state (accepted, ready, done, failed…).")
@click.option("--submission", type=int, help="Only the jobs of this submission.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@pass_ctx
def jobs_list(
    obj: _Ctx, as_json: bool, state: str | None, submission: int | None, limit: int
) -> None:
    """List jobs, newest first."""
    rows = obj.ready_gateway().jobs.list_jobs(limit=limit, state=state, submission_id=submission)
    if as_json:
        click.echo(json.dumps([to_json(j) for j in rows], indent=2))
        return
    if not rows:
        click.echo("no jobs")
        return
    click.echo(
        f"{'JOB':>6} {'SUBM':>6} {'STATE':<12} {'NUMBER':<18} {'ACCOUNT':<16} "
        f"{'SEND AT (UTC)':<17} NAME"
    )
    for j in rows:
        click.echo(_job_line(j))


@jobs.command("show")
@click.argument("job_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def jobs_show(obj: _Ctx, job_id: int, as_json: bool) -> None:
    """Show one job: state and why, attempts, its submission's documents and notes."""
    gw = obj.ready_gateway()
    job = gw.jobs.get_job(job_id)
    if job is None:
        raise click.ClickException(f"there is no job {job_id}; `faxout jobs list` shows them")
    sub = gw.jobs.get_submission(job.submission_id)
    assert sub is not None
    tries = gw.jobs.attempts(job_id)
    if as_json:
        data = {
            "job": to_json(job),
            "submission": to_json(sub),
            "attempts": [to_json(a) for a in tries],
        }
        click.echo(json.dumps(data, indent=2))
        return
    click.echo(
        f"job {job.id}: {job.state}, to {job.number}" + (f" ({job.name})" if job.name else "")
    )
    if job.reason:
        click.echo(f"  why         {job.reason}")
    given = f" (Sendtime given: {sub.sendtime_raw})" if sub.sendtime_raw else ""
    click.echo(f"  send at     {job.send_at.isoformat()}{given}")
    if job.state == "ready" and job.next_attempt_at:
        click.echo(f"  next try    {job.next_attempt_at.isoformat()}")
    if job.kill_at:
        click.echo(f"  kill time   {job.kill_at.isoformat()}")
    pages = (
        f"{job.pages_confirmed}/{sub.pages + (0 if sub.cover_page == 'none' else 1)}"
        if sub.pages
        else "-"
    )
    click.echo(f"  dials/tries {job.dials}/{job.tries}; pages confirmed {pages}")
    for a in tries:
        how = ", ".join(
            str(x)
            for x in (
                a.modem,
                f"{a.bit_rate} bit/s" if a.bit_rate else None,
                "ECM" if a.ecm else None,
                a.compression,
                a.remote_csid and f"CSID {a.remote_csid}",
            )
            if x
        )
        code = f" (T.30 {a.t30_code}: {a.t30_text})" if a.t30_code else ""
        click.echo(
            f"  attempt {a.attempt_no}: {a.outcome or a.phase}{code}, pages {a.pages_confirmed}/"
            f"{a.pages_total} from page {a.first_page}"
            + (f", {how}" if how else "")
            + (f" [{a.detail}]" if a.detail else "")
        )
    click.echo(
        f"submission {sub.id}: {sub.state}, from {sub.username} <{sub.email}>, "
        f"accepted {sub.created_at.isoformat()} (request {sub.request_id})"
    )
    click.echo(
        f"  resolution  {sub.resolution}; cover page {sub.cover_page}"
        + (f"; {sub.pages} page(s) rendered" if sub.pages else "")
    )
    if sub.render_error:
        click.echo(f"  render      {sub.render_error}")
    for d in sub.documents:
        click.echo(f"  document {d.seq}: {d.filename} ({d.size} bytes)")
    for j in sub.jobs:
        if j.id != job.id:
            click.echo(f"  also to {j.number} (job {j.id}, {j.state})")
    for note in [*sub.notes, *(sub.render_warnings or [])]:
        click.echo(f"  note: {note}")


@jobs.command("cancel")
@click.argument("job_id", type=int, required=False)
@click.option("--submission", type=int, help="Cancel every job of this submission instead.")
@pass_ctx
def jobs_cancel(obj: _Ctx, job_id: int | None, submission: int | None) -> None:
    """Cancel a job (or a whole submission) that is not dialling yet."""
    from faxout.jobs.lifecycle import Lifecycle

    if (job_id is None) == (submission is None):
        raise click.UsageError("give a JOB_ID or --submission ID")
    gw = obj.ready_gateway()
    result = Lifecycle(gw.engine, gw.settings.retry.kill_time).cancel(
        gw.clock.now(), job_id=job_id, submission_id=submission
    )
    for jid in result.canceled:
        click.echo(f"job {jid} canceled")
    for jid, state in result.refused:
        click.echo(f"job {jid} not canceled: it is {state}", err=True)
    if not result.canceled and not result.refused:
        raise click.ClickException("no such job or submission")
    if result.refused:
        sys.exit(1)


@cli.command()
@click.option(
    "--threads", type=click.IntRange(1, 256), help="Consumer threads (default lines + 2)."
)
@pass_ctx
def worker(obj: _Ctx, threads: int | None) -> None:
    """Run task consumers only (render and transmit), for the distributed topology."""
    _run_pipeline(obj, consumers=True, dispatcher=False, threads=threads)


@cli.command()
@pass_ctx
def dispatch(obj: _Ctx) -> None:
    """Run the dispatcher and reconciler only, for the distributed topology."""
    _run_pipeline(obj, consumers=False, dispatcher=True, threads=None)


def _run_pipeline(obj: _Ctx, *, consumers: bool, dispatcher: bool, threads: int | None) -> None:
    import signal
    import threading

    from faxout.ops.logs import setup_logging
    from faxout.ops.runtime import Pipeline

    gw = obj.ready_gateway()
    setup_logging(gw.settings.log_level, gw.settings.log_format)
    if threads:
        gw.settings.runtime.consumer_threads = threads
    pipeline = Pipeline(gw, consumers=consumers, dispatcher=dispatcher)
    stop = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stop.set())
    pipeline.start()
    role = "worker" if consumers else "dispatcher"
    click.echo(f"faxout {role} running (queue {gw.settings.queue}); Ctrl-C stops it")
    stop.wait()
    pipeline.stop()


def _register_subsystems() -> None:
    from faxout.render.cli import coverpage, render_command
    from faxout.transmit.cli import sim

    cli.add_command(sim)
    cli.add_command(render_command)
    cli.add_command(coverpage)


_register_subsystems()


def main() -> None:
    """Entry point of the ``faxout`` command."""
    cli(prog_name="faxout")
