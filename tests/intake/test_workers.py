"""`faxout serve --workers N`: several processes share one database and document store."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx

from tests.intake.records import submission_by_request
from tests.server import start_server


def test_two_workers_accept_concurrently(tmp_path: Path) -> None:
    server = start_server(tmp_path / "var", "--workers", "2", FAXOUT_DEMO_ACCOUNT="false")
    try:
        server.add_user("15556000000", "pw-workers", "--email", "w@example.com")

        def send(i: int) -> httpx.Response:
            return httpx.post(
                server.url + "/faxapi.asp",
                timeout=30,
                data={
                    "Username": "15556000000",
                    "Password": "pw-workers",
                    "Recipient": f"555{i:04d}",
                },
                files={"Attachment": (f"{i}.txt", f"document {i}".encode())},
            )

        with ThreadPoolExecutor(8) as pool:
            replies = list(pool.map(send, range(40)))
        assert [r.text for r in replies] == ["0"] * 40
        numbers = set()
        for r in replies:
            sub = submission_by_request(server.data_dir, r.headers["x-request-id"])
            assert sub is not None
            numbers.add(sub.jobs[0].number)
        assert numbers == {f"+1555555{i:04d}" for i in range(40)}
        assert "Started parent process" in server.log()
    finally:
        server.kill()
