"""``faxout retention``: remove the images of faxes past their retention (docs/inbound.md)."""

from __future__ import annotations

import click

from faxout.ops.context import CliContext, pass_ctx
from faxout.text import echo


@click.group()
def retention() -> None:
    """Retention: remove old received images and sent documents."""


def _plural(n: int, one: str, many: str | None = None) -> str:
    return f"{n} {one if n == 1 else (many or one + 's')}"


@retention.command("run")
@click.option("--dry-run", is_flag=True, help="Only list what would be removed; change nothing.")
@pass_ctx
def retention_run(obj: CliContext, dry_run: bool) -> None:
    """Remove now what is past its retention.

    That is the image of each received fax, and the documents, pages and cover pages of each
    sent fax whose recipients are all final, finished more than the account's retention days
    ago (faxout user set --retention-days; else the server's inbound.retention_days). The
    faxes themselves, their calls and their reports stay. `faxout serve` does this every
    hour; each removal writes a line on the faxout.audit log."""
    from faxout.inbound.retention import Purged, Retention

    gw = obj.ready_gateway()
    verb = "would remove" if dry_run else "removed"

    def shown(item: Purged) -> None:
        whose = item.account or "a shared inbox"
        what = "received fax" if item.what == "received" else "sent fax"
        echo(
            f"{verb} {what} {item.id} ({whose}): finished {item.age_days:.1f} days ago, "
            f"{_plural(len(item.keys), 'file')}"
        )

    purge = Retention(
        gw.engine, gw.store, gw.clock, default_days=gw.settings.inbound.retention_days
    )
    counts = purge.run(dry_run=dry_run, on_item=shown)
    if not counts.received and not counts.sent:
        echo("nothing is past its retention")
        return
    faxes = (
        f"the image of {_plural(counts.received, 'received fax', 'received faxes')} and the "
        f"documents of {_plural(counts.sent, 'sent fax', 'sent faxes')}"
    )
    if dry_run:
        echo(f"{verb} {faxes} ({_plural(counts.blobs, 'file')}, less any another fax still holds)")
    else:
        echo(f"{verb} {faxes}; {_plural(counts.blobs, 'file')} deleted from the document store")
