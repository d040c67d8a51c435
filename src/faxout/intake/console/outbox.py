"""The outbox: the account's faxes, newest first, each recipient's state live.

The page is whole without JavaScript (a table, filters as a GET form, "older" links). With
it, ``console.js`` asks ``/outbox/rows`` (the same query) every ``live_poll_seconds`` while
the tab is visible and puts the rows in place: states, the page on the line during a call,
the next attempt and why a fax waits change without a reload. The faxes are read by the
status API's functions (``JobRepo.submission_ids``, ``fax_json``), so the console and
``GET /api/v1/faxes`` always agree.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import anyio
from fastapi import APIRouter, Request
from starlette.responses import Response

from faxout.intake.api.listing import labels_of, number_of, states_of
from faxout.intake.api.submit import Problem422
from faxout.intake.api.views import fax_json
from faxout.intake.console.web import Viewer, ViewerDep, fragment, page
from faxout.jobs.repo import FAX_STATES, FaxFilter

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25
MAX_QUERY_CHARS = 100


@dataclass(frozen=True)
class OutboxQuery:
    """What the outbox is narrowed to, as the filter form asked."""

    state: str = ""
    q: str = ""
    label: str = ""
    before: int | None = None

    @staticmethod
    def of(request: Request) -> OutboxQuery:
        """The query of the request's URL (anything unreadable is ignored, not refused)."""
        params = request.query_params
        before = params.get("before", "")
        return OutboxQuery(
            state=params.get("state", "").strip()[:40],
            q=params.get("q", "").strip()[:MAX_QUERY_CHARS],
            label=params.get("label", "").strip()[:400],
            before=int(before) if before.isdigit() and 0 < int(before) < 2**62 else None,
        )

    def link(self, **changes: Any) -> str:
        """The outbox URL of this query with ``changes``."""
        values = {"state": self.state, "q": self.q, "label": self.label, "before": self.before}
        values.update(changes)
        kept = {k: v for k, v in values.items() if v not in ("", None)}
        return "/?" + urlencode(kept) if kept else "/"


def _filter(viewer: Viewer, query: OutboxQuery) -> FaxFilter:
    """The SQL filter of ``query``; ``Problem422`` naming what cannot be read."""
    number = None
    text = query.q
    digits = sum(ch.isdigit() for ch in text)
    if text and digits >= 7 and all(ch.isdigit() or ch in "+-() ./" for ch in text):
        # A whole number: the recipient, read as a submission reads it (+1 650 … = 1650…).
        try:
            number = number_of(text, viewer.account, viewer.intake.reachable)
            text = ""
        except Problem422:
            pass  # not a dialable number: searched as text
    return FaxFilter(
        states=states_of([query.state]) if query.state else (),
        number=number,
        labels=labels_of([query.label]) if query.label else (),
        text=text,
    )


def outbox_items(viewer: Viewer, query: OutboxQuery) -> tuple[list[dict[str, Any]], int | None]:
    """A page of faxes as the status API shows them, and the cursor of the next one."""
    only = _filter(viewer, query)
    jobs = viewer.api.jobs
    ids = jobs.submission_ids(
        viewer.account.username, limit=PAGE_SIZE + 1, before=query.before, only=only
    )
    shown = ids[:PAGE_SIZE]
    subs = jobs.get_submissions(shown)
    tried = jobs.attempts_of([job.id for sub in subs for job in sub.jobs])
    now = viewer.now()
    items = [fax_json(sub, tried, now) for sub in subs]
    return items, shown[-1] if len(ids) > PAGE_SIZE else None


def _read(viewer: Viewer, query: OutboxQuery) -> dict[str, Any]:
    try:
        items, more = outbox_items(viewer, query)
    except Problem422 as exc:
        return {"items": [], "more": None, "error": str(exc)}
    return {"items": items, "more": more, "error": ""}


@router.get("/")
async def outbox(request: Request, viewer: ViewerDep) -> Response:
    """The outbox page."""
    query = OutboxQuery.of(request)
    found = await anyio.to_thread.run_sync(_read, viewer, query)
    return page(
        request,
        "outbox.html",
        viewer,
        title="Outbox",
        nav="outbox",
        query=query,
        states=FAX_STATES,
        live=query.before is None,  # the newest page follows changes; older ones stay put
        status=400 if found["error"] else 200,
        **found,
    )


@router.get("/outbox/rows")
async def outbox_rows(request: Request, viewer: ViewerDep) -> Response:
    """The outbox's rows alone, for the live update."""
    query = OutboxQuery.of(request)
    found = await anyio.to_thread.run_sync(_read, viewer, query)
    return fragment(request, "_outbox_rows.html", viewer, query=query, **found)
