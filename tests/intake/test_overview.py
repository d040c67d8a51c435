"""What the admin page shows of the gateway: lines and their calls, the outboxes' backlog."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, insert, update

from faxout.blobs.memory import MemoryBlobStore
from faxout.db.engine import make_engine, transaction
from faxout.db.migrate import upgrade
from faxout.db.tables import attempts, jobs, lines, outbox, webhook_deliveries, webhooks
from faxout.intake.overview import line_states, outboxes
from faxout.jobs.create import insert_submissions, store_documents
from faxout.jobs.repo import JobRepo
from faxout.schedule.lines import lease, sync_lines
from tests.db.records import NOW, add_account, new_submission


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    db = make_engine(f"sqlite:///{tmp_path / 'faxout.db'}")
    upgrade(db)
    try:
        yield db
    finally:
        db.dispose()


def _jobs(engine: Engine, count: int) -> tuple[int, list[int]]:
    account = add_account(engine)
    sub = new_submission(account.id, MemoryBlobStore(), recipients=count)
    with transaction(engine) as conn:
        (sid,) = insert_submissions(conn, [(sub, store_documents(sub))])
        ids = sorted(conn.execute(jobs.select().where(jobs.c.submission_id == sid)).scalars())
    return sid, ids


def _lease(conn: object, job_id: int, number: str, ttl: float = 60) -> int:
    line = lease(
        conn,  # type: ignore[arg-type]
        transport="simline", holder="worker-1", job_id=job_id, number=number, now=NOW,
        ttl=ttl, per_number=0,
    )  # fmt: skip
    assert isinstance(line, int)
    return line


def test_each_line_says_what_it_does(engine: Engine) -> None:
    _, (calling, claimed) = _jobs(engine, 2)
    sync_lines(engine, "simline", 4)
    sync_lines(engine, "sip", 1)
    with transaction(engine) as conn:
        conn.execute(update(jobs).where(jobs.c.id == calling).values(state="dialing"))
        first = _lease(conn, calling, "+15550000000")
        conn.execute(
            insert(attempts).values(
                job_id=calling, attempt_no=1, phase="dialing", worker="worker-1",
                transport="simline", line_no=first, first_page=1, pages_sent=2,
                pages_confirmed=1, pages_total=3, claimed_at=NOW - timedelta(seconds=40),
                dialing_at=NOW - timedelta(seconds=30),
            )
        )  # fmt: skip
        conn.execute(update(jobs).where(jobs.c.id == claimed).values(state="dialing"))
        second = _lease(conn, claimed, "+15550000001")
        conn.execute(
            insert(attempts).values(
                job_id=claimed, attempt_no=1, phase="claimed", worker="worker-1",
                transport="simline", line_no=second, first_page=1, claimed_at=NOW,
            )
        )  # fmt: skip
        # A line whose worker died: its lease ran out a minute ago.
        conn.execute(
            update(lines)
            .where(lines.c.transport == "simline", lines.c.line_no == 3)
            .values(holder="worker-2", job_id=999, lease_until=NOW - timedelta(minutes=1))
        )
    found = line_states(engine, JobRepo(engine), NOW, "simline")
    assert [(x.transport, x.line_no, x.state) for x in found] == [
        ("simline", 1, "calling"),
        ("simline", 2, "held"),
        ("simline", 3, "stale"),
        ("simline", 4, "idle"),
        ("sip", 1, "unused"),
    ]
    by_line = {(x.transport, x.line_no): x for x in found}
    call = by_line[("simline", 1)]
    assert (call.job_id, call.number, call.page, call.pages_confirmed) == (
        calling,
        "+15550000000",
        2,
        1,
    )
    assert call.since == NOW - timedelta(seconds=30) and call.holder == "worker-1"
    held = by_line[("simline", 2)]
    assert (held.job_id, held.page, held.since) == (claimed, None, NOW)
    assert by_line[("simline", 3)].holder == "worker-2"


def test_the_outboxes_backlog_is_what_metrics_shows(engine: Engine) -> None:
    sid, (job_id,) = _jobs(engine, 1)
    empty = outboxes(engine)
    assert (empty.reports.pending, empty.reports.oldest_at, empty.reports.failed) == (0, None, 0)
    assert empty.reports.oldest_seconds(NOW) == 0
    with transaction(engine) as conn:
        for kind, state, age in (("final", "pending", 5), ("notice", "pending", 2),
                                 ("reject", "failed", 9), ("other", "sent", 30)):  # fmt: skip
            conn.execute(
                insert(outbox).values(
                    submission_id=sid, kind=kind, state=state,
                    created_at=NOW - timedelta(minutes=age), updated_at=NOW,
                )
            )  # fmt: skip
        hook = conn.execute(
            insert(webhooks).values(
                account_id=1, url="https://example.com/h", events="*", secret="whsec_x",
                enabled=False, created_at=NOW, updated_at=NOW,
            )
        ).inserted_primary_key[0]  # fmt: skip
        conn.execute(
            insert(webhook_deliveries).values(
                webhook_id=hook, msg_id="msg_1", event="fax.delivered", job_id=job_id, body="{}",
                state="failed", created_at=NOW, updated_at=NOW,
            )
        )  # fmt: skip
    found = outboxes(engine)
    assert (found.reports.pending, found.reports.failed) == (2, 1)
    assert found.reports.oldest_seconds(NOW) == 300
    assert (found.webhooks.pending, found.webhooks.failed, found.endpoints_disabled) == (0, 1, 1)
