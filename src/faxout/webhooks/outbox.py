"""The webhook outbox: events wait in SQL (``webhook_deliveries``) until their endpoint takes them.

Rows are queued by ``faxout.jobs.events`` in the transaction of the fax's state change (a sent
fax's rows name its submission and job, a received fax's its ``inbound_id``; the delivery is
the same for both). A pass
(``WebhookOutbox.run_once``) leases the due rows, signs each body afresh (Standard Webhooks:
``webhook-id`` = the row's ``msg_id``, the same on every try; ``webhook-timestamp`` = this
try's time) and POSTs it:

- 2xx → ``sent``;
- 410 Gone → the endpoint is disabled (``faxout webhook list`` says why), and this and its
  other pending deliveries are ``failed``;
- anything else (3xx, 4xx, 5xx, timeout, refused connection, an address that may not be
  called) → tried again after ``webhooks.schedule`` (about three days in all), then
  ``failed``. The other deliveries of an endpoint that just failed wait with it rather than
  each spending a timeout in the same pass.

**At most one duplicate, with the same ``webhook-id``.** The endpoint's 2xx and our
``UPDATE … state='sent'`` cannot be one transaction: if the process dies between the two, the
row keeps its lease until ``webhooks.lease_seconds`` pass, and the next pass sends it again
(same id, same body). Receivers dedupe on ``webhook-id``. A row is written only by its lease
holder.

**Never blocks fax work.** Deliveries run on their own thread (``WebhookRunner``) and pool;
queueing an event is one insert in the fax's transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, and_, select, update
from sqlalchemy.sql.elements import ColumnElement

from faxout.clock import Clock
from faxout.db.engine import transaction
from faxout.db.leases import WEBHOOK
from faxout.db.tables import webhook_deliveries, webhooks
from faxout.jobs.events import PENDING
from faxout.webhooks.client import Answer, post
from faxout.webhooks.settings import Webhooks
from faxout.webhooks.signing import headers

log = logging.getLogger("faxout.webhooks")

SENT, FAILED = "sent", "failed"
Post = Callable[..., Answer]
_d = webhook_deliveries.c


@dataclass
class WebhookPass:
    """What one pass did."""

    sent: int = 0
    deferred: int = 0
    failed: int = 0


@dataclass(frozen=True)
class _Due:
    id: int
    msg_id: str
    event: str
    submission_id: int | None
    inbound_id: int | None
    body: str
    tries: int
    webhook_id: int
    url: str
    secret: str
    enabled: bool

    @property
    def about(self) -> str:
        """What the event is about, for the log: a sent fax, or a received one."""
        if self.inbound_id is not None:
            return f"received fax {self.inbound_id}"
        return f"fax {self.submission_id}"


class WebhookOutbox:
    """Delivers due webhook events; safe to run in several processes at once."""

    def __init__(
        self,
        engine: Engine,
        settings: Webhooks,
        *,
        clock: Clock,
        worker: str = "webhooks",
        send: Post = post,
    ) -> None:
        self.engine = engine
        self.settings = settings
        self.clock = clock
        self.worker = worker
        self._send = send

    def run_once(self, now: datetime, limit: int = 200) -> WebhookPass:
        """Deliver what is due at ``now`` (up to ``limit`` rows)."""
        result = WebhookPass()
        if not self.settings.enabled:
            return result
        due = self._claim(now, limit)
        by_endpoint: dict[int, list[_Due]] = {}
        for row in due:
            by_endpoint.setdefault(row.webhook_id, []).append(row)
        workers = min(self.settings.concurrency, len(by_endpoint)) or 1
        with ThreadPoolExecutor(workers, thread_name_prefix="faxout-webhook") as pool:
            for done in pool.map(self._endpoint_pass, by_endpoint.values()):
                result.sent += done.sent
                result.deferred += done.deferred
                result.failed += done.failed
        return result

    def _claim(self, now: datetime, limit: int) -> list[_Due]:
        until = now + timedelta(seconds=self.settings.lease_seconds)
        with transaction(self.engine) as conn:
            ids = list(
                conn.execute(
                    select(_d.id)
                    .where(_d.state == PENDING, _d.next_at <= now, WEBHOOK.free(now))
                    .order_by(_d.id)
                    .limit(limit)
                ).scalars()
            )
            if not ids:
                return []
            conn.execute(
                update(webhook_deliveries)
                .where(_d.id.in_(ids), _d.state == PENDING, WEBHOOK.free(now))
                .values(**WEBHOOK.take(self.worker, until))
            )
            rows = conn.execute(
                select(
                    _d.id,
                    _d.msg_id,
                    _d.event,
                    _d.submission_id,
                    _d.inbound_id,
                    _d.body,
                    _d.tries,
                    webhooks.c.id.label("webhook_id"),
                    webhooks.c.url,
                    webhooks.c.secret,
                    webhooks.c.enabled,
                )
                .join(webhooks, webhooks.c.id == _d.webhook_id)
                .where(_d.id.in_(ids), WEBHOOK.held_by(self.worker))
                .order_by(_d.id)
            ).all()
        return [_Due(**row._asdict()) for row in rows]

    def _endpoint_pass(self, rows: list[_Due]) -> WebhookPass:
        """One endpoint's due rows, in order; after a failure the rest wait with it."""
        done = WebhookPass()
        for i, row in enumerate(rows):
            if not row.enabled:
                self._record(row, Answer(None, "the endpoint is disabled"), final=True)
                done.failed += 1
                continue
            answer = self._deliver(row)
            if answer.ok:
                done.sent += 1
                continue
            if answer.gone:
                self._disable(row, answer)
                done.failed += len(rows) - i
                return done
            wait = self._record(row, answer)
            if wait is None:
                done.failed += 1
            else:
                done.deferred += 1
            for rest in rows[i + 1 :]:
                self._postpone(rest, wait, answer)
                done.deferred += 1
            return done
        return done

    def _deliver(self, row: _Due) -> Answer:
        now = self.clock.now()
        body = row.body.encode()
        signed = headers(row.secret, row.msg_id, int(now.timestamp()), body)
        answer = self._send(
            row.url,
            body,
            signed,
            timeout=self.settings.timeout_seconds,
            allow_private=self.settings.allow_private,
        )
        if answer.ok:
            # <- A crash here (the endpoint has the event, the row still says pending) sends it
            #    again, with the same webhook-id, once the lease runs out: at most one duplicate.
            self._record(row, answer)
        return answer

    def _mine(self, row_id: int) -> ColumnElement[bool]:
        return and_(_d.id == row_id, _d.state == PENDING, WEBHOOK.held_by(self.worker))

    def _record(self, row: _Due, answer: Answer, *, final: bool = False) -> datetime | None:
        """Write the try's result; when the next try is due (None: sent, or given up)."""
        now = self.clock.now()
        tries = row.tries + 1
        values: dict[str, Any] = {
            "tries": tries,
            "last_status": answer.status,
            "last_error": answer.error,
            "updated_at": now,
            **WEBHOOK.released(),
        }
        retry_at: datetime | None = None
        if answer.ok:
            values |= {"state": SENT, "sent_at": now, "last_error": ""}
        elif final or tries > len(self.settings.schedule):
            why = answer.error if final else f"gave up after {tries} tries: {answer.error}"
            values |= {"state": FAILED, "last_error": why}
            log.error(
                "webhook %s: %s of %s not delivered: %s",
                row.webhook_id,
                row.event,
                row.about,
                why,
            )
        else:
            delay = timedelta(seconds=self.settings.schedule[tries - 1])
            retry_at = values["next_at"] = now + delay
            log.warning(
                "webhook %s: %s of %s deferred (%s); next try in %s",
                row.webhook_id,
                row.event,
                row.about,
                answer.error,
                delay,
            )
        with transaction(self.engine) as conn:
            conn.execute(update(webhook_deliveries).where(self._mine(row.id)).values(**values))
        return retry_at

    def _postpone(self, row: _Due, wait: datetime | None, answer: Answer) -> None:
        """Release an untried row of a failing endpoint to wait with it (no try counted; None:
        the endpoint's try was its last, and this one is due at once for its own tries)."""
        values: dict[str, Any] = {**WEBHOOK.released(), "updated_at": self.clock.now()}
        if wait is not None:
            values["next_at"] = wait
            values["last_error"] = f"waiting: the endpoint failed ({answer.error})"
        with transaction(self.engine) as conn:
            conn.execute(update(webhook_deliveries).where(self._mine(row.id)).values(**values))

    def _disable(self, row: _Due, answer: Answer) -> None:
        """410 Gone: the endpoint is disabled and none of its events is sent any more."""
        now = self.clock.now()
        why = f"the endpoint answered 410 Gone on {now:%Y-%m-%d %H:%M} UTC"
        with transaction(self.engine) as conn:
            conn.execute(
                update(webhooks)
                .where(webhooks.c.id == row.webhook_id)
                .values(enabled=False, disabled_reason=why, updated_at=now)
            )
            conn.execute(
                update(webhook_deliveries)
                .where(_d.webhook_id == row.webhook_id, _d.state == PENDING)
                .values(
                    state=FAILED,
                    last_error=f"not sent: {why}",
                    updated_at=now,
                    **WEBHOOK.released(),
                )
            )
            conn.execute(
                update(webhook_deliveries)
                .where(_d.id == row.id)
                .values(tries=row.tries + 1, last_status=answer.status, last_error=why)
            )
        log.error("webhook %s disabled: %s", row.webhook_id, why)
