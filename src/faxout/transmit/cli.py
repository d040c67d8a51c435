"""``faxout sim``: send a fax over the simulated line from the command line."""

from __future__ import annotations

import json
import sys
import uuid
from pathlib import Path

import click
from click.core import ParameterSource

from faxout.errors import FaxoutError
from faxout.text import echo, printable
from faxout.transmit.behaviour import DEFAULT_TABLE, BehaviourTable
from faxout.transmit.g711 import Law
from faxout.transmit.line import PacketImpairment
from faxout.transmit.result import CallProgress, CallResult, Compression, FaxCall, Modem
from faxout.transmit.simline import Medium, SimLineConfig, SimLineTransport

_CODINGS_UP_TO = {
    Compression.MH: (Compression.MH,),
    Compression.MR: (Compression.MH, Compression.MR),
    Compression.MMR: (Compression.MH, Compression.MR, Compression.MMR),
}


def _table_help() -> str:
    rows = BehaviourTable(DEFAULT_TABLE).describe()
    lines = [f"  {number:<14} {spec}" for number, spec in rows if "reject" not in spec]
    lines.append("  +1555777001N   reject-after:N (N = 0..9)")
    return "\n".join(lines)


SIM_HELP = f"""Send faxes over the simulated phone line (spandsp on both ends).

\b
The far end is a virtual fax machine whose behaviour depends on the dialled
number, like a carrier's test numbers. Only the reserved block +1 555 777 xxxx
carries behaviours; every other number answers normally:
{_table_help()}

\b
  busy          the line is busy; outcome busy, no fax engine runs
  no-answer     it rings until we give up; outcome no_answer
  voice         a person answers; outcome not_fax (T.30 code 2)
  noisy         noise 20 dB under the signal (1 % packet loss on T.38), a
                V.29 machine: ECM repairs; non-ECM pages may arrive damaged
  slow-modem    the machine has V.27ter only (4800/2400 bit/s)
  no-ecm        the machine has no error correction (so no MMR)
  reject-after:N  takes N pages, then hangs up before page N+1: outcome
                partial with N pages confirmed; N=0 refuses the call
                outright (outcome rejected, T.30 code 9)

Override or extend the table with --behaviour NUMBER=SPEC (a number, or a
prefix ending in *; an exact number beats a prefix, the longest prefix wins).
Received faxes are stored in DATA_DIR/received/.
"""


@click.group(name="sim", help=SIM_HELP)
def sim() -> None:
    """The ``sim`` command group."""


def data_dir_option(ctx: click.Context, given: Path | None) -> Path:
    """``sim send --data-dir``, else the main CLI's settings (its --data-dir, FAXOUT_DATA_DIR,
    its config file), else FAXOUT_DATA_DIR, else ``./var``."""
    if given is not None and ctx.get_parameter_source("data_dir") is ParameterSource.COMMANDLINE:
        return given
    settings = getattr(ctx.find_root().obj, "settings", None)
    if callable(settings):
        try:
            return Path(settings().data_dir)
        except FaxoutError as exc:
            raise click.ClickException(str(exc)) from exc
    return given if given is not None else Path("var")


def _table(overrides: tuple[str, ...]) -> BehaviourTable:
    entries: dict[str, str] = dict(DEFAULT_TABLE)
    for item in overrides:
        number, sep, spec = item.partition("=")
        if not sep:
            raise click.BadParameter(
                f"expected NUMBER=SPEC, got {item!r}", param_hint="--behaviour"
            )
        entries[number] = spec
    try:
        return BehaviourTable(entries)
    except FaxoutError as exc:
        raise click.BadParameter(str(exc), param_hint="--behaviour") from exc


def show_progress(event: CallProgress) -> None:
    at = f"[{event.line_seconds:7.1f} s]"
    if event.stage == "page":
        line = f"{at} page {event.page}/{event.pages}: {event.verdict} ({event.detail})"
    else:
        line = f"{at} {event.stage} {event.detail}".rstrip()
    echo(line, err=True)


def summary(result: CallResult) -> str:
    lines = [
        f"outcome:    {result.outcome.value}{' (success)' if result.success else ''}",
        f"T.30:       {result.t30_code} {result.t30_text}",
        f"pages:      {result.pages_confirmed} confirmed, {result.pages_sent} sent, "
        f"{result.pages_in_document} in document",
    ]
    for page in result.pages:
        lines.append(f"  page {page.number}: {page.verdict}, bad rows {page.bad_rows}")
    if result.bit_rate:
        coding = result.compression.value.upper() if result.compression else "-"
        lines.append(
            f"link:       {result.modem} {result.bit_rate} bit/s, "
            f"ECM {'on' if result.ecm else 'off'}, {coding}"
        )
    if result.remote_csid:
        lines.append(f"remote:     {result.remote_csid}")
    lines.append(
        f"time:       {result.line_seconds:.1f} s on the line, {result.wall_seconds:.3f} s wall"
    )
    lines.extend(f"note:       {note}" for note in result.notes)
    stored = result.received_path or "nothing (no page arrived)"
    lines.append(f"received:   {stored}")
    # The far end chooses its CSID and what the call notes quote: no raw control characters.
    return "\n".join(printable(line) for line in lines)


@sim.command("send")
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--to", "number", required=True, help="Number to dial, e.g. +15557770001.")
@click.option(
    "--modem",
    type=click.Choice([m.value for m in Modem]),
    help="Offer only this modem (default: all, fastest first).",
)
@click.option("--ecm/--no-ecm", default=True, show_default=True, help="Error correction mode.")
@click.option("--t38", is_flag=True, help="Carry the call over T.38 instead of G.711 audio.")
@click.option(
    "--compression",
    type=click.Choice([c.value for c in Compression]),
    default=Compression.MMR.value,
    show_default=True,
    help="Best coding offered (MMR needs ECM; T.30 falls back).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON on stdout.")
@click.option(
    "--data-dir",
    type=click.Path(file_okay=False, path_type=Path),
    envvar="FAXOUT_DATA_DIR",
    help="Where received faxes go (DATA_DIR/received; env FAXOUT_DATA_DIR; default ./var).",
)
@click.option("--law", type=click.Choice([x.value for x in Law]), default="alaw", show_default=True)
@click.option("--loss", type=click.FloatRange(0, 1), default=0.0, help="T.38 datagram loss.")
@click.option("--redundancy", type=click.IntRange(0, 8), default=0, help="T.38 redundancy.")
@click.option("--realtime", is_flag=True, help="Pace the call to real time (for demos).")
@click.option("--behaviour", "behaviours", multiple=True, metavar="NUMBER=SPEC")
@click.pass_context
def send(
    ctx: click.Context,
    file: Path,
    number: str,
    modem: str | None,
    ecm: bool,
    t38: bool,
    compression: str,
    as_json: bool,
    data_dir: Path | None,
    law: str,
    loss: float,
    redundancy: int,
    realtime: bool,
    behaviours: tuple[str, ...],
) -> None:
    """Send FILE (a fax TIFF: 1728 px wide, 204 x 98/196 dpi) to NUMBER on the simulated line.

    Prints per-page progress as it happens, then the call result (JSON with --json). Exits 0
    only when the fax was delivered in full (code 0, every page MCF, no bad rows).
    """
    config = SimLineConfig(
        data_dir=data_dir_option(ctx, data_dir),
        medium=Medium.T38 if t38 else Medium.AUDIO,
        law=Law(law),
        packets=PacketImpairment(loss=loss, redundancy=redundancy),
        realtime=realtime,
        behaviours=_table(behaviours),
    )
    call = FaxCall(
        document=file.resolve(),
        number=number,
        call_id=f"sim-{uuid.uuid4().hex[:12]}",
        modems=(Modem(modem),) if modem else tuple(Modem),
        ecm=ecm,
        compressions=_CODINGS_UP_TO[Compression(compression)],
    )
    try:
        result = SimLineTransport(config).send(call, show_progress)
    except FaxoutError as exc:
        raise click.ClickException(str(exc)) from exc
    if as_json:
        click.echo(json.dumps(result.to_json(), indent=2))
    else:
        click.echo(summary(result))
    sys.exit(0 if result.success else 1)


@sim.command("receive")
@click.argument(
    "files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@click.option("--from", "caller", default="+15555550100", show_default=True, help="Caller ID.")
@click.option("--name", "caller_name", default="faxout test sender", help="Caller name.")
@click.option("--csid", default="+1 555 555 0100", show_default=True, help="Sender's CSID.")
@click.option("--to", "called", default="", help="The number dialled (routing rules use it).")
@click.option("--t38", is_flag=True, help="Carry the call over T.38 instead of G.711 audio.")
@click.option("--ecm/--no-ecm", default=True, show_default=True, help="Error correction mode.")
@click.pass_context
def receive(
    ctx: click.Context,
    files: tuple[Path, ...],
    caller: str,
    caller_name: str,
    csid: str,
    called: str,
    t38: bool,
    ecm: bool,
) -> None:
    """Have a virtual fax machine fax FILES to this gateway.

    FILES are rendered into fax pages (as a submission's are), then a virtual machine calls
    the gateway over the simulated line and sends them. The gateway answers with its own T.30
    terminal and stores the fax as it stores one from a SIP trunk: routed to an inbox by the
    rules, mailed, announced to webhooks, listed by the API and the console's inbox. Exits 1
    when the caller is blocked or nothing arrived.
    """
    import tempfile

    from faxout.inbound.store import Refuse
    from faxout.render.document import render_submission
    from faxout.transmit.siminbound import DocumentError, VirtualSender, receive_test_fax

    root = ctx.find_root().obj
    if root is None or not hasattr(root, "ready_gateway"):  # pragma: no cover - under faxout
        raise click.UsageError("run it as `faxout sim receive`")
    gw = root.ready_gateway()
    sender = VirtualSender(
        caller=caller,
        caller_name=caller_name,
        csid=csid,
        called=called,
        medium=Medium.T38 if t38 else Medium.AUDIO,
        ecm=ecm,
    )
    with tempfile.TemporaryDirectory(prefix="faxout-receive-") as tmp:
        document = Path(tmp) / "pages.tif"
        click.echo(f"rendering {len(files)} file(s)…", err=True)
        rendered = render_submission(list(files), document, gw.settings.render.options())
        if rendered.refusal is not None:
            raise click.ClickException(f"{rendered.refusal} — nothing was sent")
        click.echo(f"calling the gateway from {caller} with {rendered.pages} page(s)…", err=True)
        try:
            fax = receive_test_fax(gw.inbound_store("simline"), document, sender)
        except (DocumentError, FaxoutError) as exc:
            raise click.ClickException(str(exc)) from exc
    if isinstance(fax, Refuse):
        note = f": {fax.block.note}" if fax.block.note else ""
        echo(f"refused before answer: {caller} is blocked (block {fax.block.id}{note})")
        sys.exit(1)
    echo(
        f"received fax {fax.id}: {fax.pages} page(s) from {printable(fax.caller)} "
        f"({printable(fax.csid)}) into inbox {printable(fax.inbox)!r}, {fax.state.value}; "
        f"{fax.bit_rate or 0} bit/s, ECM {'on' if fax.ecm else 'off'}, "
        f"{fax.line_seconds or 0:.1f} s on the line"
    )
    sys.exit(0 if fax.pages else 1)
