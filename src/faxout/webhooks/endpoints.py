"""An account's webhook endpoints and what was delivered to them (``faxout webhook``, the API).

The secret is stored as given to the account (``whsec_…``): it must sign every delivery, so it
cannot be hashed like a token. It is shown once, when the endpoint is added.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, delete, func, insert, select

from faxout.db.engine import reading, transaction
from faxout.db.tables import accounts, webhook_deliveries, webhooks
from faxout.jobs.events import parse_events
from faxout.webhooks.guard import check
from faxout.webhooks.signing import new_secret

MAX_ENDPOINTS = 20  # per account: each event is queued once per endpoint


class EndpointError(ValueError):
    """An endpoint that cannot be added or found; the message says why."""


@dataclass(frozen=True)
class Endpoint:
    """One endpoint (its secret is not part of it: it is shown once, by ``add``)."""

    id: int
    username: str
    url: str
    events: str
    enabled: bool
    disabled_reason: str
    created_at: datetime


@dataclass(frozen=True)
class Delivery:
    """One event for one endpoint, and how its delivery went."""

    id: int
    webhook_id: int
    msg_id: str
    event: str
    fax_id: int | None
    recipient_id: int | None
    inbound_id: int | None  # the received fax of fax.received and fax.receive.failed
    state: str
    tries: int
    next_at: datetime | None
    last_status: int | None
    last_error: str
    created_at: datetime
    sent_at: datetime | None
    body: str


_COLUMNS = (
    webhooks.c.id,
    accounts.c.username,
    webhooks.c.url,
    webhooks.c.events,
    webhooks.c.enabled,
    webhooks.c.disabled_reason,
    webhooks.c.created_at,
)


class Endpoints:
    """Add, list and remove endpoints; read their deliveries."""

    def __init__(self, engine: Engine, *, allow_private: bool) -> None:
        self._engine = engine
        self._allow_private = allow_private

    def add(self, username: str, url: str, events: str, now: datetime) -> tuple[Endpoint, str]:
        """A new endpoint for ``username`` and its secret; ``EndpointError`` naming what is
        wrong (the account, the URL, the events)."""
        try:
            check(url, allow_private=self._allow_private)
            wanted = parse_events(events)
        except ValueError as exc:
            raise EndpointError(str(exc)) from exc
        secret = new_secret()
        with transaction(self._engine) as conn:
            account_id = conn.execute(
                select(accounts.c.id).where(accounts.c.username == username)
            ).scalar_one_or_none()
            if account_id is None:
                raise EndpointError(f"there is no account {username}")
            count = conn.execute(
                select(func.count())
                .select_from(webhooks)
                .where(webhooks.c.account_id == account_id)
            ).scalar_one()
            if count >= MAX_ENDPOINTS:
                raise EndpointError(f"an account may have at most {MAX_ENDPOINTS} webhooks")
            new_id = conn.execute(
                insert(webhooks)
                .values(
                    account_id=account_id,
                    url=url,
                    events=wanted,
                    secret=secret,
                    enabled=True,
                    disabled_reason="",
                    created_at=now,
                    updated_at=now,
                )
                .returning(webhooks.c.id)
            ).scalar_one()
        made = self.get(int(new_id))
        assert made is not None
        return made, secret

    def find(self, username: str | None = None) -> list[Endpoint]:
        """Every endpoint (of ``username``), oldest first."""
        query = select(*_COLUMNS).join(accounts, accounts.c.id == webhooks.c.account_id)
        if username is not None:
            query = query.where(accounts.c.username == username)
        with reading(self._engine) as conn:
            return [
                Endpoint(**row._asdict()) for row in conn.execute(query.order_by(webhooks.c.id))
            ]

    def get(self, webhook_id: int) -> Endpoint | None:
        """One endpoint, or None."""
        query = (
            select(*_COLUMNS)
            .join(accounts, accounts.c.id == webhooks.c.account_id)
            .where(webhooks.c.id == webhook_id)
        )
        with reading(self._engine) as conn:
            row = conn.execute(query).first()
        return Endpoint(**row._asdict()) if row else None

    def remove(self, webhook_id: int) -> bool:
        """Delete an endpoint and (by the foreign key's cascade) its deliveries: pending ones
        are never sent. False if there is none."""
        with transaction(self._engine) as conn:
            res = conn.execute(delete(webhooks).where(webhooks.c.id == webhook_id))
        return bool(res.rowcount == 1)

    def deliveries(
        self,
        webhook_id: int | None = None,
        *,
        fax_id: int | None = None,
        inbound_id: int | None = None,
        username: str | None = None,
        limit: int = 50,
        before: int | None = None,
    ) -> list[Delivery]:
        """Deliveries, newest first: of one endpoint, of one fax (sent, or received:
        ``inbound_id``), of one account's endpoints."""
        d = webhook_deliveries.c
        query = select(
            d.id,
            d.webhook_id,
            d.msg_id,
            d.event,
            d.submission_id.label("fax_id"),
            d.job_id.label("recipient_id"),
            d.inbound_id,
            d.state,
            d.tries,
            d.next_at,
            d.last_status,
            d.last_error,
            d.created_at,
            d.sent_at,
            d.body,
        )
        if webhook_id is not None:
            query = query.where(d.webhook_id == webhook_id)
        if fax_id is not None:
            query = query.where(d.submission_id == fax_id)
        if inbound_id is not None:
            query = query.where(d.inbound_id == inbound_id)
        if username is not None:
            own = (
                select(webhooks.c.id)
                .join(accounts, accounts.c.id == webhooks.c.account_id)
                .where(accounts.c.username == username)
            )
            query = query.where(d.webhook_id.in_(own))
        if before is not None:
            query = query.where(d.id < before)
        with reading(self._engine) as conn:
            rows = conn.execute(query.order_by(d.id.desc()).limit(limit)).all()
        return [Delivery(**row._asdict()) for row in rows]
