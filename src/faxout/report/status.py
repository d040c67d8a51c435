"""What became of a submission's reports (``faxout jobs show``, ``faxout report``): read from the
outbox table alone, so looking loads nothing that composes or sends mail."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select

from faxout.db.engine import reading
from faxout.db.tables import outbox

PENDING, SENT, FAILED = "pending", "sent", "failed"


@dataclass(frozen=True)
class OutboxView:
    """One report and how its delivery went."""

    id: int
    submission_id: int
    kind: str
    ref: str
    state: str
    tries: int
    next_at: datetime | None
    last_error: str
    recipient: str | None
    message_id: str | None
    created_at: datetime
    sent_at: datetime | None

    def describe(self) -> str:
        """One line for ``faxout jobs show`` / ``faxout report show``."""
        what = f"report {self.kind}" + (f" {self.ref}" if self.ref else "")
        if self.state == SENT:
            return f"{what}: sent {self.sent_at:%Y-%m-%d %H:%M} UTC to {self.recipient}"
        if self.state == FAILED:
            return f"{what}: FAILED after {self.tries} tries: {self.last_error}"
        if self.tries:
            nxt = f"{self.next_at:%Y-%m-%d %H:%M} UTC" if self.next_at else "now"
            return (
                f"{what}: waiting for the relay ({self.tries} tries; next {nxt}): {self.last_error}"
            )
        return f"{what}: queued"


def report_status(engine: Engine, submission_id: int) -> list[OutboxView]:
    """The reports of a submission, oldest first."""
    cols = [outbox.c[f] for f in OutboxView.__dataclass_fields__]
    with reading(engine) as conn:
        rows = conn.execute(
            select(*cols).where(outbox.c.submission_id == submission_id).order_by(outbox.c.id)
        ).all()
    return [OutboxView(**r._mapping) for r in rows]
