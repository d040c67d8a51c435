"""``/metrics``: what a real gateway reports after real faxes, and what the database collector
reads on each engine."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest
from prometheus_client.exposition import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import CollectorRegistry
from sqlalchemy import Engine, insert, update

from faxout.blobs.memory import MemoryBlobStore
from faxout.clock import FrozenClock
from faxout.db.engine import make_engine, transaction
from faxout.db.migrate import upgrade
from faxout.db.tables import jobs, outbox
from faxout.errors import ConfigError
from faxout.jobs.create import insert_submissions, store_documents
from faxout.ops.metrics import DatabaseCollector
from faxout.ops.settings import load_settings
from faxout.schedule.lines import lease, sync_lines
from tests.db.conftest import ENGINES
from tests.db.records import NOW, add_account, new_submission
from tests.server import Server, start_server
from tests.services import wait_for

USER, PASSWORD = "15554440002", "pw-metrics"
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    """Every sample of a scrape, by name and labels."""
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


def scrape(server: Server, headers: dict[str, str] | None = None) -> Samples:
    resp = httpx.get(server.url + "/metrics", headers=headers, timeout=30)
    assert resp.status_code == 200, resp.text
    assert resp.headers["content-type"].startswith("text/plain; version=")
    return parse(resp.text)


def fax(server: Server, password: str = PASSWORD, *recipients: str) -> str:
    resp = httpx.post(
        server.url + "/faxapi.asp",
        data={"Username": USER, "Password": password, "Recipient": list(recipients)},
        files={"Attachment": ("note.txt", b"metrics words")},
        timeout=60,
    )
    return resp.text


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """The embedded gateway (every stage in one process, the simulated line)."""
    server = start_server(tmp_path_factory.mktemp("metrics"), FAXOUT_DEMO_ACCOUNT="false")
    try:
        server.add_user(USER, PASSWORD, "--email", "metrics@example.com")
        yield server
    finally:
        server.kill()


def test_a_scrape_tells_the_replies_the_jobs_and_the_calls(gateway: Server) -> None:
    assert fax(gateway, PASSWORD, "+15550123456|Test machine") == "0"
    assert fax(gateway, PASSWORD, "+15557770001") == "0"  # busy: retried in 3 minutes
    assert fax(gateway, "wrong password", "+15550123456") == "1"
    assert fax(gateway, PASSWORD) == "3"

    def settled() -> Samples | None:
        samples = scrape(gateway)
        attempts = value(samples, "faxout_attempts_total", transport="simline", outcome="busy")
        done = value(samples, "faxout_jobs", state="done")
        backlog = value(samples, "faxout_report_backlog")
        return samples if (attempts, done, backlog) == (1, 1, 0) else None

    wait_for(settled, 120, "the fax sent and the busy number tried once")
    samples = settled()
    assert samples is not None, "a scrape after the calls settled"

    # the replies, by digit: counted in the process that answered
    replies = {d: value(samples, "faxout_intake_replies_total", digit=d) for d in "012345"}
    assert replies == {"0": 2, "1": 1, "2": 0, "3": 1, "4": 0, "5": 0}
    # the jobs, from the database: one sent, one waiting for its retry (not due yet)
    assert value(samples, "faxout_jobs", state="done") == 1
    assert value(samples, "faxout_jobs", state="ready") == 1
    assert value(samples, "faxout_jobs", state="failed") == 0
    assert value(samples, "faxout_jobs_due") == 0
    assert value(samples, "faxout_oldest_due_job_seconds") == 0
    # the calls: one outcome each, their durations in the histograms
    assert value(samples, "faxout_attempts_total", transport="simline", outcome="ok") == 1
    assert value(samples, "faxout_call_line_seconds_count", transport="simline") == 2
    assert value(samples, "faxout_call_wall_seconds_count", transport="simline") == 2
    inf = value(samples, "faxout_call_wall_seconds_bucket", transport="simline", le="+Inf")
    assert inf == 2
    assert (value(samples, "faxout_call_line_seconds_sum", transport="simline") or 0) > 0
    # the lines: all free once the calls are over; the report written, nothing pending
    assert value(samples, "faxout_lines", transport="simline") == 4
    assert value(samples, "faxout_lines_busy", transport="simline") == 0
    assert value(samples, "faxout_reports_failed") == 0
    assert value(samples, "faxout_database_up") == 1


def test_metrics_need_no_faxout_credentials_but_a_token_when_set(tmp_path: Path) -> None:
    token = "s3cret-scrape-token-0123"
    server = start_server(
        tmp_path / "token", "--no-workers", FAXOUT_DEMO_ACCOUNT="false", FAXOUT_METRICS__TOKEN=token
    )
    try:
        refused = httpx.get(server.url + "/metrics", timeout=30)
        assert refused.status_code == 401
        assert refused.headers["www-authenticate"].startswith("Bearer")
        wrong = httpx.get(server.url + "/metrics", headers={"Authorization": "Bearer nope"})
        assert wrong.status_code == 401
        samples = scrape(server, {"Authorization": f"Bearer {token}"})
        assert value(samples, "faxout_database_up") == 1
        assert token not in server.log()
    finally:
        server.kill()
    off = start_server(
        tmp_path / "off", "--no-workers", FAXOUT_DEMO_ACCOUNT="false", FAXOUT_METRICS__ENABLED="0"
    )
    try:
        assert httpx.get(off.url + "/metrics", timeout=30).status_code == 404
        assert httpx.get(off.url + "/healthz", timeout=30).status_code == 200
    finally:
        off.kill()


@pytest.mark.parametrize(
    "token", ["short", "has a space in it, long enough", "tab\tin-the-token-1"]
)
def test_a_token_that_cannot_be_a_header_or_is_guessable_stops_faxout(token: str) -> None:
    with pytest.raises(ConfigError, match=r"metrics\.token"):
        load_settings(metrics={"token": token})


# -- the collector on each engine ------------------------------------------------------------


@pytest.fixture(params=ENGINES)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """As tests/db's fixture of that name: a migrated database, on each engine."""
    url = f"sqlite:///{tmp_path / 'faxout.db'}"
    if request.param != "sqlite":
        url = str(request.getfixturevalue("pg_migrated_url"))
    db = make_engine(url)
    upgrade(db)  # a no-op on the migrated PostgreSQL clone
    try:
        yield db
    finally:
        db.dispose()


def test_the_collector_reads_waiting_jobs_leased_lines_and_the_backlog(engine: Engine) -> None:
    sub = new_submission(add_account(engine).id, MemoryBlobStore(), recipients=3)
    sync_lines(engine, "simline", 2)
    with transaction(engine) as conn:
        (sid,) = insert_submissions(conn, [(sub, store_documents(sub))])
        first, second, third = sorted(
            conn.execute(jobs.select().where(jobs.c.submission_id == sid)).scalars()
        )
        # Set up as the pipeline would leave them: one job due for ten minutes, one due in an
        # hour, one on a line now; a report the relay has not taken for five minutes.
        ready = {"state": "ready", "next_attempt_at": None}
        conn.execute(
            update(jobs)
            .where(jobs.c.id == first)
            .values(**ready, send_at=NOW - timedelta(minutes=10))
        )
        conn.execute(
            update(jobs)
            .where(jobs.c.id == second)
            .values(**ready, send_at=NOW + timedelta(hours=1))
        )
        conn.execute(update(jobs).where(jobs.c.id == third).values(state="dialing"))
        line = lease(
            conn,
            transport="simline",
            holder="worker-1",
            job_id=third,
            number="+15550000002",
            now=NOW,
            ttl=60,
            per_number=0,
        )
        assert line == 1
        conn.execute(
            insert(outbox).values(
                submission_id=sid,
                kind="final",
                state="pending",
                created_at=NOW - timedelta(minutes=5),
                updated_at=NOW,
            )
        )
    reg = CollectorRegistry(auto_describe=False)
    reg.register(DatabaseCollector(engine, FrozenClock(NOW)))
    samples = parse(generate_latest(reg).decode())

    assert value(samples, "faxout_database_up") == 1
    assert value(samples, "faxout_jobs", state="ready") == 2
    assert value(samples, "faxout_jobs", state="dialing") == 1
    assert value(samples, "faxout_jobs", state="done") == 0
    assert value(samples, "faxout_jobs_due") == 1
    assert value(samples, "faxout_oldest_due_job_seconds") == 600
    assert value(samples, "faxout_lines", transport="simline") == 2
    assert value(samples, "faxout_lines_busy", transport="simline") == 1
    assert value(samples, "faxout_report_backlog") == 1
    assert value(samples, "faxout_report_backlog_oldest_seconds") == 300
    assert value(samples, "faxout_reports_failed") == 0


def test_a_database_that_does_not_answer_is_reported_not_raised(tmp_path: Path) -> None:
    garbage = tmp_path / "faxout.db"
    garbage.write_bytes(b"not a database, " * 512)
    broken = make_engine(f"sqlite:///{garbage}")
    reg = CollectorRegistry(auto_describe=False)
    reg.register(DatabaseCollector(broken, FrozenClock(NOW)))
    samples = parse(generate_latest(reg).decode())
    assert value(samples, "faxout_database_up") == 0
    assert value(samples, "faxout_jobs", state="ready") is None
