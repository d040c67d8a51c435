"""``faxout inbox faxes`` and ``faxout inbox fax``: the received faxes, listed and shown, and a
fax's PDF written out.

Every inbox is seen (``EveryInbox``: the command line holds the database), and nothing here
marks a fax read: an operator looking is not its reader."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from faxout.inbound.listing import (
    EveryInbox,
    InboundFaxes,
    InboundFilter,
    NoImage,
    no_image,
    parse_states,
)
from faxout.inbound.model import InboundFax
from faxout.ops.context import CliContext, pass_ctx
from faxout.text import echo

_WHY_NONE = {
    NoImage.RECEIVING: "it is still being received: its image is stored when the call ends",
    NoImage.PURGED: "its image was removed by retention; its facts are kept",
    NoImage.EMPTY: "no page arrived",
}


def _received(obj: CliContext) -> InboundFaxes:
    from faxout.blobs.factory import open_store

    repos = obj.ready_repos()
    store = open_store(repos.settings.store_url, repos.settings.data_dir)
    return InboundFaxes(repos.engine, store, repos.clock)


def _json(fax: InboundFax) -> dict[str, Any]:
    row = dataclasses.asdict(fax)
    for key, value in row.items():
        if isinstance(value, datetime):
            row[key] = value.isoformat()
    row["state"] = fax.state.value
    row["notes"] = list(fax.notes)
    return row


def _flags(fax: InboundFax) -> str:
    """read or unread, archived, purged: what the operator wants to know at a glance."""
    flags = ["read" if fax.read_at else "unread"]
    if fax.archived_at:
        flags.append("archived")
    if fax.purged_at:
        flags.append("purged")
    return ",".join(flags)


def _when(moment: datetime | None) -> str:
    return f"{moment:%Y-%m-%d %H:%M:%S} UTC" if moment else "-"


@click.command("faxes")
@click.argument("name", required=False)
@click.option("--unread", is_flag=True, help="Only the faxes no one marked read.")
@click.option(
    "--state",
    "states",
    multiple=True,
    metavar="STATE",
    help="Only these: receiving, received, partial, failed (repeat, or a,b).",
)
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def faxes(
    obj: CliContext,
    name: str | None,
    unread: bool,
    states: tuple[str, ...],
    limit: int,
    as_json: bool,
) -> None:
    """List the received faxes (of the inbox NAME), newest first.

    FLAGS: read or unread, archived, purged (the image removed by retention).

    \b
    faxout inbox faxes
    faxout inbox faxes sales --unread --state received,partial --limit 10
    """
    try:
        wanted = parse_states(states)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--state") from exc
    received = _received(obj)
    if name is not None and name not in received.inbox_names(EveryInbox()):
        raise click.ClickException(f"there is no inbox {name!r}; `faxout inbox list` shows them")
    only = InboundFilter(wanted, name, True if unread else None)
    found = received.page(EveryInbox(), only, limit=limit + 1)
    shown = found[:limit]
    if as_json:
        click.echo(json.dumps([_json(f) for f in shown], indent=2))
        return
    if not shown:
        echo("no received faxes" + (" match" if wanted or unread or name else ""))
        return
    echo(
        f"{'ID':>6}  {'STARTED (UTC)':<16}  {'FROM':<16} {'CSID':<20} {'TO':<16} "
        f"{'INBOX':<16} {'PAGES':>5}  {'STATE':<9} FLAGS"
    )
    for f in shown:
        echo(
            f"{f.id:>6}  {f.started_at:%Y-%m-%d %H:%M}  {f.caller or 'withheld':<16} "
            f"{f.csid or '-':<20} {f.called or '?':<16} {f.inbox:<16} {f.pages:>5}  "
            f"{f.state.value:<9} {_flags(f)}"
        )
    if len(found) > limit:
        echo(f"(the newest {limit}; --limit shows more)")


@click.command("fax")
@click.argument("inbound_id", type=int)
@click.option(
    "--pdf",
    "pdf_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Write its pages to this PDF file (each page its own size).",
)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def fax(obj: CliContext, inbound_id: int, pdf_path: Path | None, as_json: bool) -> None:
    """Show one received fax; --pdf writes its pages out.

    INBOUND_ID as `faxout inbox faxes` shows: who sent it, how the call went, whether it was
    read or archived, its image.

    \b
    faxout inbox fax 12
    faxout inbox fax 12 --pdf received-12.pdf
    """
    received = _received(obj)
    found = received.get(EveryInbox(), inbound_id)
    if found is None:
        raise click.ClickException(
            f"there is no received fax {inbound_id}; `faxout inbox faxes` lists them"
        )
    if as_json:
        click.echo(json.dumps(_json(found), indent=2))
    else:
        for line in _facts(found):
            echo(line)
    if pdf_path is not None:
        _write_pdf(received, found, pdf_path, quiet=as_json)


def _facts(f: InboundFax) -> list[str]:
    caller = f.caller or "a withheld number"
    line = [
        f"{f.bit_rate:,} bit/s" if f.bit_rate else "",
        {True: "ECM", False: "no ECM", None: ""}[f.ecm],
        f.compression or "",
        f.resolution,
        f"{f.line_seconds:.1f} s on the line" if f.line_seconds is not None else "",
    ]
    why = no_image(f)
    image = f"{f.size} bytes" if why is None else _WHY_NONE[why]
    lines = [
        f"received fax {f.id}: {f.state.value}, {f.pages} page{'s' if f.pages != 1 else ''}",
        f"  inbox     {f.inbox}",
        f"  from      {caller}" + (f" ({f.caller_name})" if f.caller_name else ""),
        f"  CSID      {f.csid or '-'}",
        f"  to        {f.called or '?'}",
        f"  started   {_when(f.started_at)}",
        f"  finished  {_when(f.finished_at)}",
        f"  line      {', '.join(p for p in line if p) or '-'}",
        "  T.30      "
        + (" ".join(str(p) for p in (f.t30_code, f.t30_text) if p not in (None, "")) or "-"),
        f"  read      {_when(f.read_at) if f.read_at else 'no'}",
        f"  archived  {_when(f.archived_at) if f.archived_at else 'no'}",
        f"  image     {image}",
        f"  call      {f.transport} {f.call_ref}",
    ]
    lines += [f"  note      {note}" for note in f.notes]
    return lines


def _write_pdf(received: InboundFaxes, f: InboundFax, path: Path, *, quiet: bool) -> None:
    """Every page of the fax into ``path`` (written whole, or not at all); said on standard
    error when ``quiet`` (standard output holds JSON)."""
    import io

    from faxout.inbound.pdf import FaxImageError, tiff_to_pdf

    why = no_image(f)
    if why is not None:
        raise click.ClickException(f"fax {f.id} has no PDF: {_WHY_NONE[why]}")
    try:
        with received.image(f) as stored:
            # Read whole: a TIFF is seeked all over, and an S3 object cannot seek.
            body = tiff_to_pdf(io.BytesIO(stored.read()))
    except FaxImageError as exc:
        raise click.ClickException(f"fax {f.id}: {exc}") from exc
    partial = path.with_name(f".{path.name}.part")
    try:
        partial.write_bytes(body)
        partial.replace(path)
    except OSError as exc:
        partial.unlink(missing_ok=True)
        raise click.ClickException(f"cannot write {path}: {exc.strerror or exc}") from exc
    echo(
        f"wrote {path} ({f.pages} page{'s' if f.pages != 1 else ''}, {len(body)} bytes)", err=quiet
    )
