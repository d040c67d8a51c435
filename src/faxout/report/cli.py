"""``faxout report show`` and ``faxout report resend``."""

from __future__ import annotations

from typing import Any

import click

from faxout.errors import FaxoutError
from faxout.report.mailer import Mailer, open_mailer
from faxout.report.outbox import Outbox
from faxout.report.settings import Report
from faxout.report.status import report_status
from faxout.text import echo, printable_lines


def _gateway(ctx: click.Context) -> Any:
    """The main CLI's gateway (its --data-dir, FAXOUT_* variables, config file), migrated."""
    ready = getattr(ctx.find_root().obj, "ready_gateway", None)
    if not callable(ready):
        raise click.ClickException("run this as `faxout report …`")
    try:
        return ready()
    except FaxoutError as exc:
        raise click.ClickException(str(exc)) from exc


def report_settings(gw: Any) -> Report:
    """``settings.report`` once the main settings carry it, else the defaults."""
    value = getattr(gw.settings, "report", None)
    return value if isinstance(value, Report) else Report()


def build_outbox(gw: Any, mailer: Mailer | None = None) -> Outbox:
    """The outbox of a gateway, with the mailer its settings name."""
    settings = report_settings(gw)
    return Outbox(
        gw.engine,
        gw.store,
        settings,
        mailer or open_mailer(settings.smtp, gw.settings.data_dir),
        clock=gw.clock,
        worker="cli",
    )


@click.group(name="report")
def report() -> None:
    """Delivery reports: show one, or send it again."""


@report.command("show")
@click.argument("submission", type=int)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["text", "html", "eml"]),
    default="text",
    show_default=True,
    help="The text part, the HTML part, or the whole message as sent.",
)
@click.pass_context
def show(ctx: click.Context, submission: int, fmt: str) -> None:
    """Render SUBMISSION's report as it would be sent now, then how its delivery went."""
    gw = _gateway(ctx)
    outbox = build_outbox(gw)
    composed = outbox.compose_for(submission)
    if composed is None:
        raise click.ClickException(f"there is no submission {submission}")
    if fmt == "html":
        part = composed.message.get_body(("html",))
        assert part is not None
        click.echo(printable_lines(part.get_content()))
        return
    if fmt == "eml":
        click.echo(printable_lines(composed.as_bytes().decode("ascii", "replace")), nl=False)
        return
    echo(f"To: {composed.message['To']}")
    echo(f"Subject: {composed.model.subject}")
    echo("")
    click.echo(printable_lines(composed.text.rstrip("\n")))
    states = [j.state for j in gw.jobs.get_submission(submission).jobs]
    echo("")
    rows = report_status(gw.engine, submission)
    if not rows:
        unfinished = [s for s in states if s not in ("done", "failed", "interrupted", "canceled")]
        echo(
            "delivery: not queued yet"
            + (f" ({len(unfinished)} job(s) not final)" if unfinished else "")
        )
    for row in rows:
        echo(f"delivery: {row.describe()}")


@report.command("resend")
@click.argument("submission", type=int)
@click.pass_context
def resend(ctx: click.Context, submission: int) -> None:
    """Compose SUBMISSION's report afresh and send it now (it stays queued if the relay
    cannot take it yet)."""
    gw = _gateway(ctx)
    if gw.jobs.get_submission(submission) is None:
        raise click.ClickException(f"there is no submission {submission}")
    outbox = build_outbox(gw)
    row_id = outbox.resend(submission)
    if row_id is None:
        raise click.ClickException(
            f"submission {submission} is not finished yet: its report goes out when it is"
        )
    outbox.deliver_pending(gw.clock.now())
    row = next(r for r in report_status(gw.engine, submission) if r.id == row_id)
    echo(row.describe())
    if row.state == "failed":
        raise SystemExit(1)
