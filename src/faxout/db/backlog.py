"""What waits in the two outboxes (delivery reports, webhook events), read one way for all.

``/metrics`` (``faxout.ops.metrics``) and the console's admin page (``faxout.intake.admin``
functions) both show the backlog; they read it here, so the two never disagree. Both outbox
tables have the same life (``pending`` → ``sent`` or ``failed``, ``created_at`` when enqueued).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Table, func, select

from faxout.db.tables import webhooks


@dataclass(frozen=True)
class Backlog:
    """An outbox's rows not yet taken (``pending``, retries included), the enqueue time of its
    oldest one (None when none waits), and the rows given up on (``failed``)."""

    pending: int
    oldest_at: datetime | None
    failed: int

    def oldest_seconds(self, now: datetime) -> float:
        """How long the oldest pending row has waited; 0 if none waits."""
        if self.oldest_at is None:
            return 0.0
        return max(0.0, (now - self.oldest_at).total_seconds())


def backlog(conn: Connection, table: Table) -> Backlog:
    """The backlog of an outbox table (``outbox`` or ``webhook_deliveries``): two queries over
    its state index."""
    query = (
        select(table.c.state, func.count())
        .where(table.c.state.in_(("pending", "failed")))
        .group_by(table.c.state)
    )
    by_state: dict[str, int] = {state: count for state, count in conn.execute(query)}
    oldest = conn.execute(
        select(func.min(table.c.created_at)).where(table.c.state == "pending")
    ).scalar_one()
    return Backlog(by_state.get("pending", 0), oldest, by_state.get("failed", 0))


def disabled_endpoints(conn: Connection) -> int:
    """Webhook endpoints disabled (by a 410 Gone answer): their events are no longer sent."""
    query = select(func.count()).select_from(webhooks).where(webhooks.c.enabled.is_(False))
    return int(conn.execute(query).scalar_one())
