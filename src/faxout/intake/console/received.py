"""A received fax's page: who sent it and how the call went, its pages, the PDF, and the
buttons to mark it unread, archive it or delete it.

Everything is read and done by the status API's functions (``faxout.intake.api.inbound``
and ``faxout.inbound.listing``): the page shows what ``GET /api/v1/inbound/{id}`` answers, the
images are the same bytes with the same ETag, and another account's fax is the same 404.
Opening the page marks the fax read, as a mail client does; *Mark unread* therefore goes back
to the inbox rather than to the page (which would mark it read again).
"""

from __future__ import annotations

from typing import Any

import anyio
from fastapi import APIRouter, Request
from starlette.responses import Response

from faxout.inbound.listing import (
    ACTIONS,
    InboundFaxes,
    InboundViewer,
    StillReceivingError,
    no_image,
)
from faxout.inbound.model import InboundFax
from faxout.intake.api.inbound import (
    image_problem,
    inbound_json,
    inbound_of,
    inbound_pdf,
    inbound_png,
    with_mail,
)
from faxout.intake.console.fax import THUMB_WIDTH, duration, id_of, sentence
from faxout.intake.console.faxpages import image_answer, page_number, thumb_width
from faxout.intake.console.inbox import inbound_viewer
from faxout.intake.console.web import (
    ConsoleError,
    Viewer,
    ViewerDep,
    page,
    read_form,
    redirect,
)

router = APIRouter(include_in_schema=False)


def own(viewer: Viewer, inbound_id: int) -> tuple[InboundFaxes, InboundViewer, InboundFax]:
    """The received fax the viewer sees; the 404 page for any other."""
    faxes, who = inbound_of(viewer.intake), inbound_viewer(viewer)
    fax = faxes.get(who, inbound_id)
    if fax is None:
        raise ConsoleError(404, "There is no such fax.")
    return faxes, who, fax


def _read(viewer: Viewer, inbound_id: int) -> dict[str, Any]:
    faxes, who, fax = own(viewer, inbound_id)
    opened = faxes.mark_read(who, inbound_id) or fax  # opening it is reading it
    problem = image_problem(opened)
    events = viewer.api.webhooks.deliveries(inbound_id=inbound_id, username=viewer.account.username)
    return {
        "fax": with_mail(viewer.intake.engine, inbound_json(opened)),
        "image": no_image(opened) is None,
        "why": sentence(problem.detail) if problem else "",
        "events": events,
    }


@router.get("/inbox/{inbound_id}")
async def received_page(request: Request, viewer: ViewerDep, inbound_id: str) -> Response:
    """The received fax's page (and it is read now)."""
    found = await anyio.to_thread.run_sync(_read, viewer, id_of(inbound_id))
    return page(
        request,
        "received.html",
        viewer,
        title=f"Received fax {found['fax']['id']}",
        nav="inbox",
        duration=duration,
        thumb_width=THUMB_WIDTH,
        **found,
    )


@router.get("/inbox/{inbound_id}/pages/{number}.png")
async def received_png(
    request: Request, viewer: ViewerDep, inbound_id: str, number: str
) -> Response:
    """Page ``number`` in grey with square pixels (``?width=`` a thumbnail)."""
    fid, n, width = id_of(inbound_id), page_number(number), thumb_width(request)

    def draw() -> Response:
        faxes, _, fax = own(viewer, fid)
        return inbound_png(request, faxes, fax, n, width)

    return await image_answer(request, draw)


@router.get("/inbox/{inbound_id}/fax.pdf")
async def received_pdf(request: Request, viewer: ViewerDep, inbound_id: str) -> Response:
    """Every page in one PDF, each its own size."""
    fid = id_of(inbound_id)

    def draw() -> Response:
        faxes, _, fax = own(viewer, fid)
        return inbound_pdf(request, faxes, fax)

    return await image_answer(request, draw)


# Where each button goes next and what it says there (what it does: ``ACTIONS``).
_AFTER: dict[str, tuple[bool, str]] = {
    "read": (True, "Fax {id} was marked read."),
    "unread": (True, "Fax {id} is unread again."),
    "archive": (True, "Fax {id} was archived."),
    "unarchive": (False, "Back in the inbox."),
}


@router.post("/inbox/{inbound_id}/{action}")
async def received_act(
    request: Request, viewer: ViewerDep, inbound_id: str, action: str
) -> Response:
    """Mark read or unread, archive or unarchive, or delete (a POST form with the CSRF
    token); back to the inbox or the fax's page with what became of it."""
    if action not in (*ACTIONS, "delete"):
        raise ConsoleError(404, "There is no such page.")
    form = await read_form(request)
    viewer.check(form.get("csrf"))
    fid = id_of(inbound_id)
    if action == "delete":
        return await _delete(request, viewer, fid)
    act, (to_inbox, said) = ACTIONS[action], _AFTER[action]

    def work() -> None:
        faxes, who, _ = own(viewer, fid)
        act(faxes, who, fid)

    await anyio.to_thread.run_sync(work)
    return redirect(request, "/inbox" if to_inbox else f"/inbox/{fid}", said.format(id=fid))


async def _delete(request: Request, viewer: Viewer, fid: int) -> Response:
    def work() -> None:
        faxes, who, _ = own(viewer, fid)
        if not faxes.delete(who, fid):
            raise ConsoleError(404, "There is no such fax.")

    try:
        await anyio.to_thread.run_sync(work)
    except StillReceivingError:
        said = "This fax is still coming in: delete it once the call ends."
        return redirect(request, f"/inbox/{fid}", said, "error")
    return redirect(request, "/inbox", f"Received fax {fid} was deleted.")
