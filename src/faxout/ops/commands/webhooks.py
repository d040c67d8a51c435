"""``faxout webhook``: an account's webhook endpoints, and what was delivered to them."""

from __future__ import annotations

import json

import click

from faxout.jobs.events import EVENTS
from faxout.jobs.numbers import InvalidNumberError, normalize_username
from faxout.ops.context import CliContext, pass_ctx
from faxout.text import echo
from faxout.webhooks.endpoints import Endpoint, EndpointError, Endpoints


@click.group()
def webhook() -> None:
    """Webhooks: where an account's fax events are POSTed, signed."""


def _endpoints(obj: CliContext) -> Endpoints:
    repos = obj.ready_repos()
    return Endpoints(repos.engine, allow_private=repos.settings.webhooks.allow_private)


def _username(username: str) -> str:
    try:
        return normalize_username(username)
    except InvalidNumberError as exc:
        raise click.BadParameter(str(exc), param_hint="USERNAME") from exc


def _describe(e: Endpoint) -> list[str]:
    state = "active" if e.enabled else f"DISABLED ({e.disabled_reason})"
    return [f"{e.id:>5}  {e.username:<16} {e.url}", f"       events: {e.events}; {state}"]


@webhook.command("add")
@click.argument("username")
@click.argument("url")
@click.option(
    "--events",
    default="*",
    show_default=True,
    help=f"The events to send, separated by commas: {', '.join(EVENTS)}; * for all.",
)
@pass_ctx
def webhook_add(obj: CliContext, username: str, url: str, events: str) -> None:
    """Send USERNAME's fax events to URL; the signing secret is shown once, on the last line."""
    endpoints = _endpoints(obj)
    user = _username(username)
    try:
        made, secret = endpoints.add(user, url, events, obj.ready_repos().clock.now())
    except EndpointError as exc:
        raise click.ClickException(str(exc)) from exc
    echo(f"webhook {made.id} for {made.username}: {made.url} ({made.events})")
    echo("Verify each delivery's webhook-signature with this secret; it is shown only now.")
    click.echo(f"secret {secret}")


@webhook.command("list")
@click.argument("username", required=False)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def webhook_list(obj: CliContext, username: str | None, as_json: bool) -> None:
    """List the webhooks (of USERNAME): URL, events, and whether they are active."""
    endpoints = _endpoints(obj)
    found = endpoints.find(_username(username) if username else None)
    if as_json:
        keys = ("id", "username", "url", "events", "enabled", "disabled_reason", "created_at")
        rows = [{k: getattr(e, k) for k in keys} for e in found]
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    if not found:
        echo("no webhooks; `faxout webhook add USERNAME URL` adds one")
        return
    for e in found:
        for line in _describe(e):
            echo(line)


@webhook.command("remove")
@click.argument("webhook_id", type=int)
@pass_ctx
def webhook_remove(obj: CliContext, webhook_id: int) -> None:
    """Remove webhook WEBHOOK_ID (as `faxout webhook list` numbers them) and its pending events."""
    endpoints = _endpoints(obj)
    if not endpoints.remove(webhook_id):
        raise click.ClickException(f"there is no webhook {webhook_id}; `faxout webhook list`")
    echo(f"webhook {webhook_id} removed")


@webhook.command("deliveries")
@click.argument("webhook_id", type=int)
@click.option("--limit", type=click.IntRange(1, 1000), default=20, show_default=True)
@pass_ctx
def webhook_deliveries(obj: CliContext, webhook_id: int, limit: int) -> None:
    """The latest events sent (or waiting) for webhook WEBHOOK_ID."""
    endpoints = _endpoints(obj)
    if endpoints.get(webhook_id) is None:
        raise click.ClickException(f"there is no webhook {webhook_id}; `faxout webhook list`")
    rows = endpoints.deliveries(webhook_id, limit=limit)
    if not rows:
        echo("nothing sent yet")
    for d in rows:
        status = f"HTTP {d.last_status}" if d.last_status else "no answer yet"
        when = d.sent_at or d.next_at
        about = f"received {d.inbound_id}" if d.inbound_id is not None else f"fax {d.fax_id}"
        echo(
            f"{d.id:>6}  {d.created_at:%Y-%m-%d %H:%M:%S}  {d.event:<18} {about}  "
            f"{d.state:<8} tries {d.tries}  {status}"
            + (f"  ({'sent' if d.sent_at else 'next'} {when:%H:%M:%S})" if when else "")
        )
        if d.last_error:
            echo(f"        {d.last_error}")
