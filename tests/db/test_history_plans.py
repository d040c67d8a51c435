"""The queries that run at every dispatcher and reconciler pass use an index, whatever the
history or the backlog: a plan that scans or sorts the jobs grows with every fax sent
(bench/history.py and bench/burst.py measured 0.2-1.8 s and 20 ms passes without them)."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, select, text
from sqlalchemy.sql import Select

from faxout.db.leases import LEASES
from faxout.db.tables import jobs, submissions
from faxout.jobs.model import JobState
from faxout.schedule.dispatcher import _due

NOW = datetime(2026, 12, 3, tzinfo=UTC)


def _plan(engine: Engine, stmt: Select[tuple[object]]) -> str:
    compiled = stmt.compile(engine, compile_kwargs={"literal_binds": True})
    with engine.connect() as conn:
        if engine.dialect.name == "sqlite":
            rows = conn.execute(text(f"EXPLAIN QUERY PLAN {compiled}")).fetchall()
            return "\n".join(str(r[-1]) for r in rows)
        conn.execute(text("SET enable_seqscan = off"))  # an empty table: ask what it can use
        return "\n".join(r[0] for r in conn.execute(text(f"EXPLAIN {compiled}")))


def test_due_ready_jobs_come_in_index_order_without_a_sort(engine: Engine) -> None:
    stmt = (
        select(jobs.c.id)
        .where(jobs.c.state == JobState.READY, _due() <= NOW)
        .order_by(_due(), jobs.c.id)
        .limit(4)
    )
    plan = _plan(engine, stmt)
    assert "ix_jobs_state_due_id" in plan, plan
    assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan


def test_kill_times_are_searched_not_scanned(engine: Engine) -> None:
    stmt = select(jobs.c.id).where(
        jobs.c.state.in_([JobState.READY, JobState.QUEUED]), jobs.c.kill_at <= NOW
    )
    assert "ix_jobs_state_kill_at" in _plan(engine, stmt)


def test_an_accounts_newest_submissions_need_no_sort(engine: Engine) -> None:
    stmt = (
        select(submissions.c.id)
        .where(submissions.c.account_id == 1)
        .order_by(submissions.c.id.desc())
        .limit(50)
    )
    plan = _plan(engine, stmt)
    assert "ix_submissions_account_id_id" in plan, plan
    assert "TEMP B-TREE" not in plan and "Sort" not in plan, plan


def test_the_reconciler_reads_only_the_leases_held_now(engine: Engine) -> None:
    for lease in LEASES:
        table = lease.owner.table.name  # type: ignore[attr-defined]
        if table == "lines":
            continue  # one row per line: nothing grows
        stmt = select(lease.owner).where(lease.owner.is_not(None)).distinct()
        plan = _plan(engine, stmt)
        assert f"ix_{table}_lease_owner" in plan, (table, plan)
