"""A fax's page: its documents, each recipient's calls, the pages as sent, cancel, retry, resend.

Everything is read and done by the status API's functions (``faxout.intake.api.faxes``): the
page shows what ``GET /api/v1/faxes/{id}`` answers, and cancel, retry and resend are refused
for the same reasons as there (the ``Problem``'s detail becomes the flash message). The
recipients' part is a live region (``/faxes/{id}/live``) that ``console.js`` refreshes while
anything can still change; its fragment carries ``data-live-stop`` once all is final. The
page images, the PDF and the reports are ``faxpages``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anyio
from fastapi import APIRouter, Request
from pydantic import ValidationError
from starlette.responses import Response

from faxout.intake.api.faxes import (
    Problem,
    cancel,
    fax_view,
    owned,
    resend,
    retry,
    sender,
    started,
)
from faxout.intake.api.pages import rendered
from faxout.intake.api.resend import ResendAsked
from faxout.intake.api.submit import Problem422, To
from faxout.intake.api.views import FINAL, report_json
from faxout.intake.console.web import (
    ConsoleError,
    Viewer,
    ViewerDep,
    fragment,
    page,
    read_form,
    redirect,
)
from faxout.jobs.numbers import recipient_name
from faxout.jobs.repo import SubmissionView
from faxout.report.status import report_status

router = APIRouter(include_in_schema=False)
MAX_ID = 2**62
THUMB_WIDTH = 180
# What Lifecycle.cancel and Lifecycle.retry act on, in the status API's words: the buttons
# are shown only where they can work (the functions still decide, and say why not).
CANCELLABLE = frozenset({"queued", "rendering", "scheduled", "waiting_for_line"})
RETRYABLE = frozenset({"failed", "partial", "interrupted"})
# How a call ended (faxout.jobs.model.Outcome and Unfinished), in words, with the badge's tone.
OUTCOMES: dict[str, tuple[str, str]] = {
    "ok": ("Sent", "good"),
    "busy": ("Busy", "warn"),
    "no_answer": ("No answer", "warn"),
    "not_fax": ("Not a fax machine", "bad"),
    "rejected": ("Rejected", "bad"),
    "partial": ("Partly sent", "warn"),
    "failed": ("Failed", "bad"),
    "invalid_number": ("No such number", "bad"),
    "abandoned": ("Given up before dialling", "muted"),
    "unknown": ("Unknown: stopped mid-call", "warn"),
}


def outcome_label(outcome: str | None) -> str:
    """A call's outcome in words ("" while the call is on)."""
    if not outcome:
        return ""
    return OUTCOMES.get(outcome, (outcome.replace("_", " ").capitalize(), ""))[0]


def outcome_tone(outcome: str | None) -> str:
    """The badge class of a call's outcome."""
    return OUTCOMES.get(outcome or "", ("", "busy" if not outcome else "muted"))[1]


def duration(attempt: dict[str, Any]) -> str:
    """How long a call held the line (``1 min 05 s``), else from its start to its end."""
    seconds = attempt.get("line_seconds")
    if seconds is None and attempt.get("finished_at") and attempt.get("started_at"):
        start = datetime.fromisoformat(attempt["started_at"])
        seconds = (datetime.fromisoformat(attempt["finished_at"]) - start).total_seconds()
    if seconds is None:
        return ""
    whole = max(0, round(seconds))
    return f"{whole // 60} min {whole % 60:02d} s" if whole >= 60 else f"{whole} s"


def sentence(text: str) -> str:
    """A problem's detail as a sentence for people."""
    text = text.strip()
    return (text[:1].upper() + text[1:]).rstrip(".") + "." if text else ""


def refusal(exc: Problem) -> ConsoleError:
    """The status API's refusal as the console's error page."""
    return ConsoleError(exc.status, sentence(exc.detail))


def id_of(text: str) -> int:
    """A path's id; a 404 for anything that cannot be one (never a 422 of the framework)."""
    if not text.isdigit() or not 0 < int(text) < MAX_ID:
        raise ConsoleError(404, "There is no such fax.")
    return int(text)


def own(viewer: Viewer, fax_id: int) -> SubmissionView:
    """The viewer's fax ``fax_id``; the 404 page for another account's or none."""
    try:
        return owned(viewer.api, viewer.account.username, fax_id)
    except Problem as exc:
        raise refusal(exc) from exc


def chosen(request: Request, sub: SubmissionView) -> int | None:
    """The recipient whose pages are shown (``?recipient=``): one of the fax's, else None
    (the first, as the status API's default)."""
    asked = request.query_params.get("recipient", "")
    ids = {job.id for job in sub.jobs}
    return int(asked) if asked.isdigit() and int(asked) in ids else None


@dataclass(frozen=True)
class Pages:
    """The pages shown for one recipient: how many, or why none."""

    recipient_id: int | None
    total: int = 0
    why: str = ""


def pages_of(viewer: Viewer, sub: SubmissionView, recipient_id: int | None) -> Pages:
    """The pages the page images route serves for the recipient (the same lookup)."""
    try:
        _, rec = rendered(viewer.api, sub, recipient_id)
    except Problem as exc:
        if exc.status == 409:
            why = "The pages are not rendered yet: they are shown here once they are."
        else:
            why = sentence(exc.detail)
        return Pages(recipient_id, why=why)
    return Pages(rec.job_id, rec.total)


def is_final(fax: dict[str, Any], reports: list[dict[str, Any]]) -> bool:
    """Whether nothing on the fax's page can change any more without someone acting: every
    recipient is done and no delivery report is still on its way."""
    done = fax["state"] in FINAL and all(r["state"] in FINAL for r in fax["recipients"])
    return done and all(r["state"] != "pending" for r in reports)


def _read(viewer: Viewer, fax_id: int, request: Request) -> dict[str, Any]:
    sub = own(viewer, fax_id)
    fax = fax_view(viewer.api, sub, viewer.now())
    # As GET /api/v1/faxes/{id} has them, with the row's id to link to the message sent.
    reports = [report_json(r) | {"id": r.id} for r in report_status(viewer.intake.engine, sub.id)]
    pages = pages_of(viewer, sub, chosen(request, sub))
    # As GET /api/v1/faxes/{id}/deliveries has them: the fax's events for the account's hooks.
    events = viewer.api.webhooks.deliveries(fax_id=sub.id, username=viewer.account.username)
    return {
        "fax": fax,
        "reports": reports,
        "pages": pages,
        "events": events,
        "final": is_final(fax, reports),
    }


def _context(found: dict[str, Any]) -> dict[str, Any]:
    fax = found["fax"]
    return {
        **found,
        "cancellable": any(r["state"] in CANCELLABLE for r in fax["recipients"]),
        "retryable": RETRYABLE,
        "outcome_label": outcome_label,
        "outcome_tone": outcome_tone,
        "duration": duration,
        "thumb_width": THUMB_WIDTH,
    }


def _fax_page(
    request: Request, viewer: Viewer, found: dict[str, Any], status: int = 200, **extra: Any
) -> Response:
    fax = found["fax"]
    extra.setdefault("resend_text", "")
    extra.setdefault("resend_error", "")
    return page(
        request,
        "fax.html",
        viewer,
        title=f"Fax {fax['id']}",
        nav="outbox",
        status=status,
        **_context(found),
        **extra,
    )


@router.get("/faxes/{fax_id}")
async def fax_page(request: Request, viewer: ViewerDep, fax_id: str) -> Response:
    """The fax's page."""
    found = await anyio.to_thread.run_sync(_read, viewer, id_of(fax_id), request)
    return _fax_page(request, viewer, found)


@router.get("/faxes/{fax_id}/live")
async def fax_live(request: Request, viewer: ViewerDep, fax_id: str) -> Response:
    """The recipients' part alone, for the live update; ``?pages=0`` when the page was shown
    without pages, so the fragment says when they are ready."""
    found = await anyio.to_thread.run_sync(_read, viewer, id_of(fax_id), request)
    shown = request.query_params.get("pages", "1") != "0"
    return fragment(request, "_fax_live.html", viewer, pages_shown=shown, **_context(found))


@router.post("/faxes/{fax_id}/cancel")
async def fax_cancel(request: Request, viewer: ViewerDep, fax_id: str) -> Response:
    """Cancel every recipient not yet dialling; back to the page with what became of it."""
    form = await read_form(request)
    viewer.check(form.get("csrf"))
    fid = id_of(fax_id)

    def work() -> int:
        own(viewer, fid)
        return cancel(viewer.api, viewer.now(), fid)

    try:
        count = await anyio.to_thread.run_sync(work)
    except Problem as exc:
        return redirect(request, f"/faxes/{fid}", sentence(exc.detail), "error")
    said = "the recipient" if count == 1 else f"{count} recipients"
    return redirect(request, f"/faxes/{fid}", f"Canceled for {said} not yet dialled.")


@router.post("/faxes/{fax_id}/recipients/{recipient_id}/retry")
async def fax_retry(
    request: Request, viewer: ViewerDep, fax_id: str, recipient_id: str
) -> Response:
    """Send a failed or interrupted recipient's fax again, from its first unconfirmed page."""
    form = await read_form(request)
    viewer.check(form.get("csrf"))
    fid, rid = id_of(fax_id), id_of(recipient_id)

    def work() -> None:
        retry(viewer.api, viewer.now(), own(viewer, fid), rid)

    try:
        await anyio.to_thread.run_sync(work)
    except Problem as exc:
        if exc.status == 404:
            raise refusal(exc) from exc
        return redirect(request, f"/faxes/{fid}", sentence(exc.detail), "error")
    started(request, fid)  # dispatch it now, not at the next pass
    return redirect(request, f"/faxes/{fid}", "The recipient is retried now.")


def recipients_of(text: str) -> list[To]:
    """The resend form's recipients, a ``number|name`` a line (blank lines skipped);
    ``Problem422`` for none or one that cannot be read."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    if not lines:
        raise Problem422("Give at least one number to send the fax to.")
    try:
        return [
            To(number=line.partition("|")[0].strip(), name=recipient_name(line)) for line in lines
        ]
    except ValidationError as exc:
        where = exc.errors()[0]
        raise Problem422(f"A recipient cannot be read: {where['msg']}.") from exc


@router.post("/faxes/{fax_id}/resend")
async def fax_resend(request: Request, viewer: ViewerDep, fax_id: str) -> Response:
    """A new fax from this fax's documents to the numbers of the form; its page next."""
    form = await read_form(request)
    viewer.check(form.get("csrf"))
    fid = id_of(fax_id)
    text = form.get("recipients", "")[:20_000]

    def work() -> int:
        original = own(viewer, fid)
        account = sender(viewer.api, viewer.account.username)
        asked = ResendAsked(to=recipients_of(text))
        made = resend(viewer.intake, account, original, asked, request)
        assert not isinstance(made, int)  # no Idempotency-Key: never another request's fax
        return made.submission_id

    try:
        new = await anyio.to_thread.run_sync(work)
    except Problem as exc:
        raise refusal(exc) from exc
    except Problem422 as exc:
        found = await anyio.to_thread.run_sync(_read, viewer, fid, request)
        error = sentence(str(exc))
        return _fax_page(request, viewer, found, 422, resend_text=text, resend_error=error)
    started(request, new)
    return redirect(request, f"/faxes/{new}", f"Fax {new} was made from fax {fid}.")
