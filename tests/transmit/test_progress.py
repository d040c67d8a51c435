"""Live call progress: what the transports report page by page (``sending``, then the far
end's verdict), and ``LiveProgress``, which hands it from the call's thread to a writer."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from faxout.errors import DatabaseError
from faxout.transmit.live import LiveProgress, Snapshot
from faxout.transmit.result import CallProgress, FaxCall, Outcome
from faxout.transmit.simline import Medium, SimLineConfig, SimLineTransport


def _pages(events: list[CallProgress]) -> list[tuple[str, int | None, str | None]]:
    return [(e.stage, e.page, e.verdict) for e in events if e.stage in ("sending", "page")]


def _each_page(n: int) -> list[tuple[str, int | None, str | None]]:
    return [step for p in range(1, n + 1) for step in (("sending", p, None), ("page", p, "MCF"))]


@pytest.mark.parametrize("medium", list(Medium))
@pytest.mark.parametrize("number", ["+15550100", "+15557770006"], ids=["ecm", "no-ecm"])
def test_simline_reports_each_page_under_way_then_confirmed(
    sim_dir: Path, three_pages: Path, medium: Medium, number: str
) -> None:
    events: list[CallProgress] = []
    transport = SimLineTransport(SimLineConfig(sim_dir, medium=medium))
    result = transport.send(FaxCall(three_pages, number, "progress"), events.append)
    assert result.success
    assert _pages(events) == _each_page(3)
    assert all(e.pages == 3 for e in events if e.stage in ("sending", "page"))
    sending = [e.line_seconds for e in events if e.stage == "sending"]
    negotiated = next(e.line_seconds for e in events if e.stage == "negotiated")
    assert negotiated < sending[0]  # the first page starts after training, not at DIS


def test_a_refused_page_is_seen_under_way_but_never_confirmed(
    sim_dir: Path, three_pages: Path
) -> None:
    events: list[CallProgress] = []
    transport = SimLineTransport(SimLineConfig(sim_dir))
    result = transport.send(FaxCall(three_pages, "+15557770011", "refused"), events.append)
    assert result.outcome is Outcome.PARTIAL
    assert _pages(events) == [*_each_page(1), ("sending", 2, None)]


def _event(stage: str, page: int | None = None, verdict: str | None = None) -> CallProgress:
    return CallProgress(stage, 0.0, page=page, pages=3, verdict=verdict)


def test_events_fold_into_the_newest_snapshot() -> None:
    written: list[Snapshot] = []
    forwarded: list[CallProgress] = []
    live = LiveProgress(lambda s: written.append(s) or True, forwarded.append)
    live(_event("dialing"))
    assert live.drain() and written == [Snapshot(0, 0, 3)]
    for event in (_event("sending", 1), _event("page", 1, "MCF"), _event("sending", 2)):
        live(event)
    live(_event("page", 2, "RTN"))  # not confirmed: sent again
    live(_event("page", 2, "MCF"))
    assert live.drain()
    assert written[-1] == Snapshot(pages_confirmed=2, page_now=2, pages_total=3)
    assert len(written) == 2  # what came between two writes is one write of the newest
    assert live.drain() and len(written) == 2  # nothing new, nothing written
    assert len(forwarded) == 6


def test_a_failed_write_stays_pending_and_a_refused_one_stops_the_writing() -> None:
    answers: list[bool | Exception] = [DatabaseError("database is away"), True, False]
    written: list[Snapshot] = []

    def record(snap: Snapshot) -> bool:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        written.append(snap)
        return answer

    live = LiveProgress(record)
    live(_event("sending", 1))
    assert not live.drain()  # tried again later, with the same snapshot
    assert live.drain() and written == [Snapshot(0, 1, 3)]
    live(_event("page", 1, "MCF"))
    assert live.drain() and written[-1] == Snapshot(1, 1, 3)  # refused: the job moved on
    live(_event("sending", 2))
    assert live.drain() and len(written) == 2 and answers == []


def test_the_call_never_waits_for_the_writer_and_the_last_snapshot_is_written() -> None:
    """A database write that hangs holds up the writer thread only: the call's events go on,
    and when the call ends its last state is recorded."""
    writing, release = threading.Event(), threading.Event()
    written: list[Snapshot] = []

    def record(snap: Snapshot) -> bool:
        writing.set()
        assert release.wait(30)
        written.append(snap)
        return True

    with LiveProgress(record) as live:
        live(_event("sending", 1))
        assert writing.wait(30)  # the writer is stuck in the database …
        for page in (1, 2, 3):  # … and the call goes on regardless
            live(_event("page", page, "MCF"))
            if page < 3:
                live(_event("sending", page + 1))
        release.set()
    assert written[0] == Snapshot(0, 1, 3)
    assert written[-1] == Snapshot(3, 3, 3)
