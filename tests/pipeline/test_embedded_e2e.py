"""End to end on the embedded default: POST /faxapi.asp → rendered → simline → done."""

from __future__ import annotations

import signal
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import numpy as np
import pytest
from PIL import Image

from faxout.blobs.local import LocalBlobStore
from tests.headerband import band_rows, band_text
from tests.intake.records import submission_by_request
from tests.server import Server, start_server

USER, PASSWORD = "15554440000", "pw-e2e"
DATA = Path(__file__).resolve().parent.parent / "render" / "data"
FINAL = {"done", "failed", "interrupted", "canceled", "render_failed"}


def pages(path: Path) -> list[np.ndarray]:
    out = []
    with Image.open(path) as img:
        for i in range(getattr(img, "n_frames", 1)):
            img.seek(i)
            out.append(np.array(img.convert("1"), dtype=bool))
    return out


def wait_for(check: object, timeout: float = 120, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def job_states(data_dir: Path) -> dict[int, str]:
    with sqlite3.connect(data_dir / "faxout.db") as db:
        return dict(db.execute("SELECT id, state FROM jobs").fetchall())


def post(
    server: Server, recipients: list[str], files: dict[str, tuple[str, bytes]], **extra: str
) -> httpx.Response:
    return httpx.post(
        server.url + "/faxapi.asp",
        timeout=60,
        data={"Username": USER, "Password": PASSWORD, "Recipient": recipients, **extra},
        files=files,
    )


@pytest.fixture
def gateway(tmp_path: Path) -> Iterator[Server]:
    server = start_server(tmp_path / "var", FAXOUT_DEMO_ACCOUNT="false")
    server.add_user(USER, PASSWORD, "--email", "e2e@example.com", "--name", "End To End")
    try:
        yield server
    finally:
        server.kill()


@pytest.mark.slow
def test_fax_arrives_as_rendered(gateway: Server) -> None:
    pdf = next(DATA.glob("letter_a4*.pdf"), None) or next(DATA.glob("*.pdf"))
    resp = post(
        gateway,
        ["+1 555 010 2000|Front desk", "+15550102001"],
        {"Attachment": (pdf.name, pdf.read_bytes())},
        Coverpagetext="Please see attached.",
    )
    assert resp.text == "0"
    sub = submission_by_request(gateway.data_dir, resp.headers["x-request-id"])
    assert sub is not None
    wait_for(lambda: set(job_states(gateway.data_dir).values()) == {"done"}, what="jobs done")
    sub = submission_by_request(gateway.data_dir, resp.headers["x-request-id"])
    assert sub is not None and sub.render_count == 1 and sub.pages
    store = LocalBlobStore(gateway.data_dir / "documents", gateway.data_dir / "spool")
    rendered_doc = pages(store.path_for(_rendered_key(gateway.data_dir, sub.id)))
    for job in sub.jobs:
        cover = pages(store.path_for(_cover_key(gateway.data_dir, job.id)))
        received = pages(gateway.data_dir / "received" / f"job{job.id}-1.tif")
        sent = cover + rendered_doc
        assert len(received) == len(sent)
        for n, (got, want) in enumerate(zip(received, sent, strict=True), start=1):
            # Exactly the paper's length; the header printed into the band the renderer left.
            assert got.shape == want.shape == (2156, 1728)  # Letter at fine: +1 is NANP
            band = band_rows(196)
            assert np.array_equal(got[band:], want[band:])
            header = band_text(got, 196)
            assert f"Page {n} of {len(sent)}" in header, header
            assert "End To End" in header and job.number.removeprefix("+1") in header.replace(
                "-", ""
            ).replace(" ", ""), header


def _rendered_key(data_dir: Path, sub_id: int) -> str:
    with sqlite3.connect(data_dir / "faxout.db") as db:
        return str(
            db.execute("SELECT rendered_key FROM submissions WHERE id=?", (sub_id,)).fetchone()[0]
        )


def _cover_key(data_dir: Path, job_id: int) -> str:
    with sqlite3.connect(data_dir / "faxout.db") as db:
        return str(db.execute("SELECT cover_key FROM jobs WHERE id=?", (job_id,)).fetchone()[0])


@pytest.mark.slow
def test_outcomes_of_the_virtual_machines(gateway: Server) -> None:
    resp = post(
        gateway,
        ["+15557770001|busy", "+15557770003|voice", "+15557770012|two pages then hang up"],
        {"Attachment": ("a.txt", b"page one\f page two\f page three\n")},
        Coverpage="None",
    )
    assert resp.text == "0"

    def settled() -> bool:
        sub = submission_by_request(gateway.data_dir, resp.headers["x-request-id"])
        return sub is not None and all(j.dials >= 1 for j in sub.jobs)

    wait_for(settled, what="first attempts")
    sub = submission_by_request(gateway.data_dir, resp.headers["x-request-id"])
    assert sub is not None
    by_number = {j.number: j for j in sub.jobs}
    busy, voice, partial = (
        by_number["+15557770001"],
        by_number["+15557770003"],
        by_number["+15557770012"],
    )
    assert busy.state == "ready" and "busy" in busy.reason
    assert voice.state == "failed" and "fax machine" in voice.reason
    assert partial.state == "ready" and partial.resume_page == 3 and partial.pages_confirmed == 2


@pytest.mark.slow
def test_sigkill_mid_batch_of_200_never_loses_or_doubles_a_fax(tmp_path: Path) -> None:
    data = tmp_path / "var"
    server = start_server(
        data,
        FAXOUT_DEMO_ACCOUNT="false",
        FAXOUT_TRANSMIT__LINES="3",
        FAXOUT_TRANSMIT__LEASE_SECONDS="5",
    )
    server.add_user(USER, PASSWORD, "--email", "crash@example.com")
    doc = b"A one page fax for the crash test.\n" * 20

    def send(i: int) -> str:
        return post(
            server, [f"+1555020{i:04d}"], {"Attachment": ("c.txt", doc)}, Coverpage="None"
        ).text

    with ThreadPoolExecutor(8) as pool:
        replies = list(pool.map(send, range(200)))
    assert replies == ["0"] * 200
    wait_for(
        lambda: "dialing" in job_states(data).values() and "done" in job_states(data).values(),
        what="calls in progress",
    )
    server.process.send_signal(signal.SIGKILL)
    server.process.wait(timeout=10)
    before = job_states(data)

    restarted = start_server(
        data,
        FAXOUT_DEMO_ACCOUNT="false",
        FAXOUT_TRANSMIT__LINES="3",
        FAXOUT_TRANSMIT__LEASE_SECONDS="5",
    )
    try:
        wait_for(
            lambda: set(job_states(data).values()) <= FINAL, timeout=240, what="all jobs final"
        )
    finally:
        restarted.kill()
    after = job_states(data)
    assert len(after) == 200 and set(after.values()) <= {"done", "interrupted"}
    received = Counter(p.name.split("-")[0] for p in (data / "received").glob("job*.tif"))
    assert max(received.values()) == 1, "a recipient got the same fax twice"
    interrupted = [j for j, s in after.items() if s == "interrupted"]
    assert all(before[j] == "dialing" for j in interrupted)
    with sqlite3.connect(data / "faxout.db") as db:
        reasons = {r for (r,) in db.execute("SELECT reason FROM jobs WHERE state='interrupted'")}
        unknown = db.execute("SELECT count(*) FROM attempts WHERE outcome='unknown'").fetchone()[0]
    assert all("may or may not have been delivered" in r for r in reasons)
    assert unknown == len(interrupted)
    done = [j for j, s in after.items() if s == "done"]
    assert all(received[f"job{j}"] == 1 for j in done)
