"""The job state owner (``faxout.jobs.attempts`` and ``lifecycle``) under concurrent writers, on
SQLite and PostgreSQL: every transition is a compare-and-set on the state and the version, so
of two writers racing for one job exactly one wins, and a late worker never moves a job that
has moved on since."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import TypeVar

from sqlalchemy import Engine, select

from faxout.blobs.memory import MemoryBlobStore
from faxout.db.engine import transaction
from faxout.db.tables import attempts as attempt_rows
from faxout.db.tables import jobs
from faxout.jobs import attempts
from faxout.jobs.attempts import Held
from faxout.jobs.lifecycle import Lifecycle
from faxout.jobs.model import JobState
from faxout.jobs.retry import Final, Retry
from faxout.schedule.dispatcher import queue_due
from tests.accepting import accept
from tests.db.records import NOW, add_account, new_submission

T = TypeVar("T")
LEASE = NOW + timedelta(seconds=30)


def _queued_job(engine: Engine) -> tuple[int, int]:
    """A job rendered and queued through the real transitions; (job id, its version)."""
    account = add_account(engine)
    sid = accept(engine, new_submission(account.id, MemoryBlobStore(), recipients=1))
    life = Lifecycle(engine, timedelta(hours=3))
    assert life.claim_render(sid, "render-1", NOW, 60)
    assert life.finish_render(
        sid, "render-1", NOW, rendered_key="k", pages=1, warnings=[], per_job={}
    )
    (job_id,) = queue_due(engine, NOW)
    return job_id, _row(engine, job_id).version


def _row(engine: Engine, job_id: int) -> object:
    with engine.connect() as conn:
        return conn.execute(select(jobs).where(jobs.c.id == job_id)).one()


def _race(*writers: Callable[[], T]) -> list[T]:
    """Run the writers at once on their own threads; their results in order."""
    barrier = threading.Barrier(len(writers))
    results: list[T | None] = [None] * len(writers)

    def run(i: int, writer: Callable[[], T]) -> None:
        barrier.wait()
        results[i] = writer()

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(writers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    return results  # type: ignore[return-value]


def _claim(engine: Engine, job_id: int, version: int, worker: str) -> Held | None:
    with transaction(engine) as conn:
        return attempts.claim(
            conn,
            job_id,
            version,
            worker=worker,
            transport="simline",
            line_no=1,
            first_page=1,
            lease_until=LEASE,
            now=NOW,
        )


def test_two_workers_claiming_one_job_one_wins(engine: Engine) -> None:
    job_id, version = _queued_job(engine)
    won = [h for h in _race(*(lambda w=w: _claim(engine, job_id, version, w) for w in "ab")) if h]
    assert len(won) == 1
    row = _row(engine, job_id)
    assert (row.state, row.lease_owner, row.version) == ("claimed", won[0].worker, version + 1)
    with engine.connect() as conn:
        assert conn.execute(select(attempt_rows.c.worker)).scalars().all() == [won[0].worker]


def test_cancel_racing_a_claim_leaves_one_consistent_outcome(engine: Engine) -> None:
    job_id, version = _queued_job(engine)
    life = Lifecycle(engine, timedelta(hours=3))
    held, canceled = _race(
        lambda: _claim(engine, job_id, version, "a"),
        lambda: life.cancel(NOW, job_id=job_id).canceled,
    )
    row = _row(engine, job_id)
    if held is not None:  # the claim came first: a claimed job cannot be canceled
        assert canceled == [] and row.state == "claimed"
    else:
        assert canceled == [job_id] and row.state == "canceled"
        with engine.connect() as conn:
            assert conn.execute(select(attempt_rows.c.id)).first() is None


def test_a_job_canceled_after_its_claim_was_read_is_not_dialled(engine: Engine) -> None:
    job_id, version = _queued_job(engine)
    held = _claim(engine, job_id, version, "a")
    assert held is not None
    # Another writer moves the job on (here: the reconciler gives the claim back) …
    with transaction(engine) as conn:
        attempts.reclaim_lost(conn, NOW + timedelta(minutes=5), [], redial_on_unknown=False)
    # … so phase 2 fails and nothing may be dialled.
    with transaction(engine) as conn:
        assert attempts.dialing(conn, held, NOW, LEASE) is None
    assert _row(engine, job_id).state == "ready"


def test_a_late_result_never_overwrites_a_newer_attempt(engine: Engine) -> None:
    """Worker a stalls mid-call; the reconciler redials (redial_on_unknown); worker b claims
    and dials. a's result arriving now must not touch b's job state."""
    job_id, version = _queued_job(engine)
    a = _claim(engine, job_id, version, "a")
    assert a is not None
    with transaction(engine) as conn:
        a = attempts.dialing(conn, a, NOW, LEASE)
    assert a is not None
    later = NOW + timedelta(minutes=5)
    with transaction(engine) as conn:
        attempts.reclaim_lost(conn, later, [], redial_on_unknown=True)
    (again,) = queue_due(engine, later)
    b = _claim(engine, again, _row(engine, job_id).version, "b")
    assert b is not None
    with transaction(engine) as conn:
        b = attempts.dialing(conn, b, later, later + timedelta(seconds=30))
    assert b is not None
    done = Final("done", "sent", dials=2, tries=1)
    with transaction(engine) as conn:
        assert not attempts.finish(conn, a, later, done, pages_confirmed=1, result={})
    row = _row(engine, job_id)
    assert (row.state, row.lease_owner) == ("dialing", "b")
    with transaction(engine) as conn:
        assert attempts.finish(conn, b, later, done, pages_confirmed=1, result={})
    assert _row(engine, job_id).state == "done"


def test_a_real_result_beats_the_interruption_of_its_own_attempt(engine: Engine) -> None:
    job_id, version = _queued_job(engine)
    held = _claim(engine, job_id, version, "a")
    assert held is not None
    with transaction(engine) as conn:
        held = attempts.dialing(conn, held, NOW, LEASE)
    assert held is not None
    with transaction(engine) as conn:
        lost = attempts.reclaim_lost(conn, NOW + timedelta(minutes=5), [], redial_on_unknown=False)
    assert lost.unknown == [job_id] and _row(engine, job_id).state == "interrupted"
    retry = Retry(NOW + timedelta(minutes=1), 2, "retry after busy", dials=1, tries=1)
    with transaction(engine) as conn:
        assert attempts.finish(conn, held, NOW, retry, pages_confirmed=1, result={})
    row = _row(engine, job_id)
    assert (row.state, row.resume_page, row.lease_owner) == ("ready", 2, None)


def test_every_transition_raises_the_version(engine: Engine) -> None:
    job_id, version = _queued_job(engine)
    seen = [version]
    held = _claim(engine, job_id, version, "a")
    assert held is not None
    seen.append(_row(engine, job_id).version)
    with transaction(engine) as conn:
        held = attempts.dialing(conn, held, NOW, LEASE)
        assert held is not None
        attempts.renew(conn, held, LEASE + timedelta(seconds=30))  # a lease, not a transition
    seen.append(_row(engine, job_id).version)
    with transaction(engine) as conn:
        attempts.finish(conn, held, NOW, Final("failed", "x", 1, 1), pages_confirmed=0, result={})
    seen.append(_row(engine, job_id).version)
    assert Lifecycle(engine, timedelta(hours=3)).retry(NOW, job_id)
    seen.append(_row(engine, job_id).version)
    assert seen == sorted(set(seen)) and len(seen) == 5
    assert _row(engine, job_id).state == JobState.READY


def test_retry_only_moves_failed_or_interrupted_jobs(engine: Engine) -> None:
    job_id, _ = _queued_job(engine)
    life = Lifecycle(engine, timedelta(hours=3))
    assert not life.retry(NOW, job_id)  # queued: nothing to retry
    assert _row(engine, job_id).state == "queued"
