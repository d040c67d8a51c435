"""A fax's pages and reports in the console: page PNGs, the PDF, a delivery report as sent.

The images are the status API's (``faxout.intake.api.pages``: the same lookup, the same
drawing in the jail, the same ETag and ``Cache-Control: private, no-cache``), behind the
session instead of a token. A report is shown from the outbox row, which keeps the very bytes
the relay was given (``faxout.report.outbox``: composed once, every retry sends them again):
what is shown is what was sent, not a message composed again. A report not composed yet (it
waits for its first delivery pass) has nothing to show, and the page says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import anyio
from fastapi import APIRouter, Request
from sqlalchemy import select
from starlette.responses import Response

from faxout.db.engine import reading
from faxout.db.tables import outbox
from faxout.intake.api.faxes import Problem
from faxout.intake.api.pages import MIN_WIDTH, page_answer, pdf_answer, rendered
from faxout.intake.api.views import report_json
from faxout.intake.console.fax import chosen, id_of, own, refusal
from faxout.intake.console.web import ConsoleError, Viewer, ViewerDep, finish, page
from faxout.render.geometry import FAX_WIDTH
from faxout.report.status import report_status

router = APIRouter(include_in_schema=False)
MAX_BODY_CHARS = 200_000  # a report's text is a few KB; a larger one is cut, not refused


def thumb_width(request: Request) -> int | None:
    """The ``?width=`` of a page image asked as a thumbnail (None: full size); the 404 page
    for one out of range."""
    asked = request.query_params.get("width", "")
    if not asked:
        return None
    if not asked.isdigit() or not MIN_WIDTH <= int(asked) <= FAX_WIDTH:
        raise ConsoleError(404, f"A thumbnail is {MIN_WIDTH} to {FAX_WIDTH} pixels wide.")
    return int(asked)


def page_number(name: str) -> int:
    """A page number of a path; the 404 page for anything that cannot be one."""
    if not name.isdigit() or not 0 < int(name) < 100_000:
        raise ConsoleError(404, "There is no such page.")
    return int(name)


async def image_answer(request: Request, draw: Callable[[], Response]) -> Response:
    """The image ``draw`` answers (from a worker thread: it reads and decodes), with the
    status API's refusal as the console's error page; it keeps its own Cache-Control, with
    the ETag."""

    def work() -> Response:
        try:
            return draw()
        except Problem as exc:
            raise refusal(exc) from exc

    return finish(request, await anyio.to_thread.run_sync(work), private=False)


@router.get("/faxes/{fax_id}/pages/{number}.png")
async def page_png(request: Request, viewer: ViewerDep, fax_id: str, number: str) -> Response:
    """Page ``number`` as the recipient got it (``?recipient=``, ``?width=`` a thumbnail)."""
    fid, n, width = id_of(fax_id), page_number(number), thumb_width(request)

    def draw() -> Response:
        sub = own(viewer, fid)
        pages, rec = rendered(viewer.api, sub, chosen(request, sub))
        return page_answer(request, pages, rec, fid, n, width)

    return await image_answer(request, draw)


@router.get("/faxes/{fax_id}/fax.pdf")
async def fax_pdf(request: Request, viewer: ViewerDep, fax_id: str) -> Response:
    """Every page as the recipient got it, in one PDF (``?recipient=``)."""
    fid = id_of(fax_id)

    def draw() -> Response:
        sub = own(viewer, fid)
        pages, rec = rendered(viewer.api, sub, chosen(request, sub))
        return pdf_answer(request, pages, rec, fid)

    return await image_answer(request, draw)


@dataclass(frozen=True)
class Attachment:
    """A part of a report that is not its text or HTML."""

    filename: str
    content_type: str
    size: int
    inline: bool


@dataclass
class SentReport:
    """A report message as it was handed to the relay."""

    headers: list[tuple[str, str]]
    text: str
    html: bool
    attachments: list[Attachment] = field(default_factory=list)
    size: int = 0


def read_message(data: bytes) -> SentReport:
    """The parts of ``data`` (an RFC 5322 message) that people read."""
    msg = message_from_bytes(data, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    headers = [(name, str(msg[name])) for name in ("Subject", "From", "To", "Date", "Message-ID")]
    body = msg.get_body(("plain",))
    text = body.get_content() if isinstance(body, EmailMessage) else ""
    report = SentReport(
        [(n, v) for n, v in headers if v != "None"],
        text[:MAX_BODY_CHARS],
        msg.get_body(("html",)) is not None,
        size=len(data),
    )
    for part in msg.walk():
        if part.is_multipart() or part.get_content_type() in ("text/plain", "text/html"):
            continue
        payload = part.get_payload(decode=True)
        report.attachments.append(
            Attachment(
                part.get_filename() or "",
                part.get_content_type(),
                len(payload) if isinstance(payload, bytes) else 0,
                part.get_content_disposition() != "attachment",
            )
        )
    return report


def _report(viewer: Viewer, fax_id: int, report_id: int) -> dict[str, Any]:
    own(viewer, fax_id)
    reports = report_status(viewer.intake.engine, fax_id)
    found = next((r for r in reports if r.id == report_id), None)
    if found is None:
        raise ConsoleError(404, f"Fax {fax_id} has no such report.")
    with reading(viewer.intake.engine) as conn:
        data = conn.execute(select(outbox.c.message).where(outbox.c.id == report_id)).scalar()
    return {
        "fax_id": fax_id,
        "report": report_json(found),
        "report_id": report_id,
        "message": read_message(bytes(data)) if data is not None else None,
    }


@router.get("/faxes/{fax_id}/reports/{report_id}")
async def report_page(request: Request, viewer: ViewerDep, fax_id: str, report_id: str) -> Response:
    """A delivery report of the fax as it was sent (its stored message)."""
    fid, rid = id_of(fax_id), id_of(report_id)
    found = await anyio.to_thread.run_sync(_report, viewer, fid, rid)
    return page(request, "fax_report.html", viewer, title=f"Report of fax {fid}", **found)
