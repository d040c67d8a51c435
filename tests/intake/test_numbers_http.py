"""Numbers safe to dial, through the real server: refused numbers, duplicates, account lists."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import PASSWORD, USER
from tests.intake.records import submission_by_request
from tests.pipeline.test_embedded_e2e import job_states, wait_for
from tests.server import Server, start_server

DOC = {"Attachment": ("a.txt", b"numbers safe to dial\n")}


def submit(server: Server, recipients: list[str], user: str = USER) -> httpx.Response:
    return httpx.post(
        server.url + "/faxapi.asp",
        data={"Username": user, "Password": PASSWORD, "Recipient": recipients},
        files=DOC,
        timeout=30,
    )


def test_an_emergency_number_alone_is_answered_3_with_the_reason_logged(server: Server) -> None:
    resp = submit(server, ["911|Fire department"])
    assert resp.text == "3"
    line = next(ln for ln in server.log().splitlines() if resp.headers["x-request-id"] in ln)
    assert "recipient '911' left out: it is an emergency number" in line


def test_refused_numbers_are_noted_and_a_duplicate_is_faxed_once(server: Server) -> None:
    resp = submit(
        server,
        [
            "911",
            "112",
            "123",
            "1-900-555-1234|Psychic hotline",
            "+1 555 012 3461|Front desk",
            "15550123461|Front desk again",
        ],
    )
    assert resp.text == "0"
    sub = submission_by_request(server.data_dir, resp.headers["x-request-id"])
    assert sub is not None
    assert [(j.number, j.name) for j in sub.jobs] == [("+15550123461", "Front desk")]
    assert sub.notes == [
        "recipient '911' left out: it is an emergency number; faxout never dials emergency "
        "services",
        "recipient '112' left out: it is an emergency number; faxout never dials emergency "
        "services",
        "recipient '123' left out: it is too short: give the whole number with its area code",
        "recipient '1-900-555-1234' left out: it is a premium-rate number (charged extra); "
        "faxout does not dial those",
        "recipient +15550123461 was given more than once; faxed once",
    ]


@pytest.fixture(scope="module")
def sip_gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """A gateway on a real line (SIP): the simulated line's numbers do not exist there."""
    srv = start_server(
        tmp_path_factory.mktemp("sipgw"),
        "--no-workers",
        FAXOUT_DEMO_ACCOUNT="false",
        FAXOUT_TRANSMIT__TRANSPORT="sip",
    )
    try:
        srv.add_user(USER, PASSWORD, "--email", "s@example.com", "--dial-allow", "domestic")
        srv.add_user("4930123456", PASSWORD, "--email", "d@example.com", "--dial-deny", "+1")
        yield srv
    finally:
        srv.kill()


def test_a_real_line_refuses_fictional_numbers(sip_gateway: Server) -> None:
    assert submit(sip_gateway, ["+1 555 012 3461", "911"]).text == "3"
    resp = submit(sip_gateway, ["+1 555 012 3461", "(650) 555-0101"])
    assert resp.text == "0"
    sub = submission_by_request(sip_gateway.data_dir, resp.headers["x-request-id"])
    assert sub is not None and [j.number for j in sub.jobs] == ["+16505550101"]
    assert sub.notes == ["recipient '+1 555 012 3461' left out: it is not a valid number in US"]


def test_the_accounts_region_and_lists(sip_gateway: Server) -> None:
    # Domestic only: London is left out.
    resp = submit(sip_gateway, ["+44 20 7946 0000", "212 555 0100"])
    assert resp.text == "0"
    sub = submission_by_request(sip_gateway.data_dir, resp.headers["x-request-id"])
    assert sub is not None and [j.number for j in sub.jobs] == ["+12125550100"]
    assert sub.notes == [
        "recipient '+44 20 7946 0000' left out: this account may only fax domestic numbers (US)"
    ]
    # A Berlin account writes Berlin numbers nationally, and may not fax +1.
    resp = submit(sip_gateway, ["030 1234567", "+1 212 555 0100"], user="4930123456")
    assert resp.text == "0"
    sub = submission_by_request(sip_gateway.data_dir, resp.headers["x-request-id"])
    assert sub is not None and [j.number for j in sub.jobs] == ["+49301234567"]
    assert sub.notes == [
        "recipient '+1 212 555 0100' left out: this account may not fax numbers starting +1"
    ]


@pytest.mark.slow
def test_a_number_given_in_two_notations_is_dialled_once(tmp_path: Path) -> None:
    server = start_server(tmp_path / "var", FAXOUT_DEMO_ACCOUNT="false")
    try:
        server.add_user(USER, PASSWORD, "--email", "once@example.com")
        resp = submit(server, ["+1 555 012 3461", "15550123461", "1 (555) 012-3461"])
        assert resp.text == "0"
        wait_for(lambda: set(job_states(server.data_dir).values()) == {"done"}, 180, "the fax")
        assert len(job_states(server.data_dir)) == 1
        assert len(list((server.data_dir / "received").glob("*.tif"))) == 1
    finally:
        server.kill()
