"""Accepted means durable: SIGKILL right after a 0 loses nothing."""

from __future__ import annotations

import signal
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.intake.records import document_bytes, submission_by_request
from tests.server import start_server

USER, PASSWORD = "15557000000", "pw-crash"


@pytest.mark.slow
def test_sigkill_right_after_accepted_loses_nothing(tmp_path: Path) -> None:
    data = tmp_path / "var"
    server = start_server(data, "--no-workers", FAXOUT_DEMO_ACCOUNT="false")
    server.add_user(USER, PASSWORD, "--email", "c@example.com")
    docs = {i: f"%PDF-1.4 document {i} ".encode() * (200 + i) for i in range(8)}

    def send(i: int) -> tuple[int, str, str]:
        resp = httpx.post(
            server.url + "/faxapi.asp",
            timeout=30,
            data={
                "Username": USER,
                "Password": PASSWORD,
                "Recipient": [f"555000{i}", f"555100{i}"],
            },
            files={"Attachment": (f"doc{i}.pdf", docs[i])},
        )
        return i, resp.text, resp.headers["x-request-id"]

    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(send, range(7)))
    last = send(7)
    server.process.send_signal(signal.SIGKILL)  # the instant the last 0 arrived
    server.process.wait(timeout=10)
    results.append(last)
    assert all(text == "0" for _, text, _ in results)

    restarted = start_server(data, "--no-workers", FAXOUT_DEMO_ACCOUNT="false")
    try:
        for i, _, request_id in results:
            sub = submission_by_request(data, request_id)
            assert sub is not None, f"submission {i} lost"
            assert [j.number for j in sub.jobs] == [f"+1555555000{i}", f"+1555555100{i}"]
            assert document_bytes(data, sub.documents[0].blob_key) == docs[i]
        listed = restarted.cli("jobs", "list", "--json")
        assert listed.stdout.count('"state": "accepted"') == 16
    finally:
        restarted.kill()
