"""The distributed topology, for real: PostgreSQL, Redis and an S3 server (moto), one API node
(``faxout serve --no-workers``), two ``faxout worker`` processes and one ``faxout dispatch``, all
configured by environment. They share PostgreSQL, Redis, the bucket, and ``FAXOUT_DATA_DIR``
(where the virtual fax machines keep what they receive, so the test can look at it).

Every wait polls with a deadline; nothing sleeps for a fixed time.
"""

from __future__ import annotations

import functools
import os
import signal
import subprocess
import threading
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pytest
from sqlalchemy import ColumnElement, Engine, func, select

from faxout.blobs.factory import open_store
from faxout.blobs.store import BlobStore
from faxout.db.engine import make_engine
from faxout.db.tables import attempts, jobs, lines, submissions
from faxout.jobs.attempts import UNKNOWN_OUTCOME
from faxout.jobs.lifecycle import FINAL_JOB_STATES
from faxout.jobs.repo import AttemptView, JobRepo, JobView
from faxout.schedule.lines import sync_lines
from faxout.schedule.reconciler import _dead, worker_id
from tests.headerband import band_rows
from tests.pgserver import PgServer
from tests.server import Server, faxout_env, run_cli, start_server
from tests.services import (
    AWS_UNSET,
    FaxoutProcess,
    aws_test_env,
    create_bucket,
    moto_s3,
    redis_server,
    spawn_faxout,
    start_faxout,
    wait_for,
    wait_ready,
)
from tests.transmit.pages import read_pages

pytestmark = pytest.mark.slow

LINES = 2
USER, PASSWORD = "15557000100", "pw-distributed"
CORPUS = Path(__file__).resolve().parent.parent / "render" / "data"
LETTER = (CORPUS / "letter_usletter.pdf").read_bytes()  # one page
BUSY = "+15557770001"  # the virtual fax machine at this number is always busy
FINAL = {s.value for s in FINAL_JOB_STATES}
NORMAL_FAILURES = {"busy", "no_answer", "failed", "partial"}  # outcomes that are retried


@dataclass
class Cluster:
    """The running topology, and ways to look at it from outside."""

    data: Path
    env: dict[str, str]
    api: Server
    dispatcher: FaxoutProcess
    workers: list[FaxoutProcess]
    engine: Engine
    store: BlobStore
    repo: JobRepo = field(init=False)
    started: int = 0

    def __post_init__(self) -> None:
        self.repo = JobRepo(self.engine)

    # -- processes --------------------------------------------------------------------------

    def start_worker(self) -> FaxoutProcess:
        self.started += 1
        worker = start_faxout(
            f"worker{self.started}",
            ["worker"],
            faxout_env(self.data, **self.env),
            self.data / "logs",
            "faxout worker running",
        )
        self.workers.append(worker)
        return worker

    def logs(self) -> str:
        parts = [f"--- api\n{self.api.log()[-3000:]}"]
        for proc in [self.dispatcher, *self.workers]:
            parts.append(f"--- {proc.name} (pid {proc.pid})\n{proc.log()[-3000:]}")
        return "\n".join(parts)

    # -- submitting and looking -------------------------------------------------------------

    def post(self, recipients: list[str], document: bytes = LETTER, cover: str = "None") -> int:
        """One FaxOut request; the submission id once it was answered ``0``."""
        resp = httpx.post(
            f"{self.api.url}/faxapi.asp",
            data={
                "Username": USER,
                "Password": PASSWORD,
                "Recipient": recipients,
                "Coverpage": cover,
            },
            files={"Attachment": ("letter.pdf", document, "application/pdf")},
            timeout=60,
        )
        assert resp.text == "0", resp.text
        with self.engine.connect() as conn:
            sid = conn.execute(
                select(submissions.c.id).where(
                    submissions.c.request_id == resp.headers["x-request-id"]
                )
            ).scalar_one()
        return int(sid)

    def jobs(self, *sids: int) -> list[JobView]:
        out: list[JobView] = []
        for sid in sids:
            sub = self.repo.get_submission(sid)
            assert sub is not None
            out += sub.jobs
        return out

    def attempts(self, job_id: int) -> list[AttemptView]:
        return self.repo.attempts(job_id)

    def received(self, job_id: int) -> list[Path]:
        """What the virtual fax machines received for this job (one file per call)."""
        return sorted((self.data / "received").glob(f"job{job_id}-*.tif"))

    def wait(self, predicate: Callable[[], object], timeout: float, what: str) -> None:
        try:
            wait_for(predicate, timeout, what)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.logs()}") from None

    def wait_final(self, sids: list[int], timeout: float) -> list[JobView]:
        self.wait(
            lambda: all(j.state in FINAL for j in self.jobs(*sids)),
            timeout,
            f"every job of submissions {sids} to end",
        )
        return self.jobs(*sids)

    def column(self, column: ColumnElement[Any], where: ColumnElement[bool]) -> list[Any]:
        """Values of one column straight from the database (what the views leave out)."""
        with self.engine.connect() as conn:
            return list(conn.execute(select(column).where(where)).scalars())

    def blob_pages(self, key: str, tmp: Path) -> list[np.ndarray]:
        path = tmp / f"{uuid.uuid4().hex}.tif"
        with self.store.open(key) as src:
            path.write_bytes(src.read())
        return read_pages(path)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory, pg_server: PgServer) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("distributed")
    data = root / "shared"  # FAXOUT_DATA_DIR of every process: received faxes, spools
    bucket = f"faxout-{uuid.uuid4().hex[:12]}"
    dbname = pg_server.create_database()
    aws = aws_test_env(root)
    with (
        pytest.MonkeyPatch.context() as mp,
        redis_server(root / "redis") as queue_url,
        moto_s3() as endpoint,
    ):
        for name in AWS_UNSET:
            mp.delenv(name, raising=False)
        for name, value in aws.items():
            mp.setenv(name, value)
        create_bucket(endpoint, bucket)
        env = {
            **aws,
            "PYTHONUNBUFFERED": "1",
            "FAXOUT_DATABASE_URL": pg_server.url(dbname),
            "FAXOUT_QUEUE_URL": queue_url,
            "FAXOUT_STORE_URL": f"s3://{bucket}/faxout?endpoint_url={endpoint}&region=us-east-1",
            "FAXOUT_AUTO_MIGRATE": "false",
            "FAXOUT_DEMO_ACCOUNT": "false",
            "FAXOUT_TRANSMIT__LINES": str(LINES),
            "FAXOUT_RUNTIME__RENDER_WORKERS": "1",
            "FAXOUT_RUNTIME__RECONCILE_INTERVAL": "1",
            "FAXOUT_RUNTIME__REQUEUE_AFTER": "10",
        }
        migrated = run_cli(data, "migrate", **env)
        assert migrated.returncode == 0, migrated.stderr
        assert "postgresql+psycopg" in migrated.stdout
        engine = make_engine(env["FAXOUT_DATABASE_URL"])
        store = open_store(env["FAXOUT_STORE_URL"], root / "reader")
        api = start_server(data, "--no-workers", **env)
        started: list[FaxoutProcess] = []
        c: Cluster | None = None
        try:
            api.add_user(USER, PASSWORD, "--email", "d@example.com", "--name", "Distributed")
            penv, logs = faxout_env(data, **env), data / "logs"
            # All at once, as a service manager starts them: they race to set up the lines.
            started.append(spawn_faxout("dispatch", ["dispatch"], penv, logs))
            started += [spawn_faxout(f"worker{n}", ["worker"], penv, logs) for n in (1, 2)]
            wait_ready(started[0], "faxout dispatcher running")
            for worker in started[1:]:
                wait_ready(worker, "faxout worker running")
            c = Cluster(data, env, api, started[0], started[1:], engine, store, started=2)
            yield c
        finally:
            for proc in [*started, *(w for w in (c.workers if c else []) if w not in started)]:
                proc.stop()
            api.kill()
            engine.dispose()
            pg_server.drop_database(dbname)


def _at_once(n: int, fn: Callable[[], object]) -> list[Exception]:
    """Run ``fn`` on ``n`` threads released together; the exceptions they raised."""
    gate = threading.Barrier(n)
    errors: list[Exception] = []

    def run() -> None:
        gate.wait()
        try:
            fn()
        except Exception as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return errors


def test_lines_are_set_up_once_by_processes_starting_together(pg_migrated_url: str) -> None:
    engine = make_engine(pg_migrated_url)
    try:
        for count in (4, 7, 2):  # first start, more lines, fewer lines
            assert _at_once(3, functools.partial(sync_lines, engine, "simline", count)) == []
            with engine.connect() as conn:
                have = conn.execute(select(lines.c.line_no).order_by(lines.c.line_no)).scalars()
                assert list(have) == list(range(1, count + 1))
    finally:
        engine.dispose()


def test_a_pid_is_only_judged_dead_in_its_own_pid_namespace() -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    ours = worker_id("transmit")
    host, pid, role, namespace = ours.split(":")
    assert (int(pid), role) == (os.getpid(), "transmit") and namespace
    assert not _dead(ours)
    assert _dead(f"{host}:{gone.pid}:transmit:{namespace}")
    # Another container with the host's name (host networking) numbers its own processes.
    assert not _dead(f"{host}:{gone.pid}:transmit:1{namespace}")
    assert not _dead(f"{host}:{gone.pid}:transmit")  # an owner written before namespaces
    assert not _dead(f"other-{host}:{gone.pid}:transmit:{namespace}")


def test_three_recipients_receive_the_pages_rendered_once(cluster: Cluster, tmp_path: Path) -> None:
    sid = cluster.post(["5550001|Alice", "5550002|Bob", "+1 555 000 0003"], cover="Default")
    done = cluster.wait_final([sid], 120)
    assert [j.state for j in done] == ["done"] * 3, [(j.state, j.reason) for j in done]
    sub = cluster.repo.get_submission(sid)
    assert sub is not None and sub.render_count == 1 and sub.pages == 1
    (rendered_key,) = cluster.column(submissions.c.rendered_key, submissions.c.id == sid)
    document = cluster.blob_pages(rendered_key, tmp_path)
    for job in done:
        (cover_key,) = cluster.column(jobs.c.cover_key, jobs.c.id == job.id)
        sent = cluster.blob_pages(cover_key, tmp_path) + document
        (received,) = cluster.received(job.id)
        got = read_pages(received)
        assert len(got) == len(sent) == 2
        for n, (page, want) in enumerate(zip(got, sent, strict=True), start=1):
            # The page as rendered, its header printed into the band at its top.
            assert page.shape == want.shape, n
            band = band_rows(196 if page.shape[0] > 1400 else 98)
            assert not page[:band].all(), f"job {job.id} page {n}: no header"
            diff = int(np.count_nonzero(page[band:] != want[band:]))
            assert diff == 0, f"job {job.id} page {n}: {diff} pixels differ"
        (attempt,) = cluster.attempts(job.id)
        assert (attempt.outcome, attempt.pages_confirmed) == ("ok", 2)
    # The calls were made by the worker processes (never by the API node or the dispatcher).
    callers = cluster.column(attempts.c.worker, attempts.c.job_id.in_([j.id for j in done]))
    assert {w.split(":")[1] for w in callers} <= {str(p.pid) for p in cluster.workers}


def test_busy_number_waits_for_a_retry_with_its_reason(cluster: Cluster) -> None:
    sid = cluster.post([BUSY])
    (job,) = cluster.jobs(sid)

    def retried() -> bool:
        tries = cluster.attempts(job.id)
        return (
            bool(tries) and tries[0].phase == "finished" and cluster.jobs(sid)[0].state == "ready"
        )

    cluster.wait(retried, 90, "the busy call to be recorded")
    (job,) = cluster.jobs(sid)
    (attempt,) = cluster.attempts(job.id)
    assert attempt.outcome == "busy" and attempt.finished_at is not None
    assert (job.state, job.dials, job.tries) == ("ready", 1, 0)
    assert job.reason == "retry after busy"
    assert job.next_attempt_at == attempt.finished_at + timedelta(minutes=3)
    assert cluster.received(job.id) == []
    shown = cluster.api.cli("jobs", "show", str(job.id))
    assert "next try" in shown.stdout and "retry after busy" in shown.stdout, shown.stdout
    canceled = cluster.api.cli("jobs", "cancel", str(job.id))
    assert canceled.returncode == 0, canceled.stderr
    assert cluster.jobs(sid)[0].state == "canceled"


def _max_overlap(intervals: list[tuple[object, object]]) -> int:
    """The most intervals open at one instant (an end and a start at the same time: no overlap)."""
    edges = sorted([(end, 0) for _, end in intervals] + [(start, 1) for start, _ in intervals])
    most = now = 0
    for _, opening in edges:
        now += 1 if opening else -1
        most = max(most, now)
    return most


def test_lines_cap_concurrent_calls_across_workers(cluster: Cluster) -> None:
    seen: list[int] = []
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            with cluster.engine.connect() as conn:
                seen.append(
                    conn.execute(
                        select(func.count()).select_from(jobs).where(jobs.c.state == "dialing")
                    ).scalar_one()
                )
            stop.wait(0.01)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        sids = [cluster.post([f"55520{s}{r}" for r in range(5)]) for s in range(4)]
        done = cluster.wait_final(sids, 150)
    finally:
        stop.set()
        sampler.join()
    assert len(done) == 20
    assert [j.state for j in done] == ["done"] * 20, [(j.state, j.reason) for j in done]
    assert seen and max(seen) <= LINES, max(seen)
    calls = [a for j in done for a in cluster.attempts(j.id) if a.dialing_at is not None]
    assert len(calls) == 20
    # The attempts' own times say the same, with no sampling gaps.
    assert _max_overlap([(a.dialing_at, a.finished_at) for a in calls]) <= LINES
    assert {a.line_no for a in calls} <= set(range(1, LINES + 1))
    callers = cluster.column(attempts.c.worker, attempts.c.job_id.in_([j.id for j in done]))
    assert {w.split(":")[1] for w in callers} <= {str(p.pid) for p in cluster.workers}


def _dialing(cluster: Cluster) -> dict[int, list[int]]:
    """The jobs in a call now, by the PID of the worker making it."""
    with cluster.engine.connect() as conn:
        rows = conn.execute(
            select(jobs.c.id, jobs.c.lease_owner).where(jobs.c.state == "dialing")
        ).all()
    out: dict[int, list[int]] = {}
    for job_id, owner in rows:
        out.setdefault(int(owner.split(":")[1]), []).append(job_id)
    return out


def test_sigkill_of_a_worker_mid_call_loses_nothing_and_dials_nothing_twice(
    cluster: Cluster,
) -> None:
    workers = {p.pid: p for p in cluster.workers if p.alive()}
    sids = [cluster.post([f"55530{s}{r}" for r in range(4)], cover="Default") for s in range(3)]
    caught: list[int] = []
    victims: list[FaxoutProcess] = []

    def a_worker_mid_call() -> bool:
        for pid in _dialing(cluster).keys() & workers.keys():
            os.kill(pid, signal.SIGSTOP)  # frozen: its calls cannot end now
            _dialing(cluster)  # a round trip: a commit it sent just before is in by now
            caught[:] = _dialing(cluster).get(pid, [])
            if caught:
                victims.append(workers[pid])
                return True
            os.kill(pid, signal.SIGCONT)
        return False

    cluster.wait(a_worker_mid_call, 120, "a worker to be dialling")
    victims[0].kill()
    cluster.start_worker()

    final = cluster.wait_final(sids, 150)
    assert len(final) == 12
    assert {j.state for j in final} <= {"done", "interrupted"}, [(j.state, j.reason) for j in final]
    by_id = {j.id: j for j in final}
    for job_id in caught:
        job = by_id[job_id]
        assert job.state == "interrupted" and job.reason == UNKNOWN_OUTCOME
        assert "may or may not have been delivered" in job.reason
        last = cluster.attempts(job_id)[-1]
        assert (last.outcome, last.detail) == ("unknown", UNKNOWN_OUTCOME)
    for job in final:
        tries = cluster.attempts(job.id)
        calls = [a for a in tries if a.dialing_at is not None]
        files = cluster.received(job.id)
        if job.state == "interrupted":
            assert job.reason == UNKNOWN_OUTCOME
            assert len(calls) == 1 and len(files) <= 1  # never redialled
        else:
            assert files and files[-1].name == f"job{job.id}-{calls[-1].attempt_no}.tif"
        if len(files) > 1:  # only a retry after a normal failure may dial again
            assert all(a.outcome in NORMAL_FAILURES for a in calls[:-1]), tries
        assert len(files) <= len(calls)
    # Nothing is left leased to the dead worker.
    with cluster.engine.connect() as conn:
        owners = conn.execute(select(jobs.c.lease_owner).where(jobs.c.id.in_(by_id))).scalars()
        assert all(o is None for o in owners)
        open_calls = conn.execute(
            select(func.count())
            .select_from(attempts)
            .where(attempts.c.job_id.in_(by_id), attempts.c.phase != "finished")
        ).scalar_one()
        assert open_calls == 0
