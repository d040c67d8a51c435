"""CallResult values, the outcome rules, and the scripted transport."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

from faxout.errors import TransportError
from faxout.transmit.outcome import classify, compression_of, modem_of
from faxout.transmit.result import (
    CallProgress,
    CallResult,
    Compression,
    FaxCall,
    Outcome,
    PageResult,
)
from faxout.transmit.transport import ScriptedTransport

MCF = PageResult(1, "MCF", 0)
OK = CallResult(Outcome.OK, 0, "OK", 2, 2, 2, (MCF, dataclasses.replace(MCF, number=2)))


def test_success_is_strict() -> None:
    assert OK.success
    bad_rows = dataclasses.replace(OK, pages=(MCF, PageResult(2, "MCF", 3)))
    assert not bad_rows.success
    rtp = dataclasses.replace(OK, pages=(MCF, PageResult(2, "RTP", 0)))
    assert not rtp.success
    short = dataclasses.replace(OK, pages_confirmed=1, pages=(MCF,))
    assert not short.success
    code = dataclasses.replace(OK, t30_code=21)
    assert not code.success
    assert not CallResult(Outcome.BUSY, None, "the line is busy", 2, 0, 0).success


def test_unknown_bad_rows_do_not_spoil_success() -> None:
    # A real line reports only verdicts; bad rows are None there.
    pages = (PageResult(1, "MCF"), PageResult(2, "MCF"))
    assert dataclasses.replace(OK, pages=pages).success


def test_results_are_frozen_values() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        OK.outcome = Outcome.FAILED  # type: ignore[misc]
    assert dataclasses.replace(OK) == OK


def test_to_json_is_plain_json() -> None:
    result = dataclasses.replace(
        OK, compression=Compression.MMR, received_path=Path("/x/r.tif"), notes=("n",)
    )
    data = json.loads(json.dumps(result.to_json()))
    assert data["outcome"] == "ok"
    assert data["compression"] == "mmr"
    assert data["received_path"] == "/x/r.tif"
    assert data["success"] is True
    assert data["pages"][1] == {
        "number": 2,
        "verdict": "MCF",
        "bad_rows": 0,
        "image_bytes": None,
        "bit_rate": None,
    }


@pytest.mark.parametrize(
    ("code", "heard_dis", "pages", "expected"),
    [
        (0, True, (MCF, PageResult(2, "MCF", 0)), Outcome.OK),
        (0, True, (MCF, PageResult(2, "MCF", 5)), Outcome.PARTIAL),  # non-ECM damage
        (0, True, (PageResult(1, "MCF", 9), PageResult(2, "RTN", 9)), Outcome.PARTIAL),
        (0, True, (PageResult(1, "RTP", 0), PageResult(2, "RTP", 0)), Outcome.FAILED),
        (2, False, (), Outcome.NOT_FAX),
        (2, True, (), Outcome.FAILED),
        (9, True, (), Outcome.REJECTED),
        (51, True, (), Outcome.REJECTED),
        (15, True, (MCF,), Outcome.PARTIAL),  # DCN after a page: often a bad line
        (15, True, (), Outcome.FAILED),
        (21, True, (MCF,), Outcome.PARTIAL),
        (49, True, (), Outcome.FAILED),
        (20, True, (), Outcome.FAILED),
    ],
)
def test_classify(
    code: int, heard_dis: bool, pages: tuple[PageResult, ...], expected: Outcome
) -> None:
    assert classify(code, heard_dis, 2, pages) is expected


def test_modem_and_compression_names() -> None:
    dcs = bytes([0xFF, 0x13, 0x83, 0x00])
    assert modem_of(dcs + bytes([0x62])) == "V.17"
    assert modem_of(dcs + bytes([0x44])) == "V.29"
    assert modem_of(dcs + bytes([0x48])) == "V.27ter"
    assert modem_of(None) is None
    assert compression_of(3) is Compression.MMR
    assert compression_of(0) is None


def test_scripted_transport_replays_results_in_order(tmp_path: Path) -> None:
    busy = CallResult(Outcome.BUSY, None, "the line is busy", 2, 0, 0)
    transport = ScriptedTransport([busy, OK])
    call = FaxCall(tmp_path / "doc.tif", "+15550100", "c1")
    seen: list[CallProgress] = []
    assert transport.send(call, seen.append) == busy
    assert transport.send(call, seen.append) == OK
    assert transport.calls == [call, call]
    assert [e.stage for e in seen] == [
        *("dialing", "hangup", "dialing"),
        *("sending", "page") * 2,
        "hangup",
    ]
    with pytest.raises(TransportError, match="no result left"):
        transport.send(call, seen.append)
