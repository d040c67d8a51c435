"""An in-process gateway with a frozen clock, an inline task queue and a scripted line."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from faxout.clock import FrozenClock
from faxout.db import migrate
from faxout.jobs.create import NewDocument, NewSubmission
from faxout.jobs.model import Resolution
from faxout.jobs.numbers import Recipient
from faxout.jobs.repo import JobView
from faxout.ops.gateway import Gateway, build_gateway
from faxout.ops.runtime import Pipeline
from faxout.ops.settings import Auth, Settings, Transmit
from faxout.render.settings import Render
from faxout.taskqueue.port import InlineTaskQueue
from faxout.transmit.result import CallProgress, CallResult, FaxCall, Modem, Outcome
from tests.accepting import accept

START = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def result(outcome: str, pages: int = 0, confirmed: int = 0, code: int | None = None) -> CallResult:
    return CallResult(Outcome(outcome), code, "scripted", pages, confirmed, confirmed)


@dataclass
class Sent:
    number: str
    pages: int
    first: npt.NDArray[np.bool_]  # the first page sent (True = white), header band included
    lpi: int
    modems: tuple[Modem, ...] = ()


@dataclass
class LineScript:
    """A transport whose answers are chosen per number; records what each call carried."""

    answers: dict[str, list[Callable[[int], CallResult]]] = field(default_factory=dict)
    sent: list[Sent] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def send(self, call: FaxCall, progress: Callable[[CallProgress], None]) -> CallResult:
        with Image.open(call.document) as img:
            pages = int(getattr(img, "n_frames", 1))
            first = np.array(img.convert("1"), dtype=bool)
            lpi = round(float(img.info["dpi"][1]))
        with self.lock:
            self.sent.append(Sent(call.number, pages, first, lpi, call.modems))
            queue = self.answers.get(call.number, [])
            make = queue.pop(0) if queue else (lambda n: result("ok", n, n, 0))
        return dataclasses.replace(make(pages), pages_in_document=pages)


class InertReports:
    """Stands in for the report runner when a test looks at the outbox itself."""

    def start(self) -> None: ...
    def stop(self, timeout: float = 30.0) -> None: ...
    def poke(self, submission_id: int | None = None) -> None: ...
    def poke_job(self, job_id: int) -> None: ...


class Harness:
    def __init__(self, tmp: Path, *, reports: bool = True, **transmit: object) -> None:
        self.clock = FrozenClock(START)
        settings = Settings(
            data_dir=tmp,
            auth=Auth(argon2_memory_kib=1024, argon2_time_cost=1),
            transmit=Transmit(**transmit),  # type: ignore[arg-type]
            # No warm-up: each pipeline of the suite would spend seconds of CPU on a cover
            # and a soffice it mostly never uses (tests/render/test_warm_up.py tests it).
            render=Render(warm_up=False),
        )
        self.gw: Gateway = build_gateway(settings, clock=self.clock)
        migrate.upgrade(self.gw.engine)
        self.account = self.gw.accounts.add(
            "15550001234", email="s@example.com", name="Sender", password_hash="x", now=START
        )
        self.line = LineScript()
        self.queue = InlineTaskQueue()
        self.pipeline = Pipeline(self.gw, queue=self.queue, transport=self.line, dispatcher=False)
        if not reports:
            self.pipeline.reports = InertReports()  # type: ignore[assignment]
        self.pipeline.start()

    def submit(
        self,
        numbers: list[str],
        text: str = "Hello fax\n" * 5,
        *,
        send_at: datetime | None = None,
        cover: str = "none",
        document: bytes | None = None,
        filename: str = "note.txt",
    ) -> int:
        upload = self.gw.store.new_upload()
        upload.write(document if document is not None else text.encode())
        return accept(
            self.gw.engine,
            NewSubmission(
                account_id=self.account.id,
                recipients=[Recipient(n, "") for n in numbers],
                documents=[NewDocument(filename, "", upload)],
                resolution=Resolution.LOW,
                cover_page=cover,
                cover_text="",
                send_at=send_at or self.clock.now(),
                sendtime_raw=None,
                notes=[],
                request_id="test",
                client_addr="",
                accepted_at=self.clock.now(),
            ),
        )

    def tick(self, seconds: float = 0) -> None:
        """Advance the clock, then one dispatcher pass (tasks run inline)."""
        self.clock.advance(seconds)
        self.pipeline.dispatch_once()

    def jobs(self, submission_id: int) -> list[JobView]:
        sub = self.gw.jobs.get_submission(submission_id)
        assert sub is not None
        return sub.jobs

    def job(self, submission_id: int) -> JobView:
        return self.jobs(submission_id)[0]
