"""The noisy test line (+1 555 777 0004) delivers a real multi-page fax with its header,
through the whole gateway (POST → render → call → report), over audio and T.38.

It used to break off after 0–15 pages (T.30 code 15 on audio, 21 on T.38) with or without a
header: spandsp's V.17 receiver could fail the short training of an ECM block and let its T2
timer drop it back to phase B; and on T.38 a lost PPR counted towards the three retries of a
whole page. The noisy machine now offers V.29 and below, faxout steps down from V.17 after a
broken V.17 call, and T.38 control data goes out three times (docs/transmit.md).
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.headerband import band_text
from tests.intake.records import submission_by_request
from tests.pipeline.test_embedded_e2e import job_states, wait_for
from tests.server import Server, start_server
from tests.transmit.pages import read_pages

DOC = Path(__file__).parent / "data" / "report_10p_a4.pdf"
USER, PASSWORD = "15550109999", "noisy-line-pw"
NOISY = "+15557770004"


@pytest.fixture(params=["audio", "t38"])
def gateway(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Server]:
    server = start_server(
        tmp_path / "var", FAXOUT_DEMO_ACCOUNT="false", FAXOUT_TRANSMIT__MEDIUM=request.param
    )
    server.add_user(USER, PASSWORD, "--email", "noisy@example.com", "--name", "Noisy Test")
    try:
        yield server
    finally:
        server.kill()


@pytest.mark.slow
def test_ten_pages_and_a_cover_arrive_whole_with_their_header(gateway: Server) -> None:
    resp = httpx.post(
        f"{gateway.url}/faxapi.asp",
        data={"Username": USER, "Password": PASSWORD, "Recipient": f"{NOISY}|Noisy line"},
        files={"Attachment": (DOC.name, DOC.read_bytes())},
        timeout=30,
    )
    assert resp.text == "0"
    wait_for(
        lambda: set(job_states(gateway.data_dir).values()) <= {"done", "failed"},
        what="the noisy fax",
        timeout=600,
    )
    sub = submission_by_request(gateway.data_dir, resp.headers["x-request-id"])
    assert sub is not None
    (job,) = sub.jobs
    assert job.state == "done", job.reason
    received = sorted((gateway.data_dir / "received").glob(f"job{job.id}-*.tif"))
    assert len(received) == 1, "the first call delivers it all"
    pages = read_pages(received[0])
    assert len(pages) == 11  # cover + 10
    for page in pages:
        assert page.shape == (2156, 1728)  # Letter (+1) at fine, the header inside the page
    assert "Page 11 of 11" in band_text(pages[-1], 196)
    wait_for(lambda: list((gateway.data_dir / "outbox" / "new").glob("*")), what="the report")
    (mail,) = (gateway.data_dir / "outbox" / "new").glob("*")
    msg = email.message_from_bytes(mail.read_bytes(), policy=email.policy.default)
    assert msg["Subject"] == "Fax to +1 555-777-0004: delivered (11 pages)"  # as people write it
