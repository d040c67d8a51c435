"""``/api/v1/inbound``: the faxes an account received (docs/api.md, "Received faxes").

A token sees the faxes of its account's inboxes, and an operator's also those of the shared
inboxes (``faxout.inbound.listing``); any other is a 404, as a fax that does not exist.
``read`` lets it look; ``send`` lets it mark, archive and delete. The image is the stored TIFF,
served as one PDF (``{id}.pdf``, each page its own size) or as page PNGs with square pixels;
a fax still coming in has none yet (409), one purged by retention none any more (410).
"""

from __future__ import annotations

import hashlib
import io
import logging
from collections.abc import Callable
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, Response
from PIL import Image
from pydantic import AwareDatetime
from sqlalchemy import Engine

from faxout.inbound.image import dpi_of
from faxout.inbound.listing import (
    ACTIONS,
    Action,
    InboundFaxes,
    InboundFilter,
    InboundViewer,
    NoImage,
    StillReceivingError,
    no_image,
    parse_states,
)
from faxout.inbound.model import InboundFax
from faxout.inbound.pdf import FaxImageError, tiff_to_pdf
from faxout.intake.api import openapi as spec
from faxout.intake.api.faxes import Problem
from faxout.intake.api.pages import CACHE_CONTROL, MIN_WIDTH, fresh
from faxout.intake.api.routes import MAX_PAGE, Caller, CallerDep
from faxout.intake.api.views import iso
from faxout.intake.services import Intake
from faxout.jobs.events import inbound_links
from faxout.render.geometry import FAX_WIDTH
from faxout.report.inboundmail import mail_status
from faxout.report.pages import grey_thumbnail

log = logging.getLogger("faxout.intake")
router = APIRouter(prefix="/api/v1", tags=["inbound"])


def inbound_of(intake: Intake) -> InboundFaxes:
    """The received faxes of the intake's database and document store."""
    return InboundFaxes(intake.engine, intake.store, intake.clock)


def inbound_json(fax: InboundFax) -> dict[str, Any]:
    """A received fax as the status API shows it (field names are the contract)."""
    shown = fax.pages if no_image(fax) is None else 0
    return {
        "id": fax.id,
        "inbox": fax.inbox,
        "state": fax.state.value,
        "caller": fax.caller,
        "caller_name": fax.caller_name,
        "csid": fax.csid,
        "called": fax.called,
        "pages": fax.pages,
        "resolution": fax.resolution or None,
        "bit_rate": fax.bit_rate,
        "ecm": fax.ecm,
        "compression": fax.compression,
        "line_seconds": fax.line_seconds,
        "t30_code": fax.t30_code,
        "t30_text": fax.t30_text or None,
        "notes": list(fax.notes),
        "size": fax.size,
        "started_at": iso(fax.started_at),
        "finished_at": iso(fax.finished_at),
        "read_at": iso(fax.read_at),
        "archived_at": iso(fax.archived_at),
        "purged_at": iso(fax.purged_at),
        "links": inbound_links(fax.id, shown),
    }


def with_mail(engine: Engine, shown: dict[str, Any]) -> dict[str, Any]:
    """``shown`` (a fax's JSON) with where its mail stands: ``mail`` is null while the fax is
    coming in, else its state (pending, sent, failed, skipped), addresses, tries, last error."""
    status = mail_status(engine, int(shown["id"]))
    shown["mail"] = None
    if status is not None:
        shown["mail"] = {
            "state": status.state,
            "to": list(status.recipients),
            "tries": status.tries,
            "last_error": status.last_error or None,
            "sent_at": iso(status.sent_at),
        }
    return shown


def image_problem(fax: InboundFax) -> Problem | None:
    """Why the fax's image cannot be served, as a problem; None when it can."""
    why = no_image(fax)
    if why is NoImage.RECEIVING:
        detail = f"fax {fax.id} is still being received: its image is stored when the call ends"
        return Problem(409, "Conflict", detail, **{"Retry-After": "30"})
    if why is NoImage.PURGED:
        detail = f"the image of fax {fax.id} was removed by retention; its facts are kept"
        return Problem(410, "Gone", detail)
    if why is NoImage.EMPTY:
        return Problem(404, "Not Found", f"fax {fax.id} has no pages: none arrived")
    return None


def _viewer(c: Caller) -> InboundViewer:
    account = c.api.accounts.by_id(c.token.account_id)
    if account is None:
        raise Problem(404, "Not Found", "the token's account is gone")
    return InboundViewer(account.id, account.operator)


def own_inbound(c: Caller, inbound_id: int) -> tuple[InboundFaxes, InboundViewer, InboundFax]:
    """The received fax ``inbound_id`` the token's account sees (from a worker thread); a 404
    problem for one it does not."""
    faxes, viewer = inbound_of(c.intake), _viewer(c)
    fax = faxes.get(viewer, inbound_id)
    if fax is None:
        raise Problem(404, "Not Found", f"there is no received fax {inbound_id}")
    return faxes, viewer, fax


def _etag(fax: InboundFax, *what: object) -> str:
    # The image under a key never changes (the key is its SHA-256): the key names the bytes.
    seen = "|".join([str(fax.blob_key), *map(str, what)])
    return '"' + hashlib.sha256(seen.encode()).hexdigest()[:32] + '"'


def _image(
    request: Request,
    faxes: InboundFaxes,
    fax: InboundFax,
    etag: str,
    media_type: str,
    draw: Callable[[io.BytesIO], bytes],
) -> Response:
    """The image drawn by ``draw`` from the stored TIFF (``image_problem`` None: it has one),
    or a 304 when the client holds it."""
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if fresh(request, etag):
        return Response(status_code=304, headers=headers)
    try:
        with faxes.image(fax) as stored:
            # Read whole: a TIFF is seeked all over, and an S3 object cannot seek.
            body = draw(io.BytesIO(stored.read()))
    except (FaxImageError, OSError, ValueError, EOFError) as exc:
        log.error("could not draw received fax %d: %s", fax.id, exc)
        raise Problem(500, "Internal Server Error", "the pages could not be drawn") from exc
    return Response(body, media_type=media_type, headers=headers)


def page_png(source: io.BytesIO, page: int, width: int | None) -> bytes:
    """Page ``page`` (1-based) of a received TIFF as a grey PNG with square pixels,
    ``width`` wide (None: as many pixels across as the fax has)."""
    with Image.open(source) as image:
        image.seek(page - 1)
        grey = image.convert("L")
        grey.info["dpi"] = dpi_of(image)
    return grey_thumbnail(grey, width or grey.width)


def inbound_png(
    request: Request, faxes: InboundFaxes, fax: InboundFax, page: int, width: int | None
) -> Response:
    """Page ``page`` of ``fax`` as a PNG (with its ETag, or a 304); a 404 problem for a page
    it does not have."""
    refused = image_problem(fax)
    if refused is not None:
        raise refused
    if not 1 <= page <= fax.pages:
        raise Problem(404, "Not Found", f"received fax {fax.id} has pages 1 to {fax.pages}")
    etag = _etag(fax, "png", page, width)
    return _image(request, faxes, fax, etag, "image/png", lambda src: page_png(src, page, width))


def inbound_pdf(request: Request, faxes: InboundFaxes, fax: InboundFax) -> Response:
    """Every page of ``fax`` in one PDF (with its ETag, or a 304)."""
    refused = image_problem(fax)
    if refused is not None:
        raise refused
    answer = _image(request, faxes, fax, _etag(fax, "pdf"), "application/pdf", tiff_to_pdf)
    answer.headers["Content-Disposition"] = f'inline; filename="received-{fax.id}.pdf"'
    return answer


@router.get(
    "/inbound", summary="The faxes the account received, newest first", responses=spec.LIST_INBOUND
)
async def list_inbound(
    c: CallerDep,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
    cursor: Annotated[
        int | None, Query(ge=1, le=spec.MAX_ID, description="next_cursor of the last page")
    ] = None,
    state: Annotated[
        list[str] | None, Query(description="receiving, received, partial, failed; a,b")
    ] = None,
    inbox: Annotated[str | None, Query(max_length=100, description="an inbox's name")] = None,
    unread: Annotated[bool | None, Query(description="only unread (true) or read (false)")] = None,
    archived: Annotated[
        bool | None, Query(description="only archived (true) or not (false); default both")
    ] = None,
    since: Annotated[AwareDatetime | None, Query(description="started at or after")] = None,
    until: Annotated[AwareDatetime | None, Query(description="started before")] = None,
    q: Annotated[
        str | None, Query(max_length=100, description="in the caller's number or name, or CSID")
    ] = None,
) -> JSONResponse:
    """A page of received faxes. ``next_cursor`` fetches the next page; every filter given
    must hold."""
    c.needs("read")
    try:
        states = parse_states(state or [])
    except ValueError as exc:
        raise Problem(422, "Unprocessable Content", str(exc)) from exc
    only = InboundFilter(states, inbox, unread, archived, since, until, q or "")

    def work() -> dict[str, Any]:
        found = inbound_of(c.intake).page(_viewer(c), only, limit=limit + 1, before=cursor)
        page = found[:limit]
        return {
            "items": [inbound_json(fax) for fax in page],
            "next_cursor": page[-1].id if len(found) > limit else None,
        }

    return JSONResponse(await anyio.to_thread.run_sync(work))


# Before ``/inbound/{inbound_id}``, which would take "7.pdf" for an id (and refuse it).
@router.get(
    "/inbound/{inbound_id}.pdf",
    summary="A received fax as one PDF, each page its own size",
    response_class=Response,
    responses=spec.INBOUND_PDF,
)
async def get_inbound_pdf(c: CallerDep, request: Request, inbound_id: spec.InboundId) -> Response:
    """Bilevel (CCITT G4), each page exactly its pixels at its resolution."""
    c.needs("read")

    def work() -> Response:
        faxes, _, fax = own_inbound(c, inbound_id)
        return inbound_pdf(request, faxes, fax)

    return await anyio.to_thread.run_sync(work)


@router.get(
    "/inbound/{inbound_id}/pages/{page}.png",
    summary="One page of a received fax (grey PNG, square pixels)",
    response_class=Response,
    responses=spec.INBOUND_PNG,
)
async def get_inbound_png(
    c: CallerDep,
    request: Request,
    inbound_id: spec.InboundId,
    page: int,  # never reaches the database: any other number is a 404
    width: Annotated[
        int | None, Query(ge=MIN_WIDTH, le=FAX_WIDTH, description="this wide (default: the fax's)")
    ] = None,
) -> Response:
    """Page ``page`` (1-based) in grey, its height corrected for the fax's resolution so
    the page keeps its shape."""
    c.needs("read")

    def work() -> Response:
        faxes, _, fax = own_inbound(c, inbound_id)
        return inbound_png(request, faxes, fax, page, width)

    return await anyio.to_thread.run_sync(work)


@router.get("/inbound/{inbound_id}", summary="One received fax", responses=spec.READ_INBOUND)
async def get_inbound(c: CallerDep, inbound_id: spec.InboundId) -> JSONResponse:
    """The fax: who sent it, how the call went, whether it was read or archived, its links."""
    c.needs("read")

    def work() -> dict[str, Any]:
        return with_mail(c.intake.engine, inbound_json(own_inbound(c, inbound_id)[2]))

    return JSONResponse(await anyio.to_thread.run_sync(work))


async def _act(c: Caller, inbound_id: int, act: Action) -> JSONResponse:
    """Do ``act`` to the fax; its JSON afterwards."""
    c.needs("send")

    def work() -> dict[str, Any]:
        _, viewer, _ = own_inbound(c, inbound_id)
        done = act(inbound_of(c.intake), viewer, inbound_id)
        if done is None:  # deleted meanwhile
            raise Problem(404, "Not Found", f"there is no received fax {inbound_id}")
        return inbound_json(done)

    return JSONResponse(await anyio.to_thread.run_sync(work))


_ACTED = {
    "read": ("Mark a received fax read", "``read_at`` is the first time it was marked read."),
    "unread": ("Mark a received fax unread", "``read_at`` is null again."),
    "archive": ("Archive a received fax", "Kept, but out of the list of ``archived=false``."),
    "unarchive": ("Bring an archived fax back", "``archived_at`` is null again."),
}


def _action_route(name: str) -> None:
    """``POST /inbound/{id}/<name>``: one route per action of ``ACTIONS``, alike but for it."""
    act = ACTIONS[name]
    summary, description = _ACTED[name]

    async def endpoint(c: CallerDep, inbound_id: spec.InboundId) -> JSONResponse:
        return await _act(c, inbound_id, act)

    router.add_api_route(
        f"/inbound/{{inbound_id}}/{name}",
        endpoint,
        methods=["POST"],
        name=f"{name}_inbound",
        summary=summary,
        description=description,
        responses=spec.ACT_ON_INBOUND,
    )


for _name in ACTIONS:
    _action_route(_name)


@router.delete(
    "/inbound/{inbound_id}",
    status_code=204,
    summary="Delete a received fax",
    responses=spec.DELETE_INBOUND,
)
async def delete_inbound(c: CallerDep, inbound_id: spec.InboundId) -> Response:
    """The fax, its image (unless another fax holds the same bytes), its mail and its webhook
    events are gone; 409 while it is still being received."""
    c.needs("send")

    def work() -> None:
        faxes, viewer, _ = own_inbound(c, inbound_id)
        try:
            if not faxes.delete(viewer, inbound_id):
                raise Problem(404, "Not Found", f"there is no received fax {inbound_id}")
        except StillReceivingError as exc:
            raise Problem(409, "Conflict", f"{exc}: delete it once the call ends") from exc

    await anyio.to_thread.run_sync(work)
    return Response(status_code=204)
