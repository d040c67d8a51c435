"""``/api/v1``: a fax's pages as a recipient got them, header included (docs/api.md, "Page
images and the PDF").

``GET /faxes/{id}/pages/{n}.png`` is page n (1-based, the cover page first, as counted in
``pages_total``): the fax's own 1-bit bitmap at its own resolution, or with ``width`` a grey
thumbnail with square pixels. ``GET /faxes/{id}/fax.pdf`` is every page in one PDF. Both take
``recipient`` (default: the first), because the header names the recipient, and draw each page
with the header of the last call that sent it, else with the time of now (a preview, said in
``X-Faxout-Header-Time``). The drawing is faxout.intake.sentpages.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Annotated

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from faxout.errors import FaxoutError
from faxout.intake.api import openapi as spec
from faxout.intake.api.faxes import Problem
from faxout.intake.api.routes import CallerDep, own_fax
from faxout.intake.sentpages import Recipient, SentPages, Source
from faxout.intake.services import Api
from faxout.jobs.model import SubmissionState
from faxout.jobs.repo import SubmissionView
from faxout.render.geometry import FAX_WIDTH

log = logging.getLogger("faxout.intake")
router = APIRouter(prefix="/api/v1", tags=["faxes"])
MIN_WIDTH = 100
# A later call may draw a page again with its own time: clients revalidate (cheaply, with the
# ETag) rather than keep a page that may have been sent anew since.
CACHE_CONTROL = "private, no-cache"
RecipientQuery = Annotated[
    int | None,
    Query(
        ge=1, le=spec.MAX_ID, description="the recipient's id (default: the fax's first recipient)"
    ),
]


def rendered(
    api: Api, sub: SubmissionView, recipient_id: int | None
) -> tuple[SentPages, Recipient]:
    """The page drawer and the recipient ``recipient_id`` of ``sub`` (None: its first); a
    404 problem for no such recipient or no pages, a 409 while they are not rendered yet, a
    410 once retention removed them."""
    fax_id = sub.id
    pages = api.pages
    if pages is None:
        raise Problem(404, "Not Found", "this server does not serve page images")
    job = next((j for j in sub.jobs if recipient_id in (None, j.id)), None)
    if job is None:
        raise Problem(404, "Not Found", f"fax {fax_id} has no recipient {recipient_id}")
    if sub.purged_at is not None:
        detail = f"the pages of fax {fax_id} were removed by retention; its facts are kept"
        raise Problem(410, "Gone", detail)
    if sub.state == SubmissionState.RENDER_FAILED:
        raise Problem(404, "Not Found", f"fax {fax_id} has no pages: it could not be rendered")
    rec = pages.recipient(job.id)
    if rec is None:
        raise Problem(409, "Conflict", f"fax {fax_id} is not rendered yet", **{"Retry-After": "5"})
    return pages, rec


def _etag(sources: list[Source], *what: object) -> str:
    seen = "|".join([*(s.digest for s in sources), *map(str, what)])
    return '"' + hashlib.sha256(seen.encode()).hexdigest()[:32] + '"'


def _headers(etag: str, sources: list[Source]) -> dict[str, str]:
    times = dict.fromkeys(s.call.at.isoformat() if s.call else "preview" for s in sources)
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    headers["X-Faxout-Header-Time"] = ", ".join(times)
    calls = dict.fromkeys(str(s.call.attempt_no) for s in sources if s.call)
    if calls:
        headers["X-Faxout-Attempt"] = ", ".join(calls)
    return headers


def fresh(request: Request, etag: str) -> bool:
    """Whether the client's ``If-None-Match`` holds this very answer."""
    held = [
        tag.strip().removeprefix("W/")
        for tag in request.headers.get("if-none-match", "").split(",")
    ]
    return etag in held or "*" in held


def _answer(
    request: Request, etag: str, sources: list[Source], media_type: str, draw: Callable[[], bytes]
) -> Response:
    headers = _headers(etag, sources)
    if fresh(request, etag):
        return Response(status_code=304, headers=headers)
    try:
        body = draw()
    except (FaxoutError, OSError) as exc:
        log.error("could not draw the pages: %s", exc)
        raise Problem(500, "Internal Server Error", "the pages could not be drawn") from exc
    return Response(body, media_type=media_type, headers=headers)


def page_answer(
    request: Request, pages: SentPages, rec: Recipient, fax_id: int, page: int, width: int | None
) -> Response:
    """Page ``page`` of ``rec`` as PNG (``width``: a grey thumbnail), with its ETag, or a 304
    when the client holds it; a 404 problem for a page the fax does not have."""
    if not 1 <= page <= rec.total:
        raise Problem(404, "Not Found", f"fax {fax_id} has pages 1 to {rec.total}")
    source = pages.source(rec, page)
    etag = _etag([source], "png", page, width)
    return _answer(request, etag, [source], "image/png", lambda: pages.png(source, page, width))


def pdf_answer(request: Request, pages: SentPages, rec: Recipient, fax_id: int) -> Response:
    """Every page of ``rec`` in one PDF, with its ETag, or a 304 when the client holds it."""
    sources = [pages.source(rec, n) for n in range(1, rec.total + 1)]
    etag = _etag(sources, "pdf")
    answer = _answer(request, etag, sources, "application/pdf", lambda: pages.pdf(sources))
    answer.headers["Content-Disposition"] = f'inline; filename="fax-{fax_id}.pdf"'
    return answer


@router.get(
    "/faxes/{fax_id}/pages/{page}.png",
    summary="One page as the recipient got it, header included (PNG)",
    response_class=Response,
    responses=spec.PAGE_PNG,
)
async def page_png(
    c: CallerDep,
    request: Request,
    fax_id: spec.FaxId,
    page: int,  # never reaches the database: any other number is a 404
    recipient: RecipientQuery = None,
    width: Annotated[
        int | None,
        Query(ge=MIN_WIDTH, le=FAX_WIDTH, description="a grey thumbnail this wide"),
    ] = None,
) -> Response:
    """Page ``page`` (1-based, the cover first): the exact 1-bit bitmap, its resolution in
    ``pHYs``; with ``width`` a grey image of that width, square pixels."""
    c.needs("read")

    def work() -> Response:
        pages, rec = rendered(c.api, own_fax(c, fax_id), recipient)
        return page_answer(request, pages, rec, fax_id, page, width)

    return await anyio.to_thread.run_sync(work)


@router.get(
    "/faxes/{fax_id}/fax.pdf",
    summary="Every page as the recipient got it, in one PDF",
    response_class=Response,
    responses=spec.FAX_PDF,
)
async def fax_pdf(
    c: CallerDep, request: Request, fax_id: spec.FaxId, recipient: RecipientQuery = None
) -> Response:
    """The pages in order, bilevel (CCITT G4), each page the size its resolution gives."""
    c.needs("read")

    def work() -> Response:
        pages, rec = rendered(c.api, own_fax(c, fax_id), recipient)
        return pdf_answer(request, pages, rec, fax_id)

    return await anyio.to_thread.run_sync(work)
