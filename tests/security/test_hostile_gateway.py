"""The hostile corpus through a real ``faxout serve``, while another account's fax goes through.

One account sends every attack at once: documents that read, list and write the data
directory, one that waits for another account's fax to render and tries to read it, endless
loops, a memory hog, a kilometre-long page, an inflation bomb. Meanwhile a second account
sends a confidential fax. It must be delivered while the attacker's loops still hold their
share of the workers; every attack must end refused or harmless within its budget; no file
may be planted; no page may show a byte it should not.
"""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

import httpx
import pytest

from faxout.blobs.local import LocalBlobStore
from tests.intake.records import submission_by_request
from tests.security import hostile
from tests.server import Server, start_server

ATTACKER, VICTIM = ("15553330001", "pw-attacker"), ("15553330002", "pw-victim")
SECRET = "PATIENT-4411 DIAGNOSIS CONFIDENTIAL"
FINAL = {"done", "failed", "interrupted", "canceled", "render_failed"}
BUDGET = {"FAXOUT_RENDER__DOCUMENT_SECONDS": "8", "FAXOUT_RENDER__SUBMISSION_SECONDS": "10"}


def _send(server: Server, who: tuple[str, str], name: str, data: bytes) -> str:
    resp = httpx.post(
        server.url + "/faxapi.asp",
        timeout=60,
        data={
            "Username": who[0],
            "Password": who[1],
            "Recipient": "+15550100200|Desk",
            "Coverpage": "None",
        },
        files={"Attachment": (name, data)},
    )
    assert resp.text == "0", resp.text
    return resp.headers["x-request-id"]


def _state(server: Server, request_id: str) -> str:
    sub = submission_by_request(server.data_dir, request_id)
    assert sub is not None
    return sub.state


def _rendered(server: Server, request_id: str) -> Path | None:
    sub = submission_by_request(server.data_dir, request_id)
    assert sub is not None
    with sqlite3.connect(server.data_dir / "faxout.db") as db:
        (key,) = db.execute("SELECT rendered_key FROM submissions WHERE id=?", (sub.id,)).fetchone()
    if not key:
        return None
    return LocalBlobStore(server.data_dir / "documents", server.data_dir / "spool").path_for(key)


@pytest.mark.slow
def test_attacks_stay_harmless_while_another_account_faxes(tmp_path: Path) -> None:
    data = tmp_path / "var"
    server = start_server(data, FAXOUT_DEMO_ACCOUNT="false", FAXOUT_RUNTIME__RENDER_WORKERS="2",
                          **BUDGET)  # fmt: skip
    try:
        for user, password in (ATTACKER, VICTIM):
            server.add_user(user, password, "--email", f"{user}@example.com")
        attacks = {
            "race.ps": hostile.racer(f"{data}/*", SECRET, seconds=6),
            "loop-1.ps": hostile.endless_loop(),
            "loop-2.ps": hostile.endless_loop(),
            "read.ps": hostile.reader([data / "faxout.db", data / "queue.db"]),
            "list.ps": hostile.lister([data, data / "documents", data / "run", data.parent]),
            "plant.ps": hostile.writer([data / "planted.txt", data / "documents" / "x"]),
            "memory.ps": hostile.memory_hog(),
            "huge-page.pdf": hostile.huge_page(),
            "bomb.pdf": hostile.inflation_bomb(),
        }
        sent = {name: _send(server, ATTACKER, name, body) for name, body in attacks.items()}
        deadline = time.monotonic() + 30
        while _state(server, sent["race.ps"]) != "rendering" and time.monotonic() < deadline:
            time.sleep(0.05)  # the race must be scanning while the victim's fax renders
        canary = _send(server, VICTIM, "record.txt", f"{SECRET}\n".encode() * 40)
        deadline = time.monotonic() + 60
        while _state(server, canary) not in FINAL and time.monotonic() < deadline:
            time.sleep(0.2)
        assert _state(server, canary) == "done"  # the victim's fax went through...
        waiting = [n for n in ("loop-1.ps", "loop-2.ps") if _state(server, sent[n]) not in FINAL]
        assert waiting  # ...while the attacker's loops still queued or ran on their one worker

        deadline = time.monotonic() + 240
        while time.monotonic() < deadline:
            if all(_state(server, r) in FINAL for r in sent.values()):
                break
            time.sleep(0.5)
        states = {name: _state(server, r) for name, r in sent.items()}
        for name in ("loop-1.ps", "loop-2.ps", "memory.ps", "huge-page.pdf", "bomb.pdf"):
            assert states[name] == "render_failed", (name, states)
        for name in ("race.ps", "read.ps", "list.ps", "plant.ps"):
            assert states[name] == "done", (name, states)
            page = _rendered(server, sent[name])
            assert page is not None and hostile.verdict(page) == "harmless", name
        assert not (data / "planted.txt").exists()
        assert not (data / "documents" / "x").exists()
    finally:
        server.kill()
