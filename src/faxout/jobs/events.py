"""Fax events for webhooks, written in the transaction of the transition they announce.

**Never lost, never invented.** ``emit`` inserts one ``webhook_deliveries`` row per enabled
endpoint of the account that subscribes to the event, on the caller's connection: the rows
commit with the state change or not at all. An event whose transition rolled back is never
announced, and a committed one is always queued (``faxout.webhooks.outbox`` delivers it).

The body is fixed here, at the time of the event, so a retry three days later says what was
true then, with the same ``webhook-id`` (``msg_id``). Events carry a summary; a program that
wants everything fetches ``GET /api/v1/faxes/{fax_id}``.

A received fax (``emit_for_inbound``) is announced to the account owning its inbox, and to
nobody for a shared inbox: its events name ``inbound_id`` rather than a submission.

An account without webhooks costs one indexed query per transition.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Connection, Select, bindparam, insert, select

from faxout.db.tables import (
    inbound_faxes,
    inboxes,
    jobs,
    submissions,
    webhook_deliveries,
    webhooks,
)

PENDING = "pending"
ANY = "*"


class Event(StrEnum):
    """What a webhook can hear about."""

    QUEUED = "fax.queued"  # accepted and waiting for its rendering
    RENDERED = "fax.rendered"  # pages made; recipients scheduled
    DIALING = "fax.dialing"  # a call to a recipient starts
    PAGE_CONFIRMED = "fax.page.confirmed"  # the far end confirmed a page
    DELIVERED = "fax.delivered"  # a recipient has every page
    FAILED = "fax.failed"  # a recipient will not get the fax (cause in ``reason``)
    INTERRUPTED = "fax.interrupted"  # the call's outcome is unknown (the worker stopped)
    CANCELED = "fax.canceled"  # a recipient was canceled before dialling
    RECEIVED = "fax.received"  # a fax came in (every page, or some: ``state`` says)
    RECEIVE_FAILED = "fax.receive.failed"  # a call came in, but no page arrived


EVENTS = tuple(e.value for e in Event)
_PER_FAX = (Event.QUEUED, Event.RENDERED)
_INBOUND = (Event.RECEIVED, Event.RECEIVE_FAILED)


def parse_events(text: str) -> str:
    """``text`` (event types separated by spaces or commas, or ``*``) in canonical form;
    ``ValueError`` naming an unknown type."""
    names = [n for n in text.replace(",", " ").split() if n]
    if not names or names == [ANY]:
        return ANY
    unknown = [n for n in names if n not in EVENTS]
    if unknown:
        raise ValueError(
            f"unknown event {', '.join(unknown)}: choose from {', '.join(EVENTS)} or *"
        )
    return " ".join(e for e in EVENTS if e in names)


def subscribes(events: str, event: Event) -> bool:
    """Whether an endpoint's ``events`` column includes ``event``."""
    return events == ANY or event.value in events.split()


def new_msg_id() -> str:
    """A message id, unique per event and endpoint (the ``webhook-id`` header)."""
    return "msg_" + uuid.uuid4().hex


def _subscribed(key: Any) -> Select[Any]:
    """The enabled endpoints of the accounts of the rows whose ``key`` (a submission's or a
    job's id) is in the bound list ``ids``."""
    return (
        select(key.label("key"), webhooks.c.id, webhooks.c.events)
        .select_from(jobs)
        .join(submissions, submissions.c.id == jobs.c.submission_id)
        .join(webhooks, webhooks.c.account_id == submissions.c.account_id)
        .where(key.in_(bindparam("ids", expanding=True)), webhooks.c.enabled.is_(True))
        .distinct()
        .order_by(key, webhooks.c.id)
    )


# Built once: every acceptance and every call asks, mostly to learn that nobody listens, and a
# statement built anew each time cost more than the query (docs/benchmarks.md, Intake).
_BY_SUBMISSION = _subscribed(submissions.c.id)
_BY_JOB = _subscribed(jobs.c.id)


def _endpoints(
    conn: Connection, event: Event, query: Select[Any], ids: list[int]
) -> dict[int, list[int]]:
    """The enabled endpoints subscribed to ``event``, by the id in ``ids`` they concern
    (``query``: ``_BY_SUBMISSION`` or ``_BY_JOB``): one query, and the only one when nobody
    listens."""
    found: dict[int, list[int]] = {}
    for row in conn.execute(query, {"ids": ids}):
        if subscribes(row.events, event):
            found.setdefault(int(row.key), []).append(row.id)
    return found


# For each event: its endpoints, the rows it concerns (submission_id, job_id, inbound_id; None
# where it has none) and its data.
_Body = tuple[list[int], dict[str, int | None], dict[str, Any]]


def _queue(conn: Connection, now: datetime, event: Event, bodies: list[_Body]) -> int:
    rows = []
    for endpoint_ids, about, data in bodies:
        body = json.dumps(
            {"type": event.value, "timestamp": now.isoformat(), "data": data},
            separators=(",", ":"),
            ensure_ascii=False,
        )
        rows += [
            {
                "webhook_id": endpoint,
                "msg_id": new_msg_id(),
                "event": event.value,
                "submission_id": about.get("submission_id"),
                "job_id": about.get("job_id"),
                "inbound_id": about.get("inbound_id"),
                "body": body,
                "state": PENDING,
                "tries": 0,
                "next_at": now,
                "created_at": now,
                "updated_at": now,
            }
            for endpoint in endpoint_ids
        ]
    if rows:
        conn.execute(insert(webhook_deliveries), rows)
    return len(rows)


def emit_for_faxes(
    conn: Connection, now: datetime, event: Event, submission_ids: Sequence[int]
) -> int:
    """Queue ``event`` (a fax-wide one: queued, rendered) for ``submission_ids``; how many
    deliveries were queued."""
    if not submission_ids:
        return 0
    endpoints = _endpoints(conn, event, _BY_SUBMISSION, list(submission_ids))
    if not endpoints:
        return 0
    wanted = list(endpoints)
    recipients: dict[int, list[dict[str, Any]]] = {}
    pages: dict[int, int | None] = {}
    for row in conn.execute(
        select(jobs.c.submission_id, jobs.c.id, jobs.c.number, jobs.c.name, submissions.c.pages)
        .join(submissions, submissions.c.id == jobs.c.submission_id)
        .where(jobs.c.submission_id.in_(wanted))
        .order_by(jobs.c.submission_id, jobs.c.seq)
    ):
        pages[row.submission_id] = row.pages
        recipients.setdefault(row.submission_id, []).append(
            {"id": row.id, "number": row.number, "name": row.name}
        )
    bodies: list[_Body] = [
        (
            endpoints[sid],
            {"submission_id": sid},
            {"fax_id": sid, "pages": pages.get(sid), "recipients": recipients.get(sid, [])},
        )
        for sid in wanted
    ]
    return _queue(conn, now, event, bodies)


def emit_for_recipients(
    conn: Connection,
    now: datetime,
    event: Event,
    job_ids: Sequence[int],
    *,
    pages_confirmed: int | None = None,
    **extra: Any,
) -> int:
    """Queue ``event`` (a recipient's: dialing, page confirmed, delivered, failed, …) for
    ``job_ids`` as they are now on ``conn``; ``extra`` is added to each body's data.
    ``pages_confirmed``: the count during a call (the job's own changes only at its end)."""
    if not job_ids:
        return 0
    if event in _PER_FAX or event in _INBOUND:
        raise ValueError(f"{event} is not an event of a recipient")
    endpoints = _endpoints(conn, event, _BY_JOB, list(job_ids))
    if not endpoints:
        return 0
    rows = conn.execute(
        select(
            jobs.c.id,
            jobs.c.submission_id,
            jobs.c.number,
            jobs.c.name,
            jobs.c.pages_confirmed,
            jobs.c.pages,
            jobs.c.reason,
            jobs.c.dials,
            submissions.c.pages.label("fax_pages"),
            submissions.c.cover_page,
        )
        .join(submissions, submissions.c.id == jobs.c.submission_id)
        .where(jobs.c.id.in_(list(endpoints)))
        .order_by(jobs.c.id)
    ).all()
    bodies = []
    for r in rows:
        own = r.pages or r.fax_pages
        cover = 0 if r.cover_page == "none" else 1
        data = {
            "fax_id": r.submission_id,
            "recipient": {
                "id": r.id,
                "number": r.number,
                "name": r.name,
                "pages_confirmed": r.pages_confirmed
                if pages_confirmed is None
                else pages_confirmed,
                "pages_total": own + cover if own else None,
                "dials": r.dials,
                "reason": r.reason,
            },
            **extra,
        }
        bodies.append((endpoints[r.id], {"submission_id": r.submission_id, "job_id": r.id}, data))
    return _queue(conn, now, event, bodies)


def inbound_links(inbound_id: int, pages: int) -> dict[str, Any]:
    """Where the status API serves a received fax, its PDF and its pages (paths on the
    server: the event is read by a program that knows where it is)."""
    base = f"/api/v1/inbound/{inbound_id}"
    return {
        "self": base,
        "pdf": f"{base}.pdf" if pages else None,
        "pages": [f"{base}/pages/{n}.png" for n in range(1, pages + 1)],
    }


def emit_for_inbound(conn: Connection, now: datetime, event: Event, inbound_id: int) -> int:
    """Queue ``event`` (fax.received, fax.receive.failed) for the received fax as it is now
    on ``conn``, to the endpoints of the account owning its inbox (a shared inbox's fax is
    announced to nobody); how many deliveries were queued."""
    if event not in _INBOUND:
        raise ValueError(f"{event} is not an event of a received fax")
    f = inbound_faxes.c
    # Who listens first: the only query when nobody does (or the inbox is shared, whose NULL
    # owner joins no endpoint).
    found = conn.execute(
        select(webhooks.c.id, webhooks.c.events)
        .join(inboxes, inboxes.c.account_id == webhooks.c.account_id)
        .join(inbound_faxes, f.inbox_id == inboxes.c.id)
        .where(f.id == inbound_id, webhooks.c.enabled.is_(True))
        .order_by(webhooks.c.id)
    ).all()
    endpoint_ids = [w.id for w in found if subscribes(w.events, event)]
    if not endpoint_ids:
        return 0
    row = conn.execute(
        select(
            f.id,
            f.state,
            f.caller,
            f.caller_name,
            f.csid,
            f.called,
            f.pages,
            f.finished_at,
            inboxes.c.name.label("inbox"),
        )
        .join(inboxes, inboxes.c.id == f.inbox_id)
        .where(f.id == inbound_id)
    ).one()
    data = {
        "id": row.id,
        "inbox": row.inbox,
        "state": row.state,
        "caller": row.caller,
        "caller_name": row.caller_name,
        "csid": row.csid,
        "called": row.called,
        "pages": row.pages,
        "finished_at": row.finished_at.isoformat() if row.finished_at else None,
        "links": inbound_links(row.id, row.pages),
    }
    return _queue(conn, now, event, [(endpoint_ids, {"inbound_id": row.id}, data)])
