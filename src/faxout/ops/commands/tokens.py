"""``faxout token``: API tokens of an account (the status API's Bearer tokens)."""

from __future__ import annotations

import json
from datetime import timedelta

import click

from faxout.accounts.repo import Account
from faxout.accounts.tokens import SCOPES, Token, TokenError, TokenRepo
from faxout.jobs.numbers import InvalidNumberError, normalize_username
from faxout.ops.context import CliContext, pass_ctx
from faxout.text import echo


@click.group()
def token() -> None:
    """API tokens: create one for a program, list them, revoke one."""


def _account(obj: CliContext, username: str) -> Account:
    try:
        user = normalize_username(username)
    except InvalidNumberError as exc:
        raise click.BadParameter(str(exc), param_hint="USERNAME") from exc
    account = obj.ready_repos().accounts.get(user)
    if account is None:
        raise click.ClickException(f"there is no account {user}; `faxout user list` shows them")
    return account


def _describe(t: Token) -> str:
    expires = f"expires {t.expires_at:%Y-%m-%d %H:%M} UTC" if t.expires_at else "no expiry"
    used = f"last used {t.last_used_at:%Y-%m-%d %H:%M} UTC" if t.last_used_at else "never used"
    state = f"REVOKED {t.revoked_at:%Y-%m-%d %H:%M} UTC" if t.revoked_at else "active"
    return f"{t.id:>5}  {t.prefix}…  {','.join(t.scopes):<10} {state}; {expires}; {used}"


@token.command("create")
@click.argument("username")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    type=click.Choice(SCOPES),
    help="What the token may do (repeatable; default: read and send).",
)
@click.option(
    "--expires-in",
    "days",
    type=click.IntRange(1, 3660),
    help="Days until the token stops working (default: never).",
)
@pass_ctx
def token_create(obj: CliContext, username: str, scopes: tuple[str, ...], days: int | None) -> None:
    """Create a token for USERNAME's programs; it is shown once, on the last line."""
    account = _account(obj, username)
    repos = obj.ready_repos()
    now = repos.clock.now()
    expires = now + timedelta(days=days) if days else None
    try:
        secret, made = TokenRepo(repos.engine).create(
            account.id, scopes or SCOPES, now, expires_at=expires
        )
    except TokenError as exc:
        raise click.BadParameter(str(exc)) from exc
    echo(
        f"token {made.id} for {account.username}: {','.join(made.scopes)}; "
        + (f"expires {expires:%Y-%m-%d %H:%M} UTC" if expires else "no expiry")
    )
    echo("It is shown only now: keep it where the program reads it (Authorization: Bearer …).")
    click.echo(f"token {secret}")


@token.command("list")
@click.argument("username")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def token_list(obj: CliContext, username: str, as_json: bool) -> None:
    """List USERNAME's tokens (their first characters, never the secret)."""
    account = _account(obj, username)
    tokens = TokenRepo(obj.ready_repos().engine).list(account.id)
    if as_json:
        keys = ("id", "prefix", "scopes", "created_at", "expires_at", "revoked_at", "last_used_at")
        click.echo(
            json.dumps([{k: getattr(t, k) for k in keys} for t in tokens], indent=2, default=str)
        )
        return
    if not tokens:
        echo(f"no tokens for {account.username}; `faxout token create {account.username}`")
        return
    for t in tokens:
        echo(_describe(t))


@token.command("revoke")
@click.argument("token_id", type=int)
@pass_ctx
def token_revoke(obj: CliContext, token_id: int) -> None:
    """Revoke token TOKEN_ID (as `faxout token list` numbers them): it stops working at once."""
    repos = obj.ready_repos()
    if not TokenRepo(repos.engine).revoke(token_id, repos.clock.now()):
        raise click.ClickException(f"there is no active token {token_id}")
    echo(f"token {token_id} revoked")
