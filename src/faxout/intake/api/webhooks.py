"""``/api/v1/webhooks``: a program adds, lists and removes its account's webhook endpoints and
sees every delivery (docs/api.md). The same as ``faxout webhook``; a token sees only its own
account's endpoints (another's is a 404). Looking needs ``read``; adding and removing ``send``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from functools import partial
from typing import Annotated, Any

import anyio
from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, ConfigDict, Field

from faxout.intake.api import openapi as spec
from faxout.intake.api.faxes import Problem
from faxout.intake.api.inbound import own_inbound
from faxout.intake.api.routes import MAX_PAGE, CallerDep, own_fax
from faxout.intake.api.views import iso
from faxout.jobs.events import EVENTS
from faxout.webhooks.endpoints import Delivery, Endpoint, EndpointError

router = APIRouter(prefix="/api/v1", tags=["webhooks"])


class NewWebhook(BaseModel):
    """The body of ``POST /api/v1/webhooks``."""

    model_config = ConfigDict(extra="forbid")
    url: Annotated[str, Field(min_length=1, max_length=2000)]
    events: Annotated[
        list[str], Field(max_length=len(EVENTS), description=f"of {', '.join(EVENTS)}; [] = all")
    ] = []


def endpoint_json(e: Endpoint) -> dict[str, Any]:
    """One endpoint, without its secret."""
    return {
        "id": e.id,
        "url": e.url,
        "events": e.events.split() if e.events != "*" else list(EVENTS),
        "enabled": e.enabled,
        "disabled_reason": e.disabled_reason or None,
        "created_at": iso(e.created_at),
    }


def delivery_json(d: Delivery) -> dict[str, Any]:
    """One delivery: the event as sent and how it went."""
    return {
        "id": d.id,
        "webhook_id": d.webhook_id,
        "webhook_msg_id": d.msg_id,
        "event": d.event,
        "fax_id": d.fax_id,
        "recipient_id": d.recipient_id,
        "inbound_id": d.inbound_id,
        "state": d.state,
        "tries": d.tries,
        "next_attempt_at": iso(d.next_at) if d.state == "pending" else None,
        "last_status": d.last_status,
        "last_error": d.last_error or None,
        "created_at": iso(d.created_at),
        "delivered_at": iso(d.sent_at),
        "payload": json.loads(d.body),
    }


def _mine(c: CallerDep, webhook_id: int) -> Endpoint:
    found = c.api.webhooks.get(webhook_id)
    if found is None or found.username != c.token.username:
        raise Problem(404, "Not Found", f"there is no webhook {webhook_id}")
    return found


@router.get("/webhooks", summary="The account's webhook endpoints", responses=spec.WEBHOOK_LIST)
async def list_webhooks(c: CallerDep) -> JSONResponse:
    """Every endpoint of the account, oldest first (the secret is never shown again)."""
    c.needs("read")
    found = await anyio.to_thread.run_sync(c.api.webhooks.find, c.token.username)
    return JSONResponse({"items": [endpoint_json(e) for e in found]})


@router.post(
    "/webhooks", status_code=201, summary="Add a webhook endpoint", responses=spec.WEBHOOK_ADD
)
async def add_webhook(c: CallerDep, body: NewWebhook) -> JSONResponse:
    """201 with the endpoint and its ``secret`` (``whsec_…``), shown only in this answer.
    Loopback and private addresses are refused (422) unless the operator allows them."""
    c.needs("send")

    def work() -> tuple[Endpoint, str]:
        try:
            return c.api.webhooks.add(
                c.token.username, body.url, " ".join(body.events) or "*", c.now()
            )
        except EndpointError as exc:
            raise Problem(422, "Unprocessable Content", str(exc)) from exc

    made, secret = await anyio.to_thread.run_sync(work)
    answer = endpoint_json(made) | {"secret": secret}
    return JSONResponse(answer, 201, headers={"Location": f"/api/v1/webhooks/{made.id}"})


@router.get("/webhooks/{webhook_id}", summary="One webhook endpoint", responses=spec.WEBHOOK_ONE)
async def get_webhook(c: CallerDep, webhook_id: spec.WebhookId) -> JSONResponse:
    """The endpoint: URL, events, and whether it is enabled (a 410 from it disables it)."""
    c.needs("read")
    return JSONResponse(endpoint_json(await anyio.to_thread.run_sync(_mine, c, webhook_id)))


@router.delete(
    "/webhooks/{webhook_id}",
    status_code=204,
    summary="Remove a webhook endpoint",
    responses=spec.WEBHOOK_REMOVE,
)
async def remove_webhook(c: CallerDep, webhook_id: spec.WebhookId) -> Response:
    """The endpoint and its deliveries are gone; pending events are never sent."""
    c.needs("send")

    def work() -> None:
        _mine(c, webhook_id)
        c.api.webhooks.remove(webhook_id)

    await anyio.to_thread.run_sync(work)
    return Response(status_code=204)


Limit = Annotated[int, Query(ge=1, le=MAX_PAGE)]
Cursor = Annotated[
    int | None, Query(ge=1, le=spec.MAX_ID, description="next_cursor of the last page")
]


async def _deliveries(
    c: CallerDep, check: Callable[[], object], limit: int, cursor: int | None, **where: Any
) -> JSONResponse:
    """A page of the deliveries ``where`` picks, once ``check`` (from a worker thread) found
    what they are of to be the account's."""
    c.needs("read")

    def work() -> dict[str, Any]:
        check()
        return _page(c.api.webhooks.deliveries(limit=limit + 1, before=cursor, **where), limit)

    return JSONResponse(await anyio.to_thread.run_sync(work))


@router.get(
    "/webhooks/{webhook_id}/deliveries",
    summary="What was sent to an endpoint",
    responses=spec.DELIVERIES,
)
async def list_deliveries(
    c: CallerDep, webhook_id: spec.WebhookId, limit: Limit = 50, cursor: Cursor = None
) -> JSONResponse:
    """The endpoint's deliveries, newest first: each event as sent, its state (pending, sent,
    failed), tries, the last HTTP status and error."""
    check = partial(_mine, c, webhook_id)
    return await _deliveries(c, check, limit, cursor, webhook_id=webhook_id)


@router.get(
    "/faxes/{fax_id}/deliveries",
    summary="The webhook deliveries of one fax",
    responses=spec.DELIVERIES,
)
async def fax_deliveries(
    c: CallerDep, fax_id: spec.FaxId, limit: Limit = 50, cursor: Cursor = None
) -> JSONResponse:
    """Every event of the fax sent (or waiting) for the account's endpoints, newest first."""
    check = partial(own_fax, c, fax_id)
    return await _deliveries(c, check, limit, cursor, fax_id=fax_id, username=c.token.username)


@router.get(
    "/inbound/{inbound_id}/deliveries",
    summary="The webhook deliveries of one received fax",
    responses=spec.DELIVERIES,
)
async def inbound_deliveries(
    c: CallerDep, inbound_id: spec.InboundId, limit: Limit = 50, cursor: Cursor = None
) -> JSONResponse:
    """The fax.received (or fax.receive.failed) event of the fax for the account's
    endpoints, newest first."""
    check = partial(own_inbound, c, inbound_id)
    where = {"inbound_id": inbound_id, "username": c.token.username}
    return await _deliveries(c, check, limit, cursor, **where)


def _page(rows: list[Delivery], limit: int) -> dict[str, Any]:
    page = rows[:limit]
    return {
        "items": [delivery_json(d) for d in page],
        "next_cursor": page[-1].id if len(rows) > limit else None,
    }
