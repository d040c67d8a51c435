"""The FaxTransport contract, run against every implementation of the seam."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from faxout.transmit.result import CallProgress, CallResult, FaxCall, Outcome, PageResult
from faxout.transmit.simline import Medium, SimLineConfig, SimLineTransport
from faxout.transmit.transport import FaxTransport, ScriptedTransport

Factory = Callable[[Path], FaxTransport]


def _scripted(_: Path) -> FaxTransport:
    pages = (PageResult(1, "MCF", 0), PageResult(2, "MCF", 0))
    ok = CallResult(Outcome.OK, 0, "OK", 2, 2, 2, pages, "V.17", 14400, True, line_seconds=40)
    busy = CallResult(Outcome.BUSY, None, "the line is busy", 2, 0, 0, line_seconds=4)
    return ScriptedTransport([ok, busy])


def _audio(data: Path) -> FaxTransport:
    return SimLineTransport(SimLineConfig(data))


def _t38(data: Path) -> FaxTransport:
    return SimLineTransport(SimLineConfig(data, medium=Medium.T38))


@pytest.fixture(params=[_scripted, _audio, _t38], ids=["scripted", "simline-audio", "simline-t38"])
def transport(request: pytest.FixtureRequest, sim_dir: Path) -> FaxTransport:
    factory: Factory = request.param
    return factory(sim_dir)


def test_delivery_then_busy(transport: FaxTransport, two_pages: Path) -> None:
    events: list[CallProgress] = []
    ok = transport.send(FaxCall(two_pages, "+4930", "c1"), events.append)
    assert isinstance(ok, CallResult)
    assert ok.success and ok.outcome is Outcome.OK
    assert ok.pages_confirmed == ok.pages_in_document == 2
    assert ok.line_seconds > 0
    assert events[0].stage == "dialing" and events[-1].stage == "hangup"
    assert [e.verdict for e in events if e.stage == "page"] == ["MCF", "MCF"]

    busy = transport.send(FaxCall(two_pages, "+15557770001", "c2"), lambda _: None)
    assert busy.outcome is Outcome.BUSY and not busy.success
    assert busy.t30_code is None and busy.pages_sent == 0
