"""The admin page (operators only): the lines, the outboxes, the login locks, ``faxout check``.

What it reads is the ops layer's and the database's, handed in through ``Intake`` (``lines``,
``check``) and ``Api`` (``locks``) by ``faxout.ops.serve`` and read by
``faxout.intake.overview``: the figures are those of ``/metrics`` and ``faxout check``. The
accounts are on ``/admin/accounts`` (``faxout.intake.console.admin_accounts``). Every change is
a POST with the CSRF token, answered by a redirect with a message.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import anyio
from fastapi import APIRouter, Request
from starlette.responses import Response

from faxout.accounts.locks import Lock
from faxout.accounts.repo import AccountError
from faxout.errors import FaxoutError
from faxout.intake.console.web import Viewer, ViewerDep, fragment, page, read_form, redirect
from faxout.intake.overview import CheckFinding, LineState, Outboxes, outboxes
from faxout.jobs.numbers import InvalidNumberError

router = APIRouter(include_in_schema=False)
BACK = ("/admin", "/admin/accounts")  # where an unlock may return to


@dataclass(frozen=True)
class Overview:
    """What the admin page shows besides ``faxout check``."""

    lines: list[LineState]
    outboxes: Outboxes
    locks: list[Lock]


def _overview(viewer: Viewer) -> Overview:
    locks = viewer.api.locks
    return Overview(
        lines=viewer.intake.lines(),
        outboxes=outboxes(viewer.intake.engine),
        locks=locks.active(viewer.now()) if locks is not None else [],
    )


def _check(viewer: Viewer) -> Sequence[CheckFinding] | str:
    """``faxout check``'s findings; what went wrong when it could not run at all."""
    check = viewer.intake.check
    if check is None:
        return "faxout check is not offered by this server."
    try:
        return check()
    except Exception as exc:  # one broken probe must not take the page down
        return f"faxout check did not finish: {exc.__class__.__name__}: {exc}"


@router.get("/admin")
async def admin(request: Request, viewer: ViewerDep) -> Response:
    """The overview: lines, outboxes, locks, and ``faxout check`` (run now, in a thread: its
    probes take a second or two, while the database reads run beside it)."""
    viewer.need_operator()
    found: dict[str, object] = {}

    async def read() -> None:
        found["overview"] = await anyio.to_thread.run_sync(_overview, viewer)

    async def check() -> None:
        found["checks"] = await anyio.to_thread.run_sync(_check, viewer)

    async with anyio.create_task_group() as group:
        group.start_soon(read)
        group.start_soon(check)
    checks = found["checks"]
    return page(
        request,
        "admin.html",
        viewer,
        title="Admin",
        nav="admin",
        view=found["overview"],
        checks=checks if not isinstance(checks, str) else [],
        check_error=checks if isinstance(checks, str) else "",
        now=viewer.now(),
    )


@router.get("/admin/live")
async def admin_live(request: Request, viewer: ViewerDep) -> Response:
    """The lines, outboxes and locks alone, for the page's live update (``faxout check`` is
    not run again: it is run when the page is loaded)."""
    viewer.need_operator()
    view = await anyio.to_thread.run_sync(_overview, viewer)
    return fragment(request, "_admin_live.html", viewer, view=view, now=viewer.now())


def unlock_account(viewer: Viewer, username: str) -> tuple[str, str]:
    """Lift the account's login locks; the message and its kind for the next page."""
    locks = viewer.api.locks
    if locks is None:
        return "Login locks are not kept on record by this server.", "error"
    try:
        lifted = locks.unlock(username, viewer.now())
    except (AccountError, InvalidNumberError) as exc:
        return str(exc), "error"
    except FaxoutError as exc:
        return f"Not unlocked: {exc}", "error"
    if not lifted:
        return f"{username} had no locked sign-in; it is cleared all the same.", "ok"
    where = ", ".join(sorted({x.client_addr for x in lifted}))
    return (
        f"{lifted[0].username} may sign in again from {where} (every server within seconds).",
        "ok",
    )


@router.post("/admin/unlock")
async def unlock(request: Request, viewer: ViewerDep) -> Response:
    """Lift an account's login locks (``username``), back to the page it was asked from."""
    viewer.need_operator()
    form = await read_form(request)
    viewer.check(form.get("csrf"))
    back = form.get("back", "/admin")
    text, kind = await anyio.to_thread.run_sync(
        unlock_account, viewer, form.get("username", "").strip()[:60]
    )
    return redirect(request, back if back in BACK else "/admin", text, kind)
