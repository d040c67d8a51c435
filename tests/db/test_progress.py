"""A call's progress on its attempt row (``faxout.jobs.attempts.progress``), on SQLite and
PostgreSQL: only the job's holder, in its call, records it; it keeps the job's version, so the
holder's finish still wins, and a stale holder's progress is refused."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, select

from faxout.db.engine import transaction
from faxout.db.tables import attempts as attempt_rows
from faxout.jobs import attempts
from faxout.jobs.attempts import Held, Progressed
from faxout.jobs.livecall import LiveCall, live_call
from faxout.jobs.repo import JobRepo
from faxout.jobs.retry import Final
from faxout.schedule.dispatcher import queue_due
from tests.db.records import NOW
from tests.db.test_state_owner import LEASE, _claim, _queued_job, _row

LATER = NOW + timedelta(seconds=20)


def _dialing(engine: Engine, first_page: int = 1) -> Held:
    """A job in a call by worker a, its document sent from ``first_page``."""
    job_id, version = _queued_job(engine)
    with transaction(engine) as conn:
        held = attempts.claim(
            conn,
            job_id,
            version,
            worker="a",
            transport="simline",
            line_no=1,
            first_page=first_page,
            lease_until=LEASE,
            now=NOW,
        )
        assert held is not None
        held = attempts.dialing(conn, held, NOW, LEASE)
    assert held is not None
    return held


def _progress(engine: Engine, held: Held, confirmed: int, now: int) -> Progressed | None:
    with transaction(engine) as conn:
        return attempts.progress(
            conn, held, LATER, pages_confirmed=confirmed, page_now=now, pages_total=3
        )


def _attempt(engine: Engine, held: Held) -> tuple[int, int, int]:
    with engine.connect() as conn:
        row = conn.execute(select(attempt_rows).where(attempt_rows.c.id == held.attempt_id)).one()
    return row.pages_sent, row.pages_confirmed, row.pages_total


def test_progress_is_recorded_on_the_attempt_and_keeps_the_version(engine: Engine) -> None:
    held = _dialing(engine)
    assert _progress(engine, held, 0, 1) == Progressed(confirmed=(), page_now=1)
    assert _progress(engine, held, 2, 3) == Progressed(confirmed=(1, 2), page_now=3)
    assert _attempt(engine, held) == (3, 2, 3)
    row = _row(engine, held.job_id)
    assert (row.state, row.version, row.pages_confirmed) == ("dialing", held.version, 0)
    assert row.updated_at == LATER  # the status API's changes-since sees the call move on
    repo = JobRepo(engine)
    job = repo.get_job(held.job_id)
    assert job is not None
    call = live_call(job, repo.attempts(held.job_id))
    assert call is not None and (call.page, call.pages_confirmed) == (3, 2)
    # The holder's finish still matches the version it holds.
    done = Final("done", "sent", dials=1, tries=1)
    with transaction(engine) as conn:
        assert attempts.finish(conn, held, LATER, done, pages_confirmed=3, result={})
    job = repo.get_job(held.job_id)
    assert job is not None and job.state == "done"
    assert live_call(job, repo.attempts(held.job_id)) is None


def test_pages_are_numbered_over_the_whole_fax(engine: Engine) -> None:
    """A resumed attempt sends from page 3: its first page is the fax's third."""
    held = _dialing(engine, first_page=3)
    assert _progress(engine, held, 1, 2) == Progressed(confirmed=(3,), page_now=4)
    repo = JobRepo(engine)
    job = repo.get_job(held.job_id)
    assert job is not None
    assert live_call(job, repo.attempts(held.job_id)) == LiveCall(page=4, pages_confirmed=3)


def test_confirmed_pages_never_go_back(engine: Engine) -> None:
    held = _dialing(engine)
    assert _progress(engine, held, 2, 3) == Progressed(confirmed=(1, 2), page_now=3)
    assert _progress(engine, held, 1, 3) == Progressed(confirmed=(), page_now=3)
    assert _attempt(engine, held) == (3, 2, 3)


def test_a_stale_holder_records_no_progress(engine: Engine) -> None:
    """Worker a stalls mid-call, the reconciler redials, worker b dials: a's progress is refused
    and changes neither the job nor b's attempt."""
    a = _dialing(engine)
    later = NOW + timedelta(minutes=5)
    with transaction(engine) as conn:
        attempts.reclaim_lost(conn, later, [], redial_on_unknown=True)
    (job_id,) = queue_due(engine, later)
    b = _claim(engine, job_id, _row(engine, job_id).version, "b")
    assert b is not None
    assert _progress(engine, b, 1, 2) is None  # claimed, not dialling yet: no call to record
    with transaction(engine) as conn:
        b = attempts.dialing(conn, b, later, later + timedelta(seconds=30))
    assert b is not None
    before = _row(engine, job_id)
    assert _progress(engine, a, 2, 3) is None
    assert _row(engine, job_id) == before
    assert _attempt(engine, b) == (0, 0, 0)
    assert _progress(engine, b, 1, 2) == Progressed(confirmed=(1,), page_now=2)


def test_no_progress_after_the_attempt_finished(engine: Engine) -> None:
    held = _dialing(engine)
    failed = Final("failed", "x", dials=1, tries=1)
    with transaction(engine) as conn:
        assert attempts.finish(conn, held, LATER, failed, pages_confirmed=0, result={})
    assert _progress(engine, held, 1, 2) is None
