"""The FaxTransport contract, run against every implementation of the seam.

Each case asks a transport's real far end (``contract_peers``) to end a call one way and checks
what a user of the transport sees: the outcome, the pages confirmed, the progress reported, and
that an expected ending is a returned result, never an exception. SIP calls faxout's own SIP
receiver and SIPp; HylaFAX is a private faxq + hfaxd with two iaxmodems. Both run in real time,
hence ``slow``. A transport whose peer cannot produce an outcome is left out of that case's
parameters; ``contract_peers.CANNOT`` says why.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _pytest.mark import ParameterSet

from faxout.errors import TransportError
from faxout.transmit.result import CallProgress, CallResult, FaxCall, Outcome
from faxout.transmit.simline import Medium
from tests.transmit import contract_peers, hylafax_server
from tests.transmit.contract_peers import Far, HylaFaxPeer, Peer, ScriptedPeer, SimLinePeer, SipPeer

TRANSPORTS = ["scripted", "simline-audio", "simline-t38", "sip", "hylafax"]
SLOW = {"sip", "hylafax"}  # real daemons, calls in real time
# Left out, with the reasons in contract_peers.CANNOT: hylafax-busy (the lab's iaxmodems call each
# other directly, no exchange to give a busy signal) and hylafax in test_broken_off_after_a_page
# (its receiving faxgetty takes every page; nothing drops that call after page 1 on cue).


def peers(outcome: Outcome) -> list[ParameterSet]:
    """The ``peer`` parameters of a case: transports that can produce ``outcome``."""
    return [
        pytest.param(name, id=name, marks=[pytest.mark.slow] if name in SLOW else [])
        for name in contract_peers.able(TRANSPORTS, outcome)
    ]


@pytest.fixture(scope="module")
def hylafax_lab(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[hylafax_server.HylaFaxLab]:
    why = hylafax_server.missing()
    # `make test` installs the packages and CI runs as root: missing means a broken set-up.
    assert not why, f"{why} (run `make setup-test` as root)"
    lab = hylafax_server.start_lab(tmp_path_factory.mktemp("contract-hylafax"), modems=True)
    try:
        yield lab
    finally:
        lab.stop()


@pytest.fixture
def peer(request: pytest.FixtureRequest, tmp_path: Path) -> Peer:
    name: str = request.param
    if name == "scripted":
        return ScriptedPeer()
    if name.startswith("simline"):
        medium = Medium.T38 if name.endswith("t38") else Medium.AUDIO
        return SimLinePeer(tmp_path / "data", medium)
    if name == "sip":
        return SipPeer(tmp_path / "sip")
    if name == "hylafax":
        return HylaFaxPeer(request.getfixturevalue("hylafax_lab"))
    raise AssertionError(name)


@pytest.fixture(scope="module")
def document(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return contract_peers.two_page_document(tmp_path_factory.mktemp("contract") / "two.tif")


def call(far: Far, document: Path, call_id: str) -> tuple[CallResult, list[CallProgress]]:
    """Send ``document`` once; the result and the progress, which must be well formed."""
    events: list[CallProgress] = []
    try:
        result = far.transport.send(FaxCall(document, far.number, call_id), events.append)
    except TransportError as exc:  # an expected ending is an outcome, never an exception
        pytest.fail(f"send raised for an expected outcome: {exc!r}")
    assert isinstance(result, CallResult)
    stages = [e.stage for e in events]
    assert stages[0] == "dialing" and stages[-1] == "hangup", stages
    assert stages.count("hangup") == 1 and stages.count("dialing") == 1, stages
    assert result.pages_in_document == 2
    return result, events


def verdicts(events: list[CallProgress]) -> list[str | None]:
    return [e.verdict for e in events if e.stage == "page"]


@pytest.mark.parametrize("peer", peers(Outcome.OK), indirect=True)
def test_delivered(peer: Peer, document: Path) -> None:
    with peer.reach(Outcome.OK) as far:
        result, events = call(far, document, "contract-ok")
        stored = far.stored(result)
    assert result.outcome is Outcome.OK and result.success, result
    assert result.pages_sent == result.pages_confirmed == 2
    assert [p.verdict for p in result.pages] == ["MCF", "MCF"]
    assert result.t30_code == 0
    assert verdicts(events) == ["MCF", "MCF"]
    assert [e.page for e in events if e.stage == "page"] == [1, 2]
    assert stored in (None, 2), f"the far end stored {stored} pages"
    # Live progress: a page is under way before its verdict, once, and the second page is
    # seen under way (HylaFAX only tells pages done, so it may miss it between two polls).
    steps = [(e.stage, e.page) for e in events if e.stage in ("sending", "page")]
    under_way = [page for stage, page in steps if stage == "sending"]
    assert under_way == sorted(set(under_way)), steps
    for page in under_way:
        assert steps.index(("sending", page)) < steps.index(("page", page)), steps
    if not isinstance(peer, HylaFaxPeer):
        assert 2 in under_way, steps


@pytest.mark.parametrize(
    ("peer", "outcome"),
    [
        pytest.param(p.values[0], outcome, id=f"{p.id}-{outcome}", marks=p.marks)
        for outcome in (Outcome.BUSY, Outcome.NO_ANSWER)
        for p in peers(outcome)
    ],
    indirect=["peer"],
)
def test_not_answered(peer: Peer, outcome: Outcome, document: Path) -> None:
    """Busy, or ringing until the transport gives up: no fax engine ran, nothing was sent."""
    with peer.reach(outcome) as far:
        result, events = call(far, document, f"contract-{outcome}")
    assert result.outcome is outcome and not result.success, result
    assert result.t30_code is None
    assert result.pages_sent == result.pages_confirmed == 0 and result.pages == ()
    assert verdicts(events) == []


@pytest.mark.parametrize("peer", peers(Outcome.PARTIAL), indirect=True)
def test_broken_off_after_a_page(peer: Peer, document: Path) -> None:
    """The far end confirms page 1, then the call is lost: partial, page 1 counts as sent."""
    with peer.reach(Outcome.PARTIAL) as far:
        result, events = call(far, document, "contract-partial")
        stored = far.stored(result)
    assert result.outcome is Outcome.PARTIAL and not result.success, result
    assert result.pages_confirmed == 1
    assert [p.verdict for p in result.pages if p.verdict == "MCF"] == ["MCF"]
    assert verdicts(events) == ["MCF"]
    assert result.t30_code != 0
    assert stored in (None, 1), f"the far end stored {stored} pages"
