"""``faxout inbox``: inboxes, the routing rules that fill them and the block lists that keep
senders out (``inboxrules``), and the received faxes (``received``); docs/inbound.md.

The command line runs with the database's own rights: it sees and changes every inbox, an
account's or shared. It never marks a fax read: looking from here is not reading."""

from __future__ import annotations

import json
from typing import Any

import click

from faxout.accounts.repo import Account
from faxout.inbound.inboxes import Attach, Inbox, InboxError
from faxout.ops.commands.inboxnames import account_of, named, owners_of, repo_of
from faxout.ops.commands.inboxrules import block, route
from faxout.ops.commands.received import fax, faxes
from faxout.ops.context import CliContext, pass_ctx
from faxout.text import echo

ATTACH_HELP = "What the mail carries: pdf, tiff, or link (privacy: no attachment, a link)."
EMAIL_HELP = "Where its faxes are mailed, comma-separated; '' = the owner's address (shared: none)."


class _InboxGroup(click.Group):
    """Turns the repository's refusals (a bad pattern, a bad address) into one clear line."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except InboxError as exc:
            raise click.ClickException(str(exc)) from exc


@click.group(cls=_InboxGroup)
def inbox() -> None:
    """Received faxes: inboxes, routing rules, block lists.

    \b
    faxout inbox add sales --email sales@example.com
    faxout inbox route add sales --called '*5550100'
    faxout inbox route test --called +16505550100 --caller 4930123456
    faxout inbox faxes sales --unread
    """


def _mail_to(box: Inbox, owner: Account | None) -> str:
    """Where the inbox's faxes are mailed, as the operator reads it."""
    if box.email:
        return ", ".join(box.email)
    return f"owner ({owner.email})" if owner is not None else "nobody"


def _summary(box: Inbox, owner: Account | None) -> str:
    whose = f"{owner.username}'s" if owner is not None else "shared"
    return f"{whose}, mails to {_mail_to(box, owner)}, attaches {box.attach.value}"


def _owner_name(box: Inbox, owners: dict[int, Account]) -> str:
    if box.account_id is None:
        return "shared"
    owner = owners.get(box.account_id)
    return owner.username if owner is not None else f"account {box.account_id}"


# -- inboxes ---------------------------------------------------------------------------------


@inbox.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def inbox_list(obj: CliContext, as_json: bool) -> None:
    """List the inboxes, their owners, mail and fax counts.

    The owner is an account, or "shared" (operators see it); "(default)" marks the inbox of
    the calls that neither a rule nor an account's own number claims.

    \b
    faxout inbox list
    """
    repo = repo_of(obj)
    boxes, counts, owners = repo.all(), repo.counts(), owners_of(obj)
    default = obj.ready_repos().settings.inbound.default_inbox
    if as_json:
        rows = [
            {
                "name": b.name,
                "account": None if b.account_id is None else _owner_name(b, owners),
                "email": list(b.email),
                "attach": b.attach.value,
                "unread": counts.get(b.id, (0, 0))[0],
                "total": counts.get(b.id, (0, 0))[1],
                "default": b.name == default,
            }
            for b in boxes
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    if not boxes:
        echo(
            f"no inboxes yet; faxes no rule claims go to {default!r} (made on the first one); "
            "`faxout inbox add NAME` makes one"
        )
        return
    echo(f"{'NAME':<20} {'OWNER':<16} {'ATTACH':<6} {'UNREAD':>6} {'TOTAL':>6}  MAIL TO")
    for b in boxes:
        unread, total = counts.get(b.id, (0, 0))
        owner = owners.get(b.account_id) if b.account_id is not None else None
        name = f"{b.name} (default)" if b.name == default else b.name
        echo(
            f"{name:<20} {_owner_name(b, owners):<16} {b.attach.value:<6} {unread:>6} {total:>6}  "
            f"{_mail_to(b, owner)}"
        )


@inbox.command("add")
@click.argument("name")
@click.option("--account", "username", metavar="USER", help="Its owner (default: shared).")
@click.option("--email", help=EMAIL_HELP)
@click.option("--attach", type=click.Choice([a.value for a in Attach]), help=ATTACH_HELP)
@pass_ctx
def inbox_add(
    obj: CliContext, name: str, username: str | None, email: str | None, attach: str | None
) -> None:
    """Make an inbox, an account's or shared.

    An account's inbox (--account) is seen by the account in the console and its block list
    applies to the calls for it; a shared one is seen by operators. Route calls to it with
    `faxout inbox route add NAME`.

    \b
    faxout inbox add sales --email sales@example.com,boss@example.com
    faxout inbox add legal --account 16505551234 --attach link
    """
    repo = repo_of(obj)
    if repo.by_name(name.strip()) is not None:
        raise click.ClickException(
            f"there is already an inbox {name.strip()!r}; `faxout inbox set` changes it"
        )
    owner = account_of(obj, username) if username else None
    made = repo.ensure(name, owner.id if owner else None, email or "")
    if attach is not None:
        made = repo.configure(made.id, attach=attach)
    echo(f"inbox {made.name} made ({_summary(made, owner)})")


@inbox.command("set")
@click.argument("name")
@click.option("--email", help=EMAIL_HELP)
@click.option("--attach", type=click.Choice([a.value for a in Attach]), help=ATTACH_HELP)
@click.option("--account", "username", metavar="USER", help="Give it to this account.")
@click.option("--shared", is_flag=True, help="Take it from its account: operators see it.")
@pass_ctx
def inbox_set(
    obj: CliContext,
    name: str,
    email: str | None,
    attach: str | None,
    username: str | None,
    shared: bool,
) -> None:
    """Change an inbox's addresses, attachment or owner.

    \b
    faxout inbox set sales --attach tiff --email fax@example.com
    faxout inbox set sales --email ''          # the owner's address again
    faxout inbox set sales --shared
    """
    if username and shared:
        raise click.UsageError("--account and --shared: give one of them")
    if email is None and attach is None and not username and not shared:
        raise click.UsageError("nothing to change: give --email, --attach, --account or --shared")
    repo = repo_of(obj)
    box = named(repo, name)
    owner = account_of(obj, username) if username else None
    inbound = obj.ready_repos().settings.inbound
    if email is not None and box.name == inbound.default_inbox and inbound.default_email:
        # The store sets them from the setting again on the next fax: say so, change nothing.
        raise click.ClickException(
            f"{box.name!r} is the default inbox: its addresses are [inbound] default_email "
            f"({inbound.default_email}); change that setting instead"
        )
    if email is not None or attach is not None:
        box = repo.configure(box.id, email=email, attach=attach)
    if owner is not None or shared:
        box = repo.assign(box.id, owner.id if owner else None)
    current = obj.ready_repos().accounts.by_id(box.account_id) if box.account_id else None
    echo(f"inbox {box.name} updated ({_summary(box, current)})")


@inbox.command("remove")
@click.argument("name")
@click.option("--move-faxes-to", metavar="INBOX", help="First move its received faxes there.")
@pass_ctx
def inbox_remove(obj: CliContext, name: str, move_faxes_to: str | None) -> None:
    """Remove an inbox that nothing points at.

    Refused while routing rules send calls to it or it holds received faxes
    (--move-faxes-to moves them first), and for the default inbox.

    \b
    faxout inbox remove old-sales --move-faxes-to sales
    """
    repo = repo_of(obj)
    box = named(repo, name)
    default = obj.ready_repos().settings.inbound.default_inbox
    if box.name == default:
        raise click.ClickException(
            f"{box.name!r} is the default inbox: faxes no rule claims go there, and it would be "
            "made again; name another in [inbound] default_inbox first"
        )
    target = named(repo, move_faxes_to) if move_faxes_to else None
    held = repo.remove(box.id, move_faxes_to=target.id if target else None)
    if held is not None and held.rules:
        ids = ", ".join(str(r) for r in held.rules)
        which = f"routing rules {ids} send" if len(held.rules) > 1 else f"routing rule {ids} sends"
        raise click.ClickException(
            f"{which} calls to {box.name!r}: remove {'them' if len(held.rules) > 1 else 'it'} "
            "first (`faxout inbox route remove ID`; `faxout inbox route list` shows them)"
        )
    if held is not None:
        raise click.ClickException(
            f"{box.name!r} holds {held.faxes} received fax{'es' if held.faxes != 1 else ''}: "
            f"`faxout inbox remove {box.name} --move-faxes-to INBOX` moves them first"
        )
    echo(f"inbox {box.name} removed" + (f"; its faxes are in {target.name}" if target else ""))
    owner = obj.ready_repos().accounts.by_id(box.account_id) if box.account_id else None
    if owner is not None and not repo.of_account(owner.id):
        echo(f"(a fax to {owner.username}'s own number makes it an inbox again)")


for _command in (route, block, faxes, fax):
    inbox.add_command(_command)
