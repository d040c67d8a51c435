"""The inbox: the faxes the account received, newest first (docs/console.md, "The inbox").

The faxes are those ``GET /api/v1/inbound`` lists, found by the same functions
(``faxout.inbound.listing``): the account's inboxes, and for an operator the shared ones too.
Unread faxes are bold; archived ones are left out unless asked for. The page is whole without
JavaScript: the filters are a GET form and "older" links page on. A fax's own page is
``received``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import anyio
from fastapi import APIRouter, Request
from starlette.responses import Response

from faxout.inbound.listing import (
    MAX_TEXT,
    STATES,
    InboundFilter,
    InboundViewer,
    parse_states,
)
from faxout.intake.api.inbound import inbound_json, inbound_of
from faxout.intake.console.web import Viewer, ViewerDep, page

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 25
# What the "Show" choice means for archived faxes: the inbox (not archived), the archive, all.
SHOW = {"": False, "archived": True, "all": None}


def inbound_viewer(viewer: Viewer) -> InboundViewer:
    """The console's viewer as the received faxes' rules see it."""
    return InboundViewer(viewer.account.id, viewer.account.operator)


@dataclass(frozen=True)
class InboxQuery:
    """What the inbox is narrowed to, as the filter form asked."""

    state: str = ""
    unread: bool = False
    show: str = ""  # a key of SHOW
    inbox: str = ""
    q: str = ""
    before: int | None = None

    @staticmethod
    def of(request: Request) -> InboxQuery:
        """The query of the request's URL (anything unreadable is ignored, not refused)."""
        params = request.query_params
        state = params.get("state", "").strip().lower()
        show = params.get("show", "")
        before = params.get("before", "")
        return InboxQuery(
            state=state if state in STATES else "",
            unread=params.get("unread", "") == "1",
            show=show if show in SHOW else "",
            inbox=params.get("inbox", "").strip()[:100],
            q=params.get("q", "").strip()[:MAX_TEXT],
            before=int(before) if before.isdigit() and 0 < int(before) < 2**62 else None,
        )

    @property
    def narrowed(self) -> bool:
        """Whether any filter is set (the page offers to clear them)."""
        return bool(self.state or self.unread or self.show or self.inbox or self.q)

    def only(self) -> InboundFilter:
        """The SQL filter of this query."""
        return InboundFilter(
            states=parse_states([self.state]) if self.state else (),
            inbox=self.inbox or None,
            unread=True if self.unread else None,
            archived=SHOW[self.show],
            text=self.q,
        )

    def link(self, **changes: Any) -> str:
        """The inbox URL of this query with ``changes``."""
        values: dict[str, Any] = {
            "state": self.state,
            "unread": "1" if self.unread else "",
            "show": self.show,
            "inbox": self.inbox,
            "q": self.q,
            "before": self.before,
        }
        values.update(changes)
        kept = {k: v for k, v in values.items() if v not in ("", None)}
        return "/inbox?" + urlencode(kept) if kept else "/inbox"


def _read(viewer: Viewer, query: InboxQuery) -> dict[str, Any]:
    faxes, who = inbound_of(viewer.intake), inbound_viewer(viewer)
    found = faxes.page(who, query.only(), limit=PAGE_SIZE + 1, before=query.before)
    shown = found[:PAGE_SIZE]
    return {
        "items": [inbound_json(fax) for fax in shown],
        "more": shown[-1].id if len(found) > PAGE_SIZE else None,
        "inboxes": faxes.inbox_names(who),
    }


@router.get("/inbox")
async def inbox(request: Request, viewer: ViewerDep) -> Response:
    """The inbox page."""
    query = InboxQuery.of(request)
    found = await anyio.to_thread.run_sync(_read, viewer, query)
    return page(
        request,
        "inbox.html",
        viewer,
        title="Inbox",
        nav="inbox",
        query=query,
        states=STATES,
        **found,
    )
