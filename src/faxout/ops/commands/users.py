"""``faxout user``: sender accounts."""

from __future__ import annotations

import json
import secrets
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from faxout.accounts.locks import LoginLocks
from faxout.accounts.pagestyle import PageStyle
from faxout.accounts.repo import MAX_RETENTION_DAYS, Account, Retention
from faxout.ops.context import CliContext, pass_ctx
from faxout.text import echo


@click.group()
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
        "region": a.region,
        "dial_allow": list(a.dial_allow),
        "dial_deny": list(a.dial_deny),
        "time_zone": a.time_zone,
        "station": a.station,
        "header_format": a.tagline,
        "paper": a.paper,
        "operator": a.operator,
        "retention_days": a.retention_days,
        "created_at": a.created_at.isoformat(),
    }


def _patterns(value: str | None) -> tuple[str, ...] | None:
    """``--dial-allow "domestic, +44"`` → its patterns; "" clears the list; None: unchanged."""
    if value is None:
        return None
    return tuple(p.strip() for p in value.split(",") if p.strip())


_Command = TypeVar("_Command", bound=Callable[..., Any])
_REGION_HELP = "Country whose national numbers it writes (US, DE); '' = its own number's."
_ALLOW_HELP = "Only these numbers: comma-separated +PREFIX, country code or domestic; '' = any."
_DENY_HELP = "Never these numbers (same patterns as --dial-allow; deny wins); '' = none."


def _dialling_options(command: _Command) -> _Command:
    """The options that set how an account's numbers are read and which it may fax."""
    for option in (
        click.option("--dial-deny", metavar="PATTERNS", help=_DENY_HELP),
        click.option("--dial-allow", metavar="PATTERNS", help=_ALLOW_HELP),
        click.option("--region", metavar="CC", help=_REGION_HELP),
    ):
        command = option(command)
    return command


def _page_options(command: _Command) -> _Command:
    """The options that set what the account's pages look like to the recipient."""
    for option in (
        click.option(
            "--paper",
            metavar="PAPER",
            help="letter, a4 or legal for every recipient; '' = by the recipient's country.",
        ),
        click.option(
            "--header-format",
            metavar="FORMAT",
            help="Its own header line (TagLineFormat, docs/configuration.md); '' = server's.",
        ),
        click.option(
            "--station", metavar="TSI", help="Its fax identity (20 chars); '' = its number."
        ),
        click.option(
            "--time-zone", metavar="ZONE", help="The header's zone (Europe/Berlin); '' = server's."
        ),
    ):
        command = option(command)
    return command


def _retention(value: str | None) -> Retention | None:
    """``--retention-days 7`` → 7 days; "" → the server's; None: unchanged."""
    if value is None:
        return None
    if not value.strip():
        return Retention(None)
    try:
        days = int(value)
    except ValueError:
        days = -1
    if not 0 <= days <= MAX_RETENTION_DAYS:
        raise click.BadParameter(
            f"{value!r}: give whole days from 0 (keep until deleted) to {MAX_RETENTION_DAYS}, "
            "or '' for the server's inbound.retention_days",
            param_hint="--retention-days",
        )
    return Retention(days)


def _page_style(
    time_zone: str | None, station: str | None, header_format: str | None, paper: str | None
) -> PageStyle:
    return PageStyle(time_zone=time_zone, station=station, tagline=header_format, paper=paper)


@user.command("add")
@click.argument("username")
@click.option("--email", required=True, help="Where delivery reports go.")
@click.option("--name", default="", help="Display name (cover page, reports).")
@click.option("--password-stdin", is_flag=True, help="Read the password from standard input.")
@click.option("--fax-prohibited", is_flag=True, help="Account exists but may not send (reply 2).")
@click.option("--operator", is_flag=True, help="It also runs the server from the web console.")
@_dialling_options
@_page_options
@pass_ctx
def user_add(
    obj: CliContext,
    username: str,
    email: str,
    name: str,
    password_stdin: bool,
    fax_prohibited: bool,
    operator: bool,
    region: str | None,
    dial_allow: str | None,
    dial_deny: str | None,
    time_zone: str | None,
    station: str | None,
    header_format: str | None,
    paper: str | None,
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
        region=region or "",
        dial_allow=_patterns(dial_allow),
        dial_deny=_patterns(dial_deny),
        pages=_page_style(time_zone, station, header_format, paper),
        operator=operator,
        now=gw.clock.now(),
    )
    echo(f"{'operator' if operator else 'account'} {account.username} created")
    if generated:
        echo(f"password: {password}")


@user.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def user_list(obj: CliContext, as_json: bool) -> None:
    """List accounts."""
    accounts = obj.ready_repos().accounts.list()
    if as_json:
        click.echo(json.dumps([_account_json(a) for a in accounts], indent=2))
        return
    if not accounts:
        echo("no accounts; add one with `faxout user add NUMBER --email ADDR`")
        return
    echo(f"{'USERNAME':<20} {'EMAIL':<32} {'STATUS':<10} {'ROLE':<8} NAME")
    for a in accounts:
        status = "prohibited" if a.fax_prohibited else "active"
        role = "operator" if a.operator else "sender"
        echo(f"{a.username:<20} {a.email:<32} {status:<10} {role:<8} {a.name}")


@user.command("set")
@click.argument("username")
@click.option("--email", help="New report address.")
@click.option("--name", help="New display name.")
@click.option("--password-stdin", is_flag=True, help="Read a new password from standard input.")
@click.option("--fax-prohibited/--fax-allowed", default=None, help="Stop or allow sending.")
@click.option(
    "--operator/--no-operator", default=None, help="Give or take the web console's admin role."
)
@click.option(
    "--retention-days",
    metavar="DAYS",
    help="Keep its sent documents and received images DAYS days once final, then remove "
    "them (the facts stay); 0 = until deleted; '' = the server's inbound.retention_days.",
)
@_dialling_options
@_page_options
@pass_ctx
def user_set(
    obj: CliContext,
    username: str,
    email: str | None,
    name: str | None,
    password_stdin: bool,
    fax_prohibited: bool | None,
    operator: bool | None,
    retention_days: str | None,
    region: str | None,
    dial_allow: str | None,
    dial_deny: str | None,
    time_zone: str | None,
    station: str | None,
    header_format: str | None,
    paper: str | None,
) -> None:
    """Change an account."""
    retention = _retention(retention_days)
    style = _page_style(time_zone, station, header_format, paper)
    given = (email, name, fax_prohibited, operator, retention, region, dial_allow, dial_deny)
    if not password_stdin and all(value is None for value in given) and style == PageStyle():
        raise click.UsageError(
            "nothing to change: give --email, --name, --password-stdin, "
            "--fax-prohibited/--fax-allowed, --operator/--no-operator, --retention-days, "
            "--region, --dial-allow, --dial-deny, --time-zone, --station, --header-format or "
            "--paper"
        )
    gw = obj.ready_gateway()
    password_hash = gw.passwords.hash(_read_password(True)) if password_stdin else None
    account = gw.accounts.update(
        username,
        email=email,
        name=name,
        password_hash=password_hash,
        fax_prohibited=fax_prohibited,
        operator=operator,
        region=region,
        dial_allow=_patterns(dial_allow),
        dial_deny=_patterns(dial_deny),
        pages=style,
        retention=retention,
        now=gw.clock.now(),
    )
    echo(f"account {account.username} updated")
    if retention is not None:
        echo(f"  retention: {_kept(account.retention_days, gw.settings.inbound.retention_days)}")


def _kept(days: int | None, server_days: int) -> str:
    """An account's retention in words."""
    if days is None:
        return f"the server's ({_kept(server_days, server_days)})"
    return "until deleted" if days == 0 else f"{days} days once final"


@user.command("remove")
@click.argument("username")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_ctx
def user_remove(obj: CliContext, username: str, yes: bool) -> None:
    """Delete an account that has never submitted a fax."""
    gw = obj.ready_gateway()
    if not yes and sys.stdin.isatty():
        click.confirm(f"Remove account {username}?", abort=True)
    gw.accounts.remove(username)
    echo(f"account {username} removed")


@user.command("locks")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def user_locks(obj: CliContext, as_json: bool) -> None:
    """List the logins the throttle refuses right now (username and client address)."""
    repos = obj.ready_repos()
    locks = LoginLocks(repos.engine).active(repos.clock.now())
    if as_json:
        rows = [
            {
                "username": x.username,
                "client_addr": x.client_addr,
                "locked_at": x.locked_at.isoformat(),
                "locked_until": x.locked_until.isoformat(),
            }
            for x in locks
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    if not locks:
        echo("no login is locked")
        return
    echo(f"{'USERNAME':<20} {'ADDRESS':<40} UNTIL")
    for x in locks:
        echo(f"{x.username:<20} {x.client_addr:<40} {x.locked_until:%Y-%m-%d %H:%M:%S} UTC")


@user.command("unlock")
@click.argument("username")
@pass_ctx
def user_unlock(obj: CliContext, username: str) -> None:
    """Let the account log in again from every address the throttle locked (every server
    process obeys within auth.account_cache_seconds)."""
    repos = obj.ready_repos()
    lifted = LoginLocks(repos.engine).unlock(username, repos.clock.now())
    if not lifted:
        echo(f"account {username}: no login was locked")
        return
    for x in lifted:
        echo(f"account {x.username}: unlocked from {x.client_addr}")
