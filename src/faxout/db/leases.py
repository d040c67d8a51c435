"""Leases: the one pattern by which a worker holds a row (a job, a render, a line, a report,
a webhook delivery, the mail of a received fax).

A leased row has an owner column and an expiry column. Its holder takes it (``take``) in a
compare-and-set, renews it while it works (``renew``, from ``jobs.heartbeat``) and gives it back
(``released``). A holder that dies stops renewing: once the lease expires, or once its process
is seen gone on this host (``lost``), the reconciler or the next pass takes the row over.
``LEASES`` lists every leased table, so the reconciler asks them all which owners are dead.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Column, or_
from sqlalchemy.sql.elements import ColumnElement

from faxout.db.tables import inbound_mails, jobs, lines, outbox, submissions, webhook_deliveries


@dataclass(frozen=True)
class Lease:
    """The owner and expiry columns of one leased table."""

    owner: Column[Any]
    until: Column[Any]

    def take(self, owner: str, until: datetime) -> dict[str, Any]:
        """Column values that give the row to ``owner`` until ``until``."""
        return {self.owner.name: owner, self.until.name: until}

    def renew(self, until: datetime) -> dict[str, Any]:
        """Column values that extend the lease."""
        return {self.until.name: until}

    def released(self) -> dict[str, Any]:
        """Column values of a row nobody holds."""
        return {self.owner.name: None, self.until.name: None}

    def held_by(self, owner: str) -> ColumnElement[bool]:
        """The row is ``owner``'s (whether or not its lease has run out)."""
        return self.owner == owner

    def free(self, now: datetime) -> ColumnElement[bool]:
        """Nobody holds the row, or its lease has run out."""
        return or_(self.owner.is_(None), self.until < now)

    def lost(self, now: datetime, dead: list[str]) -> ColumnElement[bool]:
        """The row is held, but its lease ran out or its owner is known dead."""
        return self.owner.is_not(None) & or_(self.until < now, self.owner.in_(dead))


JOB = Lease(jobs.c.lease_owner, jobs.c.lease_until)
RENDER = Lease(submissions.c.lease_owner, submissions.c.lease_until)
LINE = Lease(lines.c.holder, lines.c.lease_until)
REPORT = Lease(outbox.c.lease_owner, outbox.c.lease_until)
WEBHOOK = Lease(webhook_deliveries.c.lease_owner, webhook_deliveries.c.lease_until)
INBOUND_MAIL = Lease(inbound_mails.c.lease_owner, inbound_mails.c.lease_until)
LEASES = (JOB, RENDER, LINE, REPORT, WEBHOOK, INBOUND_MAIL)
