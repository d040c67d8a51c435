"""The Send page: documents, recipients, cover page, resolution and send time; then the fax.

The form posts ``multipart/form-data`` to ``POST /send`` and works without JavaScript (the
browser's own file input and submit; an error re-shows the form with everything typed, the
documents to be chosen again). With ``send.js``: documents are dropped or chosen into a list,
each number is checked as it is typed (``POST /send/numbers``), the cover page is previewed
(``POST /send/cover``), the pages are previewed before sending (``POST /send/preview``), and
the form is sent by ``XMLHttpRequest`` with a progress bar; the browser then keeps the files
when the server refuses the form.

What is sent is read by the status API's functions (``sending.send``: ``prepare`` and
``submit`` through the group committer), so a fax sent here and one sent to
``POST /api/v1/faxes`` are checked and stored alike. A prohibited account sees the page with
a notice and is refused (403) if it sends anyway.
"""

from __future__ import annotations

import json
import secrets
import zoneinfo
from functools import cache
from pathlib import Path
from typing import Any

import anyio
from fastapi import APIRouter, Request
from starlette.responses import Response

from faxout.intake.api.faxes import batched
from faxout.intake.console import preview as pv
from faxout.intake.console.contacts import book_of, prefill
from faxout.intake.console.recipients import check_numbers, entries_of_text, policy_of
from faxout.intake.console.sendform import (
    COVER_PAGE,
    COVER_TEXT,
    CSRF,
    RECIPIENTS,
    RESOLUTION,
    TIME_ZONE,
    FormError,
    SendForm,
    read_send_form,
)
from faxout.intake.console.sending import PROHIBITED, send, zone_of
from faxout.intake.console.web import (
    ConsoleError,
    Viewer,
    ViewerDep,
    finish,
    from_script,
    json_answer,
    page,
    redirect,
    small_body,
)
from faxout.jobs.model import COVER_DEFAULT, COVER_NONE
from faxout.render.options import RenderOptions
from faxout.sandbox import workspace

router = APIRouter(include_in_schema=False)
STATE_KEY = "send_previews"  # app.state: the Previews (made at first use unless set)
MAX_JSON_BYTES = 256 * 1024


@cache
def zones() -> list[str]:
    """The IANA zones a send time may be given in, for the select."""
    return sorted(z for z in zoneinfo.available_timezones() if "/" in z or z == "UTC")


def previews_for(data_dir: Path, covers_dir: Path | None, options: RenderOptions) -> pv.Previews:
    """The previews of a gateway: cached under ``DATA_DIR/cache/preview``, rendered by a
    worker of their own that sees the operator's cover pages (``covers_dir``). The gateway
    sets ``app.state.send_previews`` to this; without it, ``_previews`` makes one."""
    return pv.Previews(data_dir / "cache" / "preview", pv.OwnPool(covers_dir), options)


def _previews(request: Request) -> pv.Previews:
    made: pv.Previews | None = getattr(request.app.state, STATE_KEY, None)
    if made is None:
        # An app made without the gateway's wiring (faxout.ops.serve sets the previews with
        # the operator's cover pages and render options): the work area's data directory
        # (DATA_DIR/run → DATA_DIR) and the shipped cover pages.
        root = workspace.current().root
        data_dir = root.parent if root.name == "run" else root
        made = previews_for(data_dir, None, RenderOptions())
        setattr(request.app.state, STATE_KEY, made)
    return made


def _covers(viewer: Viewer) -> list[str]:
    """The cover pages to choose from: None, Default, then the installed ones."""
    installed = [c for c in viewer.intake.covers() if c.lower() != COVER_DEFAULT]
    return ["None", "Default", *installed]


def _prefill(viewer: Viewer, request: Request) -> str:
    """The recipients ``/send?group=ID`` or ``/send?contact=ID`` puts in the textarea (an
    id that is not a number, or not in the account's book, puts nothing)."""

    def asked(name: str) -> int | None:
        value = request.query_params.get(name, "")
        return int(value) if value.isdigit() and int(value) < 2**62 else None

    group, contact = asked("group"), asked("contact")
    if group is None and contact is None:
        return ""
    lines = prefill(book_of(viewer), viewer.account.id, group=group, contact=contact)
    return "\n".join(lines)


def _form_page(
    request: Request,
    viewer: Viewer,
    values: dict[str, str],
    *,
    status: int = 200,
    error: FormError | None = None,
) -> Response:
    return page(
        request,
        "send.html",
        viewer,
        status=status,
        title="Send a fax",
        nav="send",
        values=values,
        error=error,
        covers=_covers(viewer),
        zones=zones(),
        prohibited=viewer.account.fax_prohibited,
        limits=viewer.intake.limits,
        form_key=secrets.token_urlsafe(16),  # kept by the form (values) when it comes back
    )


@router.get("/send")
async def send_page(request: Request, viewer: ViewerDep) -> Response:
    """The form."""
    recipients = await anyio.to_thread.run_sync(_prefill, viewer, request)
    values = {RECIPIENTS: recipients, COVER_PAGE: "Default", RESOLUTION: "high",
              TIME_ZONE: viewer.zone or zone_of("", viewer.account)}  # fmt: skip
    return _form_page(request, viewer, values)


def _refuse(request: Request, viewer: Viewer, values: dict[str, str], exc: FormError) -> Response:
    if from_script(request):
        return json_answer(request, {"error": exc.detail, "field": exc.field}, exc.status)
    return _form_page(request, viewer, values, status=exc.status, error=exc)


def _token(request: Request, form: SendForm) -> str:
    return request.headers.get("x-csrf-token") or form.get(CSRF)


@router.post("/send")
async def send_fax(request: Request, viewer: ViewerDep) -> Response:
    """Send the form's fax: to its page (303), or its id as JSON for the page's script."""
    intake = viewer.intake
    if viewer.account.fax_prohibited:
        raise ConsoleError(403, PROHIBITED[0].upper() + PROHIBITED[1:] + ".")
    try:
        form = await read_send_form(request, intake.store, intake.limits)
    except FormError as exc:
        return _refuse(request, viewer, {}, exc)
    try:
        viewer.check(_token(request, form))
    except ConsoleError:
        form.discard()
        raise
    committer = batched(request)
    try:
        made = await anyio.to_thread.run_sync(
            lambda: send(intake, viewer.account, form, viewer.now(), request, batched=committer)
        )
    except FormError as exc:
        return _refuse(request, viewer, form.values, exc)
    fax = made.submission_id
    if made.replayed:  # a second post of the same form: the fax the first one made
        if from_script(request):
            return json_answer(request, {"id": fax, "location": f"/faxes/{fax}"}, 200)
        return redirect(request, f"/faxes/{fax}", f"This form was sent already, as fax {fax}.")
    if request.app.state.background is not None:
        request.app.state.background.accepted(fax)
    where = f"/faxes/{fax}"
    if from_script(request):
        return json_answer(request, {"id": fax, "location": where}, 201)
    return redirect(request, where, f"Fax {fax} is on its way.")


async def _json(request: Request, viewer: Viewer) -> dict[str, Any]:
    """A script's small JSON body, its CSRF header checked."""
    viewer.check(request.headers.get("x-csrf-token"))
    body = await small_body(request, MAX_JSON_BYTES)
    try:
        data = json.loads(body or b"{}")
    except ValueError as exc:
        raise ConsoleError(400, "The request is not JSON.") from exc
    if not isinstance(data, dict):
        raise ConsoleError(400, "The request is not a JSON object.")
    return data


@router.post("/send/numbers")
async def numbers(request: Request, viewer: ViewerDep) -> Response:
    """Each recipient of ``{"text": …}`` checked: normalised, or why it is refused."""
    text = str((await _json(request, viewer)).get("text", ""))[
        : viewer.intake.limits.max_field_bytes
    ]
    reachable = viewer.intake.reachable

    def work() -> list[dict[str, Any]]:
        return [c.json() for c in check_numbers(text.splitlines(), viewer.account, reachable)]

    checks = await anyio.to_thread.run_sync(work)
    most = viewer.intake.limits.max_recipients
    return json_answer(request, {"checks": checks, "most": most})


def _first(viewer: Viewer, text: str) -> tuple[str, str]:
    """The first recipient that reads as a number, ``(name, E.164)``; blanks without one."""
    policy = policy_of(viewer.account, viewer.intake.reachable)
    for entry in entries_of_text(text)[:50]:
        read = policy.read(entry.number)
        if not entry.error and hasattr(read, "e164"):
            return entry.name, str(read.e164)
    return "", ""


def _cover_name(viewer: Viewer, asked: str) -> str:
    """The cover page as a submission names it; ``FormError`` for one not installed."""
    choice = asked.strip() or "Default"
    if choice.lower() in (COVER_NONE, COVER_DEFAULT):
        return choice.lower()
    by_lower = {c.lower(): c for c in viewer.intake.covers()}
    if choice.lower() not in by_lower:
        raise FormError(400, COVER_PAGE, f"{COVER_PAGE}: {choice[:100]!r} is not installed")
    return by_lower[choice.lower()]


def _png(request: Request, png: bytes) -> Response:
    return finish(request, Response(png, media_type="image/png"))


@router.post("/send/cover")
async def cover_preview(request: Request, viewer: ViewerDep) -> Response:
    """The cover page of ``{"cover_page", "cover_text", "recipients", "resolution"}`` as a
    PNG (204 for None), for the first recipient or a sample one."""
    asked = await _json(request, viewer)
    previews = _previews(request)
    text = str(asked.get(COVER_TEXT, ""))[: viewer.intake.limits.max_cover_text_chars]

    def work() -> bytes | None:
        cover = _cover_name(viewer, str(asked.get(COVER_PAGE, "")))
        recipient = _first(viewer, str(asked.get(RECIPIENTS, "")))
        options = previews.options_for(viewer.account, recipient[1], str(asked.get(RESOLUTION, "")))
        return previews.cover_png(viewer.account, cover, text, recipient, options=options,
                                  now=viewer.now(), width=600)  # fmt: skip

    try:
        png = await anyio.to_thread.run_sync(work)
    except FormError as exc:
        return json_answer(request, {"error": exc.detail, "field": exc.field}, exc.status)
    except pv.PreviewRefused as exc:
        return json_answer(request, {"error": exc.detail, "field": COVER_PAGE}, exc.status)
    return _png(request, png) if png is not None else finish(request, Response(status_code=204))


@router.post("/send/preview")
async def pages_preview(request: Request, viewer: ViewerDep) -> Response:
    """The form's documents rendered as the first recipient gets them (cover first): the
    preview's token, page count, warnings and the URL of each page's image."""
    previews = _previews(request)
    with previews.incoming() as incoming:
        intake = viewer.intake
        try:
            form = await read_send_form(
                request, intake.store, intake.limits, new_file=incoming.new_file
            )
        except FormError as exc:
            return json_answer(request, {"error": exc.detail, "field": exc.field}, exc.status)
        viewer.check(_token(request, form))

        def work() -> pv.Preview:
            cover = _cover_name(viewer, form.get(COVER_PAGE))
            recipient = _first(viewer, form.get(RECIPIENTS))
            options = previews.options_for(viewer.account, recipient[1], form.get(RESOLUTION))
            return previews.render(viewer.account, incoming, form.documents, options=options,
                                   cover=cover, cover_text=form.get(COVER_TEXT),
                                   recipient=recipient, now=viewer.now())  # fmt: skip

        try:
            made = await anyio.to_thread.run_sync(work)
        except FormError as exc:
            return json_answer(request, {"error": exc.detail, "field": exc.field}, exc.status)
        except pv.PreviewRefused as exc:
            return json_answer(request, {"error": exc.detail, "field": "document"}, exc.status)
    base = f"/send/preview/{made.token}"
    return json_answer(
        request,
        {
            "token": made.token,
            "pages": made.pages,
            "warnings": list(made.warnings),
            "images": [f"{base}/{n}.png" for n in range(1, made.pages + 1)],
        },
    )


@router.get("/send/preview/{token}/{number}.png")
async def preview_page(request: Request, viewer: ViewerDep, token: str, number: int) -> Response:
    """One page of a preview of this account: full size, or ``?width=`` pixels wide."""
    raw = request.query_params.get("width", "")
    width = int(raw) if raw.isdigit() and len(raw) < 6 else None
    previews = _previews(request)
    png = await anyio.to_thread.run_sync(previews.page_png, viewer.account.id, token, number, width)
    if png is None:
        raise ConsoleError(404, "This preview has expired; preview the pages again.")
    return _png(request, png)
