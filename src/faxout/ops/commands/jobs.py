"""``faxout jobs``: submissions and their jobs."""

from __future__ import annotations

import json
import sys
from collections import Counter

import click

from faxout.jobs.livecall import live_call
from faxout.jobs.model import JobState
from faxout.jobs.repo import JobView, SubmissionView, to_json
from faxout.ops.context import CliContext, pass_ctx
from faxout.text import echo


@click.group()
def jobs() -> None:
    """Look at submissions and their jobs (one job per recipient)."""


_WHY_CHARS = 40
_WORKING = (JobState.QUEUED, JobState.CLAIMED, JobState.DIALING)


def _next_try(j: JobView) -> str:
    """When the job is tried next: a time for a waiting job, "now" for one being worked on."""
    if j.state in _WORKING:
        return "now"
    if j.state != "ready":
        return "-"
    return j.due_at.strftime("%Y-%m-%d %H:%M")


def _job_line(j: JobView) -> str:
    why = j.reason if len(j.reason) <= _WHY_CHARS else j.reason[: _WHY_CHARS - 1] + "…"
    return (
        f"{j.id:>6} {j.submission_id:>6} {j.state:<12} {j.number:<16} {j.username:<14} "
        f"{_next_try(j):<16}  {why:<{_WHY_CHARS}}  {j.name}"
    )


def _settled(sub: SubmissionView) -> str:
    """A submission's state as the operator reads it: a settled one says how it went."""
    if sub.state != "done":
        return sub.state
    counts = Counter(j.state for j in sub.jobs)
    sent = counts.pop("done", 0)
    parts = [f"{sent} of {len(sub.jobs)} sent", *(f"{n} {state}" for state, n in counts.items())]
    return f"finished ({', '.join(parts)})"


@jobs.command("list")
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@click.option("--state", help="Only jobs in this state (accepted, ready, done, failed…).")
@click.option("--submission", type=int, help="Only the jobs of this submission.")
@click.option("--limit", type=click.IntRange(1, 100_000), default=50, show_default=True)
@pass_ctx
def jobs_list(
    obj: CliContext, as_json: bool, state: str | None, submission: int | None, limit: int
) -> None:
    """List jobs, newest first."""
    rows = obj.ready_repos().jobs.list_jobs(limit=limit, state=state, submission_id=submission)
    if as_json:
        click.echo(json.dumps([to_json(j) for j in rows], indent=2))
        return
    if not rows:
        echo("no jobs")
        return
    echo(
        f"{'JOB':>6} {'SUBM':>6} {'STATE':<12} {'NUMBER':<16} {'ACCOUNT':<14} "
        f"{'NEXT TRY (UTC)':<16}  {'WHY':<{_WHY_CHARS}}  NAME"
    )
    for j in rows:
        echo(_job_line(j))


@jobs.command("show")
@click.argument("job_id", type=int)
@click.option("--json", "as_json", is_flag=True, help="Machine-readable output.")
@pass_ctx
def jobs_show(obj: CliContext, job_id: int, as_json: bool) -> None:
    """Show one job: state and why, attempts, its submission's documents and notes."""
    gw = obj.ready_repos()
    job = gw.jobs.get_job(job_id)
    if job is None:
        raise click.ClickException(f"there is no job {job_id}; `faxout jobs list` shows them")
    sub = gw.jobs.get_submission(job.submission_id)
    assert sub is not None
    tries = gw.jobs.attempts(job_id)
    if as_json:
        data = {
            "job": to_json(job),
            "submission": to_json(sub),
            "attempts": [to_json(a) for a in tries],
        }
        click.echo(json.dumps(data, indent=2))
        return
    echo(f"job {job.id}: {job.state}, to {job.number}" + (f" ({job.name})" if job.name else ""))
    if job.reason:
        echo(f"  why         {job.reason}")
    given = f" (Sendtime given: {sub.sendtime_raw})" if sub.sendtime_raw else ""
    echo(f"  send at     {job.send_at.isoformat()}{given}")
    if job.state == "ready" and job.next_attempt_at:
        echo(f"  next try    {job.next_attempt_at.isoformat()}")
    if job.kill_at:
        echo(f"  kill time   {job.kill_at.isoformat()}")
    own = job.pages or sub.pages
    total = own + (0 if sub.cover_page == "none" else 1) if own else None
    pages = f"{job.pages_confirmed}/{total}" if total else "-"
    paper = f"; paper {job.paper}" if job.paper else ""
    echo(f"  dials/tries {job.dials}/{job.tries}; pages confirmed {pages}{paper}")
    call = live_call(job, tries)
    if call and call.page:
        of = f" of {total}" if total else ""
        echo(f"  now         sending page {call.page}{of} ({call.pages_confirmed} confirmed)")
    for a in tries:
        how = ", ".join(
            str(x)
            for x in (
                a.modem,
                f"{a.bit_rate} bit/s" if a.bit_rate else None,
                "ECM" if a.ecm else None,
                a.compression,
                a.remote_csid and f"CSID {a.remote_csid}",
            )
            if x
        )
        code = f" (T.30 {a.t30_code}: {a.t30_text})" if a.t30_code else ""
        echo(
            f"  attempt {a.attempt_no}: {a.outcome or a.phase}{code}, pages {a.pages_confirmed}/"
            f"{a.pages_total} from page {a.first_page}"
            + (f", {how}" if how else "")
            + (f" [{a.detail}]" if a.detail else "")
        )
    echo(
        f"submission {sub.id}: {_settled(sub)}, from {sub.username} <{sub.email}>, "
        f"accepted {sub.created_at.isoformat()} (request {sub.request_id})"
    )
    echo(
        f"  resolution  {sub.resolution}; cover page {sub.cover_page}"
        + (f"; {sub.pages} page(s) rendered" if sub.pages else "")
    )
    if sub.render_error:
        echo(f"  render      {sub.render_error}")
    if sub.render_diagnostic:  # what the converter said: the sender's report leaves it out
        echo(f"  converter   {sub.render_diagnostic}")
    if sub.purged_at is not None:
        echo(f"  purged      {sub.purged_at.isoformat()}: documents and pages removed by retention")
    for d in sub.documents:
        echo(f"  document {d.seq}: {d.filename} ({d.size} bytes)")
    for j in sub.jobs:
        if j.id != job.id:
            echo(f"  also to {j.number} (job {j.id}, {j.state})")
    for note in [*sub.notes, *(sub.render_warnings or [])]:
        echo(f"  note: {note}")
    from faxout.report.status import report_status

    for view in report_status(gw.engine, sub.id):
        echo(f"  {view.describe()}")


@jobs.command("cancel")
@click.argument("job_id", type=int, required=False)
@click.option("--submission", type=int, help="Cancel every job of this submission instead.")
@pass_ctx
def jobs_cancel(obj: CliContext, job_id: int | None, submission: int | None) -> None:
    """Cancel a job (or a whole submission) that is not dialling yet."""
    from faxout.jobs.lifecycle import Lifecycle

    if (job_id is None) == (submission is None):
        raise click.UsageError("give a JOB_ID or --submission ID")
    gw = obj.ready_gateway()
    result = Lifecycle(gw.engine, gw.settings.retry.kill_time).cancel(
        gw.clock.now(), job_id=job_id, submission_id=submission
    )
    for jid in result.canceled:
        echo(f"job {jid} canceled")
    for jid, state in result.refused:
        echo(f"job {jid} not canceled: it is {state}", err=True)
    if not result.canceled and not result.refused:
        raise click.ClickException("no such job or submission")
    if result.refused:
        sys.exit(1)
