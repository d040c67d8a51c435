"""What the ``faxout inbox`` commands are given by name: the inbox repository, an inbox by
its name, an account by its user name; each a clear refusal when there is none."""

from __future__ import annotations

import click

from faxout.accounts.repo import Account
from faxout.inbound.inboxes import Inbox, InboxRepo
from faxout.jobs.numbers import InvalidNumberError, normalize_username
from faxout.ops.context import CliContext


def repo_of(obj: CliContext) -> InboxRepo:
    """The inboxes of the command's database (its schema current)."""
    repos = obj.ready_repos()
    return InboxRepo(repos.engine, repos.clock)


def named(repo: InboxRepo, name: str) -> Inbox:
    """The inbox ``name``; when there is none, a refusal saying how to list or make one."""
    found = repo.by_name(name)
    if found is None:
        raise click.ClickException(
            f"there is no inbox {name!r}; `faxout inbox list` shows them, "
            f"`faxout inbox add {name}` makes one"
        )
    return found


def account_of(obj: CliContext, username: str) -> Account:
    """The account ``username`` (as a fax number may be written); a refusal when none."""
    try:
        user = normalize_username(username)
    except InvalidNumberError as exc:
        raise click.BadParameter(str(exc), param_hint="--account") from exc
    account = obj.ready_repos().accounts.get(user)
    if account is None:
        raise click.ClickException(f"there is no account {user}; `faxout user list` shows them")
    return account


def owners_of(obj: CliContext) -> dict[int, Account]:
    """Every account by id (to name an inbox's or a block's owner)."""
    return {a.id: a for a in obj.ready_repos().accounts.list()}
