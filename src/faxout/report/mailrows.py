"""The leased rows of a mail table: what the report outbox (``outbox``) and fax-to-email
(``inbound_mails``) share. A row is ``pending`` until sent; a pass takes the due ones in id
order, each under a lease (``faxout.db.leases``), so several processes never send one row at
once, and stops when the relay is down rather than trying every row against it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

from sqlalchemy import ColumnElement, Engine, Table, and_, or_, select, update

from faxout.clock import Clock
from faxout.db.engine import reading, transaction
from faxout.db.leases import Lease
from faxout.report.mailer import Temporary
from faxout.report.status import PENDING

T = TypeVar("T")


class MailRows:
    """Due rows, claims and ownership of one mail table (columns ``id``, ``state``,
    ``next_at`` and the lease's)."""

    def __init__(
        self,
        engine: Engine,
        table: Table,
        lease: Lease,
        *,
        worker: str,
        lease_seconds: float,
        clock: Clock,
    ) -> None:
        self.engine = engine
        self.table = table
        self.lease = lease
        self.worker = worker
        self.lease_seconds = lease_seconds
        self.clock = clock

    def due(self, now: datetime, limit: int) -> list[int]:
        """The ids of the pending rows due at ``now`` that nobody holds, oldest first."""
        t = self.table.c
        with reading(self.engine) as conn:
            return list(
                conn.execute(
                    select(t.id)
                    .where(
                        t.state == PENDING,
                        or_(t.next_at.is_(None), t.next_at <= now),
                        self.lease.free(now),
                    )
                    .order_by(t.id)
                    .limit(limit)
                ).scalars()
            )

    def claim(self, row_id: int) -> bool:
        """Take the row for this worker; False when it is taken or no longer pending."""
        now = self.clock.now()
        until = now + timedelta(seconds=self.lease_seconds)
        t = self.table.c
        with transaction(self.engine) as conn:
            res = conn.execute(
                update(self.table)
                .where(t.id == row_id, t.state == PENDING, self.lease.free(now))
                .values(**self.lease.take(self.worker, until))
            )
            return res.rowcount == 1

    def mine(self, row_id: int) -> ColumnElement[bool]:
        """The row, while it is pending and this worker's: every write after the claim."""
        t = self.table.c
        return and_(t.id == row_id, t.state == PENDING, self.lease.held_by(self.worker))


def deliver_each(ids: list[int], deliver: Callable[[int], T]) -> list[T]:
    """``deliver`` each row in turn; after a try that found the relay down, the rest wait for
    the next pass. The outcomes, in order."""
    outcomes = []
    for row_id in ids:
        outcome = deliver(row_id)
        outcomes.append(outcome)
        if isinstance(outcome, Temporary) and outcome.relay_down:
            break
    return outcomes
