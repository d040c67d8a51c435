"""Line cap and per-number cap under real concurrency: huey consumer threads, the dispatcher."""

from __future__ import annotations

import threading
import time
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from faxout.clock import SystemClock
from faxout.db import migrate
from faxout.jobs.create import NewDocument, NewSubmission
from faxout.jobs.model import Resolution
from faxout.jobs.numbers import Recipient
from faxout.ops.gateway import build_gateway
from faxout.ops.runtime import Pipeline
from faxout.ops.settings import Auth, Runtime, Settings, Transmit
from faxout.transmit.result import CallResult, FaxCall, Outcome
from tests.accepting import accept


class GatedLine:
    """Holds every call until the test lets one finish; records concurrency."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.active: Counter[str] = Counter()
        self.max_total = 0
        self.max_per_number = 0
        self.permits = threading.Semaphore(0)
        self.done = 0

    def send(self, call: FaxCall, progress: object) -> CallResult:
        with self.lock:
            self.active[call.number] += 1
            self.max_total = max(self.max_total, sum(self.active.values()))
            self.max_per_number = max(self.max_per_number, max(self.active.values()))
        assert self.permits.acquire(timeout=60), "test never released the call"
        with Image.open(call.document) as img:
            pages = int(getattr(img, "n_frames", 1))
        with self.lock:
            self.active[call.number] -= 1
            self.done += 1
        return CallResult(Outcome.OK, 0, "ok", pages, pages, pages)

    def in_calls(self) -> int:
        with self.lock:
            return sum(self.active.values())


def wait_until(check: object, timeout: float = 60, what: object = "") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.02)
    raise AssertionError(f"timed out: {what() if callable(what) else what}")


@pytest.mark.slow
def test_lines_and_per_number_cap(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        auth=Auth(argon2_memory_kib=1024, argon2_time_cost=1),
        transmit=Transmit(lines=2, per_number_calls=1),
        runtime=Runtime(consumer_threads=6, dispatch_interval=0.2, reconcile_interval=1),
    )
    gw = build_gateway(settings, clock=SystemClock())
    migrate.upgrade(gw.engine)
    account = gw.accounts.add(
        "15550009999", email="c@example.com", password_hash="x", now=gw.clock.now()
    )
    line = GatedLine()
    pipeline = Pipeline(gw, transport=line)
    pipeline.start()
    try:
        numbers = ["5551000", "5551000", "5551000", "5552000", "5553000", "5554000"]
        upload = gw.store.new_upload()
        upload.write(b"capacity test\n")
        accept(
            gw.engine,
            NewSubmission(
                account_id=account.id,
                recipients=[Recipient(n, "") for n in numbers[:1]],
                documents=[NewDocument("a.txt", "", upload)],
                resolution=Resolution.LOW,
                cover_page="none",
                cover_text="",
                send_at=gw.clock.now(),
                sendtime_raw=None,
                notes=[],
                request_id="caps",
                client_addr="",
                accepted_at=gw.clock.now(),
            ),
        )
        for n in numbers[1:]:
            up = gw.store.new_upload()
            up.write(b"capacity test\n")
            accept(
                gw.engine,
                NewSubmission(
                    account_id=account.id,
                    recipients=[Recipient(n, "")],
                    documents=[NewDocument("a.txt", "", up)],
                    resolution=Resolution.LOW,
                    cover_page="none",
                    cover_text="",
                    send_at=gw.clock.now(),
                    sendtime_raw=None,
                    notes=[],
                    request_id="caps",
                    client_addr="",
                    accepted_at=gw.clock.now(),
                ),
            )
        pipeline.poke()

        def states() -> object:
            return [(j.number, j.state, j.reason) for j in gw.jobs.list_jobs()], line.active

        for finished in range(len(numbers)):
            # As many calls at once as lines allow, but one per number.
            pending = {j.number for j in gw.jobs.list_jobs() if j.state != "done"}
            want = min(2, len(pending))
            wait_until(lambda want=want: line.in_calls() >= want, what=states)
            line.permits.release()
            wait_until(
                lambda f=finished: sum(j.state == "done" for j in gw.jobs.list_jobs()) > f,
                what=states,
            )
        wait_until(lambda: {j.state for j in gw.jobs.list_jobs()} == {"done"})
    finally:
        for _ in range(10):
            line.permits.release()
        pipeline.stop()
    assert line.max_total == 2, "more calls at once than lines"
    assert line.max_per_number == 1, "two calls at once to one number"
    assert line.done == len(numbers)
