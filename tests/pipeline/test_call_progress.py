"""A recipient's call seen while it goes: the attempt runner records the transport's progress
from its own writer thread, and the status API's JSON shows the page on the line."""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from faxout.intake.api.views import fax_json
from faxout.jobs import attempts
from faxout.jobs.attempts import Progressed
from faxout.transmit.attempt import AttemptRunner, Claim
from faxout.transmit.live import Snapshot
from faxout.transmit.result import CallProgress, CallResult, FaxCall, Outcome, PageResult
from tests.pipeline.harness import Harness
from tests.server import run_cli

WAIT = 30.0  # seconds a test waits for the writer thread before it calls the wait a failure


def test_the_status_api_sees_the_page_on_the_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    h = Harness(tmp_path)
    recorded: list[Progressed | None] = []
    wrote = threading.Semaphore(0)  # released once a progress write has committed
    real_progress, real_record = attempts.progress, AttemptRunner._record_progress

    def progress(*args: Any, **kwargs: Any) -> Progressed | None:
        changed = real_progress(*args, **kwargs)
        recorded.append(changed)
        return changed

    def record(self: AttemptRunner, claim: Claim, snap: Snapshot) -> bool:
        ours = real_record(self, claim, snap)
        wrote.release()
        return ours

    monkeypatch.setattr(attempts, "progress", progress)
    monkeypatch.setattr(AttemptRunner, "_record_progress", record)
    seen: list[dict[str, Any]] = []
    shown: list[str] = []  # what the operator's `faxout jobs show` says meanwhile

    def look(sid: int) -> None:
        sub = h.gw.jobs.get_submission(sid)
        assert sub is not None
        found = fax_json(sub, h.gw.jobs.attempts_of([j.id for j in sub.jobs]), h.clock.now())
        seen.append(found)

    def send(call: FaxCall, report: Callable[[CallProgress], None]) -> CallResult:
        with Image.open(call.document) as img:
            pages = int(getattr(img, "n_frames", 1))
        assert pages >= 2
        report(CallProgress("dialing", 0.0, pages=pages))
        assert wrote.acquire(timeout=WAIT)  # recorded: still dialling
        look(sid)
        report(CallProgress("sending", 10.0, page=1, pages=pages))
        report(CallProgress("page", 20.0, page=1, pages=pages, verdict="MCF"))
        report(CallProgress("sending", 20.0, page=2, pages=pages))
        while recorded[-1] is None or recorded[-1].page_now != 2:
            assert wrote.acquire(timeout=WAIT)
        look(sid)
        shown.append(run_cli(tmp_path, "jobs", "show", str(h.job(sid).id)).stdout)
        for n in range(2, pages + 1):
            report(CallProgress("page", 10.0 * n, page=n, pages=pages, verdict="MCF"))
        done = tuple(PageResult(n, "MCF", 0) for n in range(1, pages + 1))
        return CallResult(Outcome.OK, 0, "OK", pages, pages, pages, done)

    h.line.send = send  # type: ignore[method-assign]
    sid = h.submit(["5551001"], text="A line of the letter\n" * 150)
    h.tick()
    dialling, sending = (f["recipients"][0] for f in seen)
    assert (dialling["state"], dialling["page"], dialling["pages_confirmed"]) == (
        "dialing",
        None,
        0,
    )
    assert (sending["state"], sending["page"], sending["pages_confirmed"]) == ("sending", 2, 1)
    assert seen[1]["state"] == "sending"
    assert sending["attempts"][0]["pages_sent"] == 2 and sending["attempts"][0]["outcome"] is None
    total = sending["pages_total"]
    assert f"now         sending page 2 of {total} (1 confirmed)" in shown[0], shown
    # Every page was confirmed through progress exactly once (the webhook's hook), the last
    # one recorded as the call ended, before the attempt finished.
    confirmed = [p for changed in recorded if changed for p in changed.confirmed]
    pages = h.job(sid).pages_confirmed
    assert confirmed == list(range(1, pages + 1))
    done = h.job(sid)
    assert done.state == "done"
