"""``faxout inbox``: inboxes, the routing rules that fill them and the block lists that keep
senders out (docs/inbound.md). The received faxes themselves: ``faxout.ops.commands.received``.

The command line runs with the database's own rights: it sees and changes every inbox, an
account's or shared. It never marks a fax read: looking from here is not reading."""

from __future__ import annotations

import json
from typing import Any

import click

from faxout.accounts.repo import Account
from faxout.inbound.inboxes import Attach, Inbox, InboxError, InboxRepo
from faxout.inbound.routing import Rule, blocking, choose
from faxout.jobs.numbers import InvalidNumberError, normalize_username
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


def repo_of(obj: CliContext) -> InboxRepo:
    """The inboxes of the command's database (its schema current)."""
    repos = obj.ready_repos()
    return InboxRepo(repos.engine, repos.clock)


def named(repo: InboxRepo, name: str) -> Inbox:
    """The inbox ``name``; a clear refusal naming the ones there are when there is none."""
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


def _owners(obj: CliContext) -> dict[int, Account]:
    return {a.id: a for a in obj.ready_repos().accounts.list()}


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
    the calls no rule claims.

    \b
    faxout inbox list
    """
    repo = repo_of(obj)
    boxes, counts, owners = repo.all(), repo.counts(), _owners(obj)
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
    """Change where an inbox mails, what the mail carries, or whose it is.

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


inbox.add_command(faxes)
inbox.add_command(fax)


# -- routing rules ---------------------------------------------------------------------------


@inbox.group("route")
def route() -> None:
    """Routing rules: which inbox a call goes to.

    A rule matches by the number called, the caller's number and the sender's CSID; the
    first matching rule by position wins, and no match means the default inbox
    ([inbound] default_inbox).

    Number patterns compare digits only, `*` any digits, `?` one: `*5550100` matches
    +1 650 555 0100 written nationally or internationally.

    \b
    faxout inbox route add sales --called '*5550100'
    faxout inbox route add legal --caller '+49 30 *' --csid 'Smith Clinic' --position 5
    """


def _pattern(text: str) -> str:
    return text or "any"


@route.command("add")
@click.argument("name")
@click.option("--called", default="", metavar="PATTERN", help="The number dialled (ours).")
@click.option("--caller", default="", metavar="PATTERN", help="The sender's number.")
@click.option("--csid", default="", metavar="TEXT", help="The sender's fax ID (* and ? allowed).")
@click.option(
    "--position",
    type=click.IntRange(0, 1_000_000),
    help="Where it is tried (lowest first; default: after the others).",
)
@pass_ctx
def route_add(
    obj: CliContext, name: str, called: str, caller: str, csid: str, position: int | None
) -> None:
    """Send the calls matching every pattern given to the inbox NAME.

    \b
    faxout inbox route add sales --called '*5550100'
    """
    if not (called or caller or csid):
        raise click.UsageError(
            "give --called, --caller or --csid (a rule with none would take every call)"
        )
    repo = repo_of(obj)
    box = named(repo, name)
    rule = repo.add_rule(box.id, called=called, caller=caller, csid=csid, position=position)
    echo(f"rule {rule.id} (position {rule.position}): {_describe(rule)} → {box.name}")


def _describe(rule: Rule) -> str:
    return (
        f"called {_pattern(rule.called)}, caller {_pattern(rule.caller)}, CSID {rule.csid or 'any'}"
    )


@route.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def route_list(obj: CliContext, as_json: bool) -> None:
    """List the routing rules in the order they are tried.

    \b
    faxout inbox route list
    """
    repo = repo_of(obj)
    names = {b.id: b.name for b in repo.all()}
    rules = repo.rules()
    default = obj.ready_repos().settings.inbound.default_inbox
    if as_json:
        keys = ("id", "position", "called", "caller", "csid")
        rows = [{**{k: getattr(r, k) for k in keys}, "inbox": names.get(r.inbox_id)} for r in rules]
        click.echo(json.dumps(rows, indent=2))
        return
    if rules:
        echo(f"{'ID':>5} {'POS':>6}  {'CALLED':<16} {'CALLER':<16} {'CSID':<20} INBOX")
    for r in rules:
        echo(
            f"{r.id:>5} {r.position:>6}  {_pattern(r.called):<16} {_pattern(r.caller):<16} "
            f"{r.csid or 'any':<20} {names.get(r.inbox_id, '?')}"
        )
    echo(f"{'no rules: every' if not rules else 'any other'} call goes to {default!r} (default)")


@route.command("remove")
@click.argument("rule_id", type=int)
@pass_ctx
def route_remove(obj: CliContext, rule_id: int) -> None:
    """Remove a routing rule (its ID from `route list`).

    \b
    faxout inbox route remove 3
    """
    if not repo_of(obj).remove_rule(rule_id):
        raise click.ClickException(f"there is no rule {rule_id}; `faxout inbox route list`")
    echo(f"rule {rule_id} removed")


@route.command("test")
@click.option("--called", required=True, help="The number dialled.")
@click.option("--caller", default="", help="The sender's number ('' : withheld).")
@click.option("--csid", help="The sender's fax ID, if it says one.")
@pass_ctx
def route_test(obj: CliContext, called: str, caller: str, csid: str | None) -> None:
    """Say where a call would go, or that it would be refused.

    As a real call: screened when it rings (CSID rules skipped, the sender has not said it
    yet; the inbox chosen then decides whose block list applies), routed again at the end
    with the CSID. Nothing is changed.

    \b
    faxout inbox route test --called +16505550100 --caller 4930123456 --csid 'Smith Clinic'
    """
    repo = repo_of(obj)
    rules, names = repo.rules(), {b.id: b for b in repo.all()}
    default = obj.ready_repos().settings.inbound.default_inbox

    def where(rule: Rule | None) -> tuple[str, int | None]:
        box = names.get(rule.inbox_id) if rule else None
        if rule is None or box is None:
            known = repo.by_name(default)
            return f"the inbox {default!r} (the default)", known.account_id if known else None
        return f"the inbox {box.name!r} (rule {rule.id})", box.account_id

    ringing, owner = where(choose(rules, called, caller, None))
    block = blocking(repo.blocks(), caller, owner)
    if block is not None:
        whose = "everyone's" if block.account_id is None else "its account's"
        note = f": {block.note}" if block.note else ""
        echo(f"refused before answer (SIP 603) by block {block.id} ({whose} list{note})")
        echo(f"it rang for {ringing}")
        return
    echo(f"answered, ringing for {ringing}")
    if csid is not None:
        echo(f"with CSID {csid!r} it lands in {where(choose(rules, called, caller, csid))[0]}")
    else:
        echo("it lands there unless a CSID rule claims it (--csid tries one)")


# -- block lists -----------------------------------------------------------------------------


@inbox.group("block")
def block() -> None:
    """Block lists: senders refused before answer (SIP 603).

    A block is an account's (calls to its inboxes) or everyone's.

    \b
    faxout inbox block add '+1 900 *' --note 'premium junk'
    faxout inbox block add '*' --account 16505551234 --note 'withheld numbers'
    """


@block.command("add")
@click.argument("caller_pattern")
@click.option("--account", "username", metavar="USER", help="Only for its inboxes (default: all).")
@click.option("--note", default="", help="Why (shown in the list and the log).")
@pass_ctx
def block_add(obj: CliContext, caller_pattern: str, username: str | None, note: str) -> None:
    """Refuse calls from CALLER_PATTERN, everyone's or an account's.

    CALLER_PATTERN is a number pattern as the routing rules' (`*` any digits, `?` one);
    `*` alone also refuses withheld numbers.

    \b
    faxout inbox block add '+1 900 *' --note 'premium junk'
    """
    owner = account_of(obj, username) if username else None
    made = repo_of(obj).add_block(owner.id if owner else None, caller_pattern, note)
    whose = f"{owner.username}'s inboxes" if owner else "every inbox"
    echo(f"block {made.id}: calls from {made.caller} to {whose} are refused")


@block.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def block_list(obj: CliContext, as_json: bool) -> None:
    """List the blocked senders, everyone's and each account's.

    \b
    faxout inbox block list
    """
    blocks, owners = repo_of(obj).blocks(), _owners(obj)

    def whose(account_id: int | None) -> str | None:
        if account_id is None:
            return None
        owner = owners.get(account_id)
        return owner.username if owner else f"account {account_id}"

    if as_json:
        rows = [
            {"id": b.id, "caller": b.caller, "account": whose(b.account_id), "note": b.note}
            for b in blocks
        ]
        click.echo(json.dumps(rows, indent=2))
        return
    if not blocks:
        echo("no sender is blocked; `faxout inbox block add PATTERN` blocks one")
        return
    echo(f"{'ID':>5}  {'CALLER':<16} {'FOR':<16} NOTE")
    for b in blocks:
        echo(f"{b.id:>5}  {b.caller:<16} {whose(b.account_id) or 'everyone':<16} {b.note}")


@block.command("remove")
@click.argument("block_id", type=int)
@pass_ctx
def block_remove(obj: CliContext, block_id: int) -> None:
    """Remove a block (its ID from `block list`).

    \b
    faxout inbox block remove 2
    """
    if not repo_of(obj).remove_block(block_id):
        raise click.ClickException(f"there is no block {block_id}; `faxout inbox block list`")
    echo(f"block {block_id} removed")
