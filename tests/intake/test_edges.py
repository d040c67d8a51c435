"""The edges of a FaxOut request, through a real ``faxout serve``: far send times, floods of
notes, passwords in the wrong field, hostile text in listings, and forged client addresses."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from faxout.jobs.create import MAX_NOTE_CHARS, MAX_NOTES, MAX_NOTES_BYTES
from tests.conftest import PASSWORD, USER
from tests.intake.records import submission_by_request
from tests.server import Server, start_server


def submit(
    server: Server,
    fields: list[tuple[str, str]],
    headers: dict[str, str] | None = None,
    user: str = USER,
    password: str = PASSWORD,
) -> httpx.Response:
    form: dict[str, list[str]] = {"Username": [user], "Password": [password]}
    for key, value in fields:
        form.setdefault(key, []).append(value)
    return httpx.post(
        server.url + "/faxapi.asp",
        data=form,
        files=[("Attachment", ("a.txt", b"hello"))],
        headers=headers,
        timeout=60,
    )


@pytest.mark.parametrize("sendtime", ["31:12:9999 23:59", "01:01:2999 00:00", "01:01:99 00:00"])
def test_send_time_over_a_year_ahead_is_refused_with_a_note(server: Server, sendtime: str) -> None:
    resp = submit(server, [("Recipient", "5551234"), ("Sendtime", sendtime)])
    assert resp.text == "0"
    sub = submission_by_request(server.data_dir, resp.headers["x-request-id"])
    assert sub is not None
    # sent at once, like any unusable Sendtime of the FaxOut contract, and the sender is told
    assert sub.send_at == sub.created_at
    assert [j.send_at for j in sub.jobs] == [sub.created_at]
    assert f"send time {sendtime!r} is more than a year ahead; sent at once" in sub.notes
    assert sub.sendtime_raw == sendtime


def test_send_time_within_a_year_is_kept(server: Server) -> None:
    resp = submit(server, [("Recipient", "5551234")])
    now = submission_by_request(server.data_dir, resp.headers["x-request-id"])
    assert now is not None
    ahead = now.created_at + timedelta(days=360)
    resp = submit(server, [("Recipient", "5551234"), ("Sendtime", f"{ahead:%d:%m:%Y %H:%M}")])
    sub = submission_by_request(server.data_dir, resp.headers["x-request-id"])
    assert sub is not None and f"{sub.send_at:%Y-%m-%d %H:%M}" == f"{ahead:%Y-%m-%d %H:%M}"
    assert not sub.notes


def test_notes_are_truncated_and_capped(server: Server) -> None:
    # 400 refused recipients of 20 000 characters each: 8 MB of values, once stored twice over
    bad = ["x" * 20_000 + f"-{i}" for i in range(400)]
    resp = submit(server, [("Recipient", "5551234"), *(("Recipient", b) for b in bad)])
    assert resp.text == "0"
    sub = submission_by_request(server.data_dir, resp.headers["x-request-id"])
    assert sub is not None and [j.number for j in sub.jobs] == ["+15555551234"]
    stored = json.dumps(sub.notes).encode()
    assert len(stored) < MAX_NOTES_BYTES + 1024
    assert len(sub.notes) <= MAX_NOTES + 1
    assert all(len(n) <= MAX_NOTE_CHARS for n in sub.notes)
    assert sub.notes[0].startswith("recipient 'xxxx") and "…" in sub.notes[0]
    kept = len(sub.notes) - 1
    assert sub.notes[-1] == f"and {400 - kept} more notes, not kept"


def test_a_password_typed_into_username_is_not_logged(server: Server) -> None:
    secret = "Tr0ub4dor&3 staple"
    resp = submit(server, [("Recipient", "5551234")], user=secret, password="")
    assert resp.text == "1"
    rid = resp.headers["x-request-id"]
    line = next(line for line in server.log().splitlines() if rid in line)
    assert secret not in server.log() and "Tr0ub4dor" not in server.log()
    assert f'username="[not a username, {len(secret)} chars]"' in line
    # a plausible username is still logged, normalised
    resp = submit(server, [("Recipient", "5551234")], user="+1 555 123-0000", password="wrong")
    line = next(line for line in server.log().splitlines() if resp.headers["x-request-id"] in line)
    assert f"username={USER}" in line


def test_jobs_list_shows_hostile_names_escaped(server: Server) -> None:
    name = "Eve\x1b[2J\x1b]0;owned\x07\u202eevil"
    resp = submit(server, [("Recipient", f"5559876|{name}")])
    assert resp.text == "0"
    listed = server.cli("jobs", "list")
    assert listed.returncode == 0
    assert "\x1b" not in listed.stdout and "\x07" not in listed.stdout
    assert "\u202e" not in listed.stdout
    assert "Eve\\x1b[2J\\x1b]0;owned\\x07\\u202eevil" in listed.stdout
    sub = submission_by_request(server.data_dir, resp.headers["x-request-id"])
    assert sub is not None
    shown = server.cli("jobs", "show", str(sub.jobs[0].id))
    assert shown.returncode == 0 and "\x1b" not in shown.stdout
    assert "(Eve\\x1b[2J" in shown.stdout


# -- X-Forwarded-For and the login throttle --------------------------------------------------


def throttled_server(tmp: Path, **env: str) -> Server:
    srv = start_server(
        tmp, "--no-workers", FAXOUT_DEMO_ACCOUNT="false", FAXOUT_AUTH__THROTTLE_FAILURES="3", **env
    )
    srv.add_user(USER, PASSWORD, "--email", "sender@example.com")
    return srv


@pytest.fixture(scope="module")
def untrusting(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = throttled_server(tmp_path_factory.mktemp("xff-default"))
    try:
        yield srv
    finally:
        srv.kill()


@pytest.fixture(scope="module")
def behind_proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = throttled_server(
        tmp_path_factory.mktemp("xff-proxy"), FAXOUT_TRUSTED_PROXIES='["127.0.0.1"]'
    )
    try:
        yield srv
    finally:
        srv.kill()


def test_rotating_x_forwarded_for_does_not_defeat_the_throttle(untrusting: Server) -> None:
    for i in range(3):
        forged = {"X-Forwarded-For": f"198.51.100.{i}"}
        assert submit(untrusting, [("Recipient", "5551234")], forged, password="guess").text == "1"
    # every guess counted against the real peer: even the right password is refused now,
    # whatever address the header claims
    fresh = {"X-Forwarded-For": "203.0.113.77"}
    assert submit(untrusting, [("Recipient", "5551234")], fresh).text == "1"
    assert submit(untrusting, [("Recipient", "5551234")]).text == "1"
    resp = submit(untrusting, [("Recipient", "5551234")], fresh)
    assert "reason=throttled" in next(
        line for line in untrusting.log().splitlines() if resp.headers["x-request-id"] in line
    )


def test_a_trusted_proxy_names_the_client(behind_proxy: Server) -> None:
    # the proxy appends the address it saw; what the client wrote to its left does not count
    for i in range(3):
        header = {"X-Forwarded-For": f"10.9.9.{i}, 198.51.100.7"}
        assert submit(behind_proxy, [("Recipient", "5551234")], header, password="x").text == "1"
    locked = {"X-Forwarded-For": "10.1.1.1, 198.51.100.7"}
    assert submit(behind_proxy, [("Recipient", "5551234")], locked).text == "1"
    # another client behind the same proxy is not locked out
    other = {"X-Forwarded-For": "198.51.100.8"}
    resp = submit(behind_proxy, [("Recipient", "5551234")], other)
    assert resp.text == "0"
    sub = submission_by_request(behind_proxy.data_dir, resp.headers["x-request-id"])
    assert sub is not None and sub.client_addr == "198.51.100.8"
