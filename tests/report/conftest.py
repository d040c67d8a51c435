"""Real final states, produced once per session by the pipeline with a scripted line.

``world`` drives a real gateway (migrated SQLite, local document store, the render stage, the
attempt runner) through every outcome a report describes; ``db`` gives each test its own copy of
that database (SQLite backup), so tests may queue and send reports without seeing each other's.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine, update

from faxout.blobs.store import BlobStore
from faxout.clock import FrozenClock
from faxout.db.engine import make_engine
from faxout.db.tables import attempts, jobs
from faxout.jobs.attempts import UNKNOWN_OUTCOME
from faxout.jobs.create import NewDocument, NewSubmission
from faxout.jobs.model import Resolution
from faxout.jobs.numbers import Recipient
from faxout.report.mailer import Mailer, MemoryMailer
from faxout.report.outbox import Outbox
from faxout.report.settings import Report
from faxout.transmit.result import CallResult, Compression, Outcome, PageResult
from tests.accepting import accept
from tests.pipeline.harness import Harness, result

HOSTILE_NAME = "Eve\r\nBcc: victim@example.com <script>alert(1)</script>"
HOSTILE_FILE = "evil\r\nBcc: victim@example.com <b>.pdf"
HOSTILE_ACCOUNT = "Mallory\r\nBcc: x@example.com"
NAMED_FILE = "Quarterly <report>.txt"


def delivered(pages: int) -> CallResult:
    """A clean call: V.17, ECM, MMR, every page MCF."""
    return CallResult(
        Outcome.OK,
        0,
        "OK",
        pages,
        pages,
        pages,
        pages=tuple(PageResult(i, "MCF", 0) for i in range(1, pages + 1)),
        modem="v17",
        bit_rate=14400,
        ecm=True,
        compression=Compression.MMR,
        remote_csid="+1 555 0101",
        line_seconds=42.4,
    )


@dataclass
class World:
    db_file: Path
    store: BlobStore
    now: datetime
    sids: dict[str, int]
    hostile_user: str


def _submit(
    h: Harness,
    recipients: list[tuple[str, str]],
    *,
    account_id: int | None = None,
    document: bytes = b"Hello fax\n" * 5,
    filename: str = "note.txt",
    cover: str = "none",
    send_at: datetime | None = None,
    notes: list[str] | None = None,
) -> int:
    upload = h.gw.store.new_upload()
    upload.write(document)
    return accept(
        h.gw.engine,
        NewSubmission(
            account_id=account_id or h.account.id,
            recipients=[Recipient(n, name) for n, name in recipients],
            documents=[NewDocument(filename, "text/plain", upload)],
            resolution=Resolution.LOW,
            cover_page=cover,
            cover_text="",
            send_at=send_at or h.clock.now(),
            sendtime_raw=None,
            notes=notes or [],
            request_id="test",
            client_addr="",
            accepted_at=h.clock.now(),
        ),
    )


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    h = Harness(tmp_path_factory.mktemp("world"), reports=False)
    line = h.line.answers
    try:
        hostile = h.gw.accounts.add(
            "15550009999",
            email="mallory@example.com",
            name=HOSTILE_ACCOUNT,
            password_hash="x",
            now=h.clock.now(),
        )
        sids: dict[str, int] = {}
        line["5550101"] = [delivered]
        sids["delivered"] = _submit(
            h,
            [("5550101", "Dr. Ada Lovelace")],
            cover="default",
            filename=NAMED_FILE,
            notes=["recipient 'Bob <no number>' left out: not a phone number"],
        )
        line["5550201"] = [delivered]
        line["5550202"] = [lambda n: result("rejected", n, 0, 9)]
        sids["mixed"] = _submit(h, [("5550201", "Alice"), ("5550202", "Bob")])
        line["5550301"] = [lambda n: result("busy", n), lambda n: result("not_fax", n, 0, 2)]
        sids["failed"] = _submit(h, [("5550301", "Carol")])
        sids["interrupted"] = _submit(h, [("5550401", "Dave")])
        sids["canceled"] = _submit(
            h, [("5550501", "Erin")], send_at=h.clock.now() + timedelta(hours=1)
        )
        sids["rejected"] = _submit(
            h,
            [("5550601", HOSTILE_NAME)],
            document=b"%PDF-1.4\nthis is not really a pdf",
            filename=HOSTILE_FILE,
        )
        line["5550701"] = [delivered]
        sids["hostile"] = _submit(
            h, [("5550701", HOSTILE_NAME)], account_id=hostile.id, filename=HOSTILE_FILE + ".txt"
        )
        h.tick()  # a freed line goes to the next due job: every due job is called once
        line["5550801"] = [lambda n: result("busy", n)] * 3
        sids["retrying"] = _submit(h, [("5550801", "Frank")])
        h.pipeline.lifecycle.cancel(h.clock.now(), submission_id=sids["canceled"])
        h.tick(181)  # the busy number's second call (not a fax machine), Frank's first (busy)
        # A worker that died while dialling: what the reconciler leaves behind.
        job_id = h.job(sids["interrupted"]).id
        with h.gw.engine.begin() as conn:
            conn.execute(
                update(jobs)
                .where(jobs.c.id == job_id)
                .values(state="interrupted", reason=UNKNOWN_OUTCOME, pages_confirmed=0)
            )
            conn.execute(
                update(attempts)
                .where(attempts.c.job_id == job_id)
                .values(outcome="unknown", detail=UNKNOWN_OUTCOME, pages_confirmed=0, t30_code=None)
            )
        states = {k: [j.state for j in h.jobs(sid)] for k, sid in sids.items()}
        assert states == {
            "delivered": ["done"],
            "mixed": ["done", "failed"],
            "failed": ["failed"],
            "interrupted": ["interrupted"],
            "canceled": ["canceled"],
            "rejected": ["render_failed"],
            "hostile": ["done"],
            "retrying": ["ready"],
        }
        db_file = Path(str(h.gw.engine.url.database))
        yield World(db_file, h.gw.store, h.clock.now(), sids, hostile.username)
    finally:
        h.pipeline.stop()
        h.gw.engine.dispose()


@pytest.fixture
def db(world: World, tmp_path: Path) -> Iterator[Engine]:
    """This test's own copy of the world's database."""
    copy = tmp_path / "faxout.db"
    src = sqlite3.connect(world.db_file)
    dst = sqlite3.connect(copy)
    try:
        src.backup(dst)
    finally:
        src.close()
        dst.close()
    engine = make_engine(f"sqlite:///{copy}")
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def clock(world: World) -> FrozenClock:
    return FrozenClock(world.now)


def make_outbox(
    db: Engine,
    world: World,
    clock: FrozenClock,
    mailer: Mailer | None = None,
    settings: Report | None = None,
) -> Outbox:
    return Outbox(
        db,
        world.store,
        settings or Report(from_address="fax@gw.example.com"),
        mailer or MemoryMailer(),
        clock=clock,
        worker="test",
    )
