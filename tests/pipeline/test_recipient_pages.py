"""What the recipient receives, through the real server: the paper of its country, the header
in the band with the account's time zone and the page total, and a resumed call that keeps the
original page numbers."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from tests.headerband import band_text
from tests.intake.records import submission_by_request
from tests.pipeline.test_embedded_e2e import job_states, wait_for
from tests.server import start_server
from tests.transmit.pages import read_pages

USER, PASSWORD = "15550107777", "recipient-pages-pw"
PARTIAL = "+15557770012"  # takes two pages, then hangs up before the third
LONDON = "+442079460000"


@pytest.mark.slow
def test_pages_headers_and_a_resumed_call_as_the_recipients_see_them(tmp_path: Path) -> None:
    server = start_server(
        tmp_path / "var", FAXOUT_DEMO_ACCOUNT="false", FAXOUT_RETRY__FAILED_DELAY="1"
    )
    try:
        server.add_user(USER, PASSWORD, "--email", "pages@example.com", "--name", "Dr. Weber")
        zone = server.cli("user", "set", USER, "--time-zone", "America/New_York")
        assert zone.returncode == 0, zone.stderr
        text = b"first page\fsecond page\fthird page\n"
        resp = httpx.post(
            server.url + "/faxapi.asp",
            timeout=60,
            data={
                "Username": USER,
                "Password": PASSWORD,
                "Recipient": [f"{PARTIAL}|Two pages", f"{LONDON}|London office"],
                "Coverpage": "None",
            },
            files={"Attachment": ("three.txt", text)},
        )
        assert resp.text == "0"
        wait_for(lambda: set(job_states(server.data_dir).values()) == {"done"}, what="both faxes")
        sub = submission_by_request(server.data_dir, resp.headers["x-request-id"])
        assert sub is not None
        jobs = {j.number: j for j in sub.jobs}
        received = server.data_dir / "received"

        # London: A4 rows at fine resolution, the header names both ends and the zone.
        london = read_pages(received / f"job{jobs[LONDON].id}-1.tif")
        assert [p.shape for p in london] == [(2292, 1728)] * 3
        header = band_text(london[0], 196)
        for part in ("EST", "Dr. Weber", "+1 555-010-7777", "London office", "Page 1 of 3"):
            assert part in header, (part, header)

        # The partial number: two pages in the first call, the third in a second call that
        # keeps its number in the fax and says it resumed.
        first = read_pages(received / f"job{jobs[PARTIAL].id}-1.tif")
        second = read_pages(received / f"job{jobs[PARTIAL].id}-2.tif")
        assert [p.shape for p in first + second] == [(2156, 1728)] * 3  # Letter for +1
        assert "Page 2 of 3" in band_text(first[1], 196)
        resumed = band_text(second[0], 196)
        assert "Page 3 of 3, resumed at page 3" in resumed, resumed
    finally:
        server.kill()
