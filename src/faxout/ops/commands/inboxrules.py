"""``faxout inbox route`` and ``faxout inbox block``: the routing rules that pick a call's
inbox, and the block lists that refuse a sender before answer (docs/inbound.md, "Routing")."""

from __future__ import annotations

import json

import click

from faxout.inbound.routing import Rule, blocking, choose, digits
from faxout.ops.commands.inboxnames import account_of, named, owners_of, repo_of
from faxout.ops.context import CliContext, pass_ctx
from faxout.text import echo


@click.group("route")
def route() -> None:
    """Routing rules: which inbox a call goes to.

    A rule matches by the number called, the caller's number and the sender's CSID; the
    first matching rule by position wins. With none, a call to an account's own number goes
    to its inbox, any other to the default inbox ([inbound] default_inbox).

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
    echo(
        f"{'no rules: a' if not rules else 'any other'} call goes to the inbox of the account "
        f"whose number it called, else to {default!r} (default)"
    )


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
    with the CSID. With no rule matching, a call to an account's own number goes to its
    inbox, any other to the default inbox. Nothing is changed.

    \b
    faxout inbox route test --called +16505550100 --caller 4930123456 --csid 'Smith Clinic'
    """
    repo, repos = repo_of(obj), obj.ready_repos()
    rules, names = repo.rules(), {b.id: b for b in repo.all()}
    default = repos.settings.inbound.default_inbox
    # As InboundStore.route, reading only: an inbox it would make is named, not made.
    own = repos.accounts.get(digits(called)) if digits(called) else None

    def where(rule: Rule | None) -> tuple[str, int | None]:
        box = names.get(rule.inbox_id) if rule else None
        if rule is not None and box is not None:
            return f"the inbox {box.name!r} (rule {rule.id})", box.account_id
        if own is not None:
            owned = repo.of_account(own.id)
            name = owned[0].name if owned else own.username
            return f"the inbox {name!r} (account {own.username}'s own number)", own.id
        known = repo.by_name(default)
        return f"the inbox {default!r} (the default)", known.account_id if known else None

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


@click.group("block")
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
    blocks, owners = repo_of(obj).blocks(), owners_of(obj)

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
