"""Line leases: N rows per transport, one per line, so N caps concurrent calls across workers.

A worker leases a line before it dials (``lease``), keeps it alive while the call runs
(``renew``) and gives it back after (``release``). A lease whose holder died expires at
``lease_until`` and the line is free again. The per-number cap (``per_number``) refuses a lease
while that many valid leases already hold calls to the same number.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Connection, Engine, Insert, and_, delete, func, insert, select, update
from sqlalchemy.dialects import postgresql, sqlite

from faxout.db.engine import transaction
from faxout.db.leases import LINE
from faxout.db.tables import lines


@dataclass(frozen=True)
class LineBusy:
    """Why no line could be leased (a value: the job waits and says why)."""

    reason: str


def sync_lines(engine: Engine, transport: str, count: int) -> None:
    """Make the transport have exactly ``count`` line rows (config may change between runs)."""
    with transaction(engine) as conn:
        have = set(
            conn.execute(select(lines.c.line_no).where(lines.c.transport == transport)).scalars()
        )
        want = set(range(1, count + 1))
        missing = [{"transport": transport, "line_no": n} for n in sorted(want - have)]
        if missing:
            # Workers and dispatchers starting at once on a fresh database all find the rows
            # missing; on PostgreSQL (READ COMMITTED) a plain INSERT would make all but one of
            # them fail on the primary key. Whoever comes second finds the row there: fine.
            conn.execute(_insert_ignoring_existing(conn), missing)
        if have - want:
            conn.execute(
                delete(lines).where(
                    lines.c.transport == transport, lines.c.line_no.in_(sorted(have - want))
                )
            )


def _insert_ignoring_existing(conn: Connection) -> Insert:
    """``INSERT INTO lines … ON CONFLICT DO NOTHING`` in the connection's SQL dialect."""
    if conn.dialect.name == "postgresql":
        return postgresql.insert(lines).on_conflict_do_nothing()
    if conn.dialect.name == "sqlite":
        return sqlite.insert(lines).on_conflict_do_nothing()
    return insert(lines)


def lease(
    conn: Connection,
    *,
    transport: str,
    holder: str,
    job_id: int,
    number: str,
    now: datetime,
    ttl: float,
    per_number: int,
) -> int | LineBusy:
    """Lease a free line inside the caller's transaction; the line number, or why not."""
    if per_number > 0:
        calls = conn.execute(
            select(func.count())
            .select_from(lines)
            .where(
                lines.c.number == number, lines.c.holder.is_not(None), lines.c.lease_until >= now
            )
        ).scalar_one()
        if calls >= per_number:
            return LineBusy(f"another call to {number} is in progress")
    candidates = list(
        conn.execute(
            select(lines.c.line_no)
            .where(lines.c.transport == transport, LINE.free(now))
            .order_by(lines.c.line_no)
            # One row: locking several would make concurrent claims skip free lines and wait
            # (PostgreSQL); each claim locks the first free line nobody else holds.
            .limit(1)
            .with_for_update(skip_locked=True)
        ).scalars()
    )
    for line_no in candidates:
        taken = conn.execute(
            update(lines)
            .where(
                lines.c.transport == transport,
                lines.c.line_no == line_no,
                LINE.free(now),
            )
            .values(job_id=job_id, number=number, **LINE.take(holder, now + timedelta(seconds=ttl)))
        )
        if taken.rowcount == 1:
            return int(line_no)
    return LineBusy(f"all {transport} lines are busy")


def free_count(conn: Connection, transport: str, now: datetime) -> int:
    """Lines of ``transport`` free right now."""
    return int(
        conn.execute(
            select(func.count())
            .select_from(lines)
            .where(lines.c.transport == transport, LINE.free(now))
        ).scalar_one()
    )


def renew(conn: Connection, transport: str, line_no: int, holder: str, until: datetime) -> bool:
    """Extend a lease we hold; False if it was lost."""
    res = conn.execute(
        update(lines)
        .where(lines.c.transport == transport, lines.c.line_no == line_no, LINE.held_by(holder))
        .values(**LINE.renew(until))
    )
    return res.rowcount == 1


def release(conn: Connection, transport: str, line_no: int, holder: str) -> None:
    """Give a line back (no-op if the lease was lost meanwhile)."""
    conn.execute(
        update(lines)
        .where(
            and_(
                lines.c.transport == transport,
                lines.c.line_no == line_no,
                LINE.held_by(holder),
            )
        )
        .values(job_id=None, number=None, **LINE.released())
    )


def free_expired(conn: Connection, now: datetime, dead_holders: list[str]) -> int:
    """Free lines whose lease expired or whose holder is known dead; how many."""
    res = conn.execute(
        update(lines)
        .where(LINE.lost(now, dead_holders))
        .values(job_id=None, number=None, **LINE.released())
    )
    return int(res.rowcount)
