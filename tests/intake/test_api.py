"""The status API through a real embedded gateway: tokens made with `faxout token`, faxes sent
with the FaxOut endpoint onto the simulated line, then looked at, canceled and retried."""

from __future__ import annotations

import base64
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server import Server, start_server

USER, OTHER, PASSWORD = "16505551234", "16505559999", "api test pass"
BUSY, NOT_FAX, DESK = "+15557770001", "+15557770003", "+15550123456"


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(
        tmp_path_factory.mktemp("api"),
        FAXOUT_DEMO_ACCOUNT="false",
        FAXOUT_LIMITS__MAX_BODY_BYTES="300000",  # so a body over the limit is quick to send
        # A sync answers exactly what changed since its token (the overlap has a test of its own).
        FAXOUT_API__SYNC_OVERLAP_SECONDS="0",
    )
    try:
        srv.add_user(USER, PASSWORD, "--email", "a@example.com", "--name", "Api")
        srv.add_user(OTHER, PASSWORD, "--email", "o@example.com")
        yield srv
    finally:
        srv.kill()


def token(gw: Server, user: str = USER, *args: str) -> str:
    made = gw.cli("token", "create", user, *args)
    assert made.returncode == 0, made.stderr
    return made.stdout.strip().splitlines()[-1].split()[-1]  # the last word of the last line


def fax(gw: Server, *recipients: str, user: str = USER, sendtime: str = "") -> int:
    data = {"Username": user, "Password": PASSWORD, "Recipient": list(recipients)}
    if sendtime:
        data["Sendtime"] = sendtime
    reply = httpx.post(
        gw.url + "/faxapi.asp", data=data, files=[("Attachment", ("a.txt", b"hello"))], timeout=60
    )
    assert reply.text == "0"
    return int(reply.headers["X-Faxout-Submission"])  # the one-digit reply's fax, for operators


def api(gw: Server, secret: str, method: str, path: str, **params: Any) -> httpx.Response:
    return httpx.request(
        method,
        f"{gw.url}/api/v1{path}",
        headers={"Authorization": f"Bearer {secret}"},
        params=params,
        timeout=30,
    )


def until(read: Callable[[], dict[str, Any]], done: Callable[[dict[str, Any]], bool]) -> Any:
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        got = read()
        if done(got):
            return got
        time.sleep(0.2)
    raise AssertionError(f"never reached: {got}")


def test_a_fax_is_seen_recipient_by_recipient_to_its_end(gw: Server) -> None:
    secret = token(gw)
    fid = fax(gw, f"{DESK}|Desk", f"{NOT_FAX}|Phone")
    got = until(
        lambda: api(gw, secret, "GET", f"/faxes/{fid}").json(),
        lambda f: f["state"] in ("delivered", "partial", "failed"),
    )
    assert got["id"] == fid and got["state"] == "partial"
    desk, phone = got["recipients"]
    assert (desk["number"], desk["name"], desk["state"]) == (DESK, "Desk", "delivered")
    assert desk["pages_confirmed"] == desk["pages_total"] == 2  # cover page and the text
    (call,) = desk["attempts"]
    assert call["outcome"] == "ok" and call["csid"] and call["bit_rate"] == 14400
    assert phone["state"] == "failed" and "fax machine" in phone["reason"]
    assert phone["attempts"][0]["outcome"] == "not_fax"
    report = until(  # the delivery report e-mail, as `faxout jobs show` shows it
        lambda: api(gw, secret, "GET", f"/faxes/{fid}").json(),
        lambda f: f["reports"] and f["reports"][0]["state"] == "sent",
    )["reports"][0]
    assert (report["kind"], report["to"], report["error"]) == ("final", "a@example.com", None)


def test_cancel_a_scheduled_fax_then_nothing_is_left_to_cancel(gw: Server) -> None:
    secret = token(gw)
    later = datetime.now(UTC) + timedelta(hours=6)
    fid = fax(gw, DESK, sendtime=later.strftime("%d:%m:%y %H:%M"))  # the FaxOut form, GMT
    until(
        lambda: api(gw, secret, "GET", f"/faxes/{fid}").json(),
        lambda f: f["recipients"][0]["state"] == "scheduled",
    )
    canceled = api(gw, secret, "POST", f"/faxes/{fid}/cancel")
    assert canceled.status_code == 200
    assert canceled.json()["state"] == "canceled"
    again = api(gw, secret, "POST", f"/faxes/{fid}/cancel")
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["status"] == 409 and "nothing left to cancel" in again.json()["detail"]


def test_retry_a_failed_recipient(gw: Server) -> None:
    secret = token(gw)
    fid = fax(gw, NOT_FAX)
    failed = until(
        lambda: api(gw, secret, "GET", f"/faxes/{fid}").json(),
        lambda f: f["state"] == "failed",
    )
    rid = failed["recipients"][0]["id"]
    assert api(gw, secret, "POST", f"/faxes/{fid}/recipients/{rid}/retry").status_code == 200
    twice = until(
        lambda: api(gw, secret, "GET", f"/faxes/{fid}").json(),
        lambda f: len(f["recipients"][0]["attempts"]) == 2 and f["state"] == "failed",
    )
    assert [a["outcome"] for a in twice["recipients"][0]["attempts"]] == ["not_fax"] * 2
    delivered = fax(gw, DESK)
    until(
        lambda: api(gw, secret, "GET", f"/faxes/{delivered}").json(),
        lambda f: f["state"] == "delivered",
    )
    rid = api(gw, secret, "GET", f"/faxes/{delivered}").json()["recipients"][0]["id"]
    refused = api(gw, secret, "POST", f"/faxes/{delivered}/recipients/{rid}/retry")
    assert refused.status_code == 409  # a delivered fax is not sent again
    wrong = api(gw, secret, "POST", f"/faxes/{delivered}/recipients/{rid + 10_000}/retry")
    assert wrong.status_code == 404


def test_pages_of_the_list_and_changes_since_a_sync_token(gw: Server) -> None:
    secret = token(gw, OTHER)
    first = [fax(gw, NOT_FAX, user=OTHER) for _ in range(3)]
    page = until(
        lambda: api(gw, secret, "GET", "/faxes", limit=2).json(),
        lambda p: all(f["state"] == "failed" for f in p["items"]),
    )
    assert [f["id"] for f in page["items"]] == first[:0:-1]  # newest first
    rest = api(gw, secret, "GET", "/faxes", limit=2, cursor=page["next_cursor"]).json()
    assert [f["id"] for f in rest["items"]] == [first[0]] and rest["next_cursor"] is None
    settled = until(
        lambda: api(gw, secret, "GET", "/faxes").json(),
        lambda p: all(f["state"] == "failed" for f in p["items"]),
    )
    later = fax(gw, NOT_FAX, user=OTHER)
    changed = until(
        lambda: api(gw, secret, "GET", "/faxes", sync_token=settled["sync_token"]).json(),
        lambda p: [f["id"] for f in p["items"]] == [later],
    )
    assert changed["sync_token"] != settled["sync_token"]


def test_a_sync_repeats_what_changed_just_before_its_token(tmp_path: Path) -> None:
    """With the default overlap a change stamped before the token, as one committed late by
    another worker would be, comes again: repeated rather than skipped."""
    srv = start_server(tmp_path, FAXOUT_DEMO_ACCOUNT="false")
    try:
        srv.add_user(USER, PASSWORD, "--email", "a@example.com")
        secret = token(srv)
        early = fax(srv, NOT_FAX)
        settled = until(
            lambda: api(srv, secret, "GET", "/faxes").json(),
            lambda p: [f["state"] for f in p["items"]] == ["failed"],
        )
        later = fax(srv, NOT_FAX)
        changed = until(
            lambda: api(srv, secret, "GET", "/faxes", sync_token=settled["sync_token"]).json(),
            lambda p: later in [f["id"] for f in p["items"]],
        )
        assert [f["id"] for f in changed["items"]] == [later, early]
    finally:
        srv.kill()


def test_tokens_see_only_their_account_and_do_only_their_scopes(gw: Server) -> None:
    mine, theirs = fax(gw, DESK), fax(gw, DESK, user=OTHER)
    reader = token(gw, USER, "--scope", "read")
    assert api(gw, reader, "GET", f"/faxes/{mine}").status_code == 200
    assert api(gw, reader, "GET", f"/faxes/{theirs}").status_code == 404  # as if none existed
    assert theirs not in [f["id"] for f in api(gw, reader, "GET", "/faxes").json()["items"]]
    forbidden = api(gw, reader, "POST", f"/faxes/{mine}/cancel")
    assert forbidden.status_code == 403 and "'send' scope" in forbidden.json()["detail"]
    for bad in ("", "Basic eDp5", "Bearer fxo_forged", "Bearer " + reader[:-1]):
        answer = httpx.get(f"{gw.url}/api/v1/faxes", headers={"Authorization": bad}, timeout=30)
        assert answer.status_code == 401, bad
        assert answer.headers["www-authenticate"].startswith("Bearer")
    listed = gw.cli("token", "list", USER).stdout
    token_id = next(
        line.split()[0] for line in listed.splitlines() if reader[:12] in line
    )  # `list` shows the first characters only
    assert reader not in listed
    assert gw.cli("token", "revoke", token_id).returncode == 0
    assert api(gw, reader, "GET", f"/faxes/{mine}").status_code == 401


def test_bad_parameters_are_problems_not_crashes(gw: Server) -> None:
    secret = token(gw)
    for params in ({"limit": 0}, {"limit": "many"}, {"cursor": -1}, {"sync_token": "zzz"}):
        answer = api(gw, secret, "GET", "/faxes", **params)
        assert answer.status_code in (400, 422), params
        assert answer.headers["content-type"] == "application/problem+json"
    assert api(gw, secret, "GET", "/faxes/not-a-number").status_code == 422


def test_a_token_can_expire_and_an_unknown_scope_is_refused(gw: Server, tmp_path: Path) -> None:
    refused = gw.cli("token", "create", USER, "--scope", "admin")
    assert refused.returncode != 0 and "'admin' is not one of" in refused.stderr
    made = gw.cli("token", "create", USER, "--expires-in", "1")
    assert made.returncode == 0 and "expires " in made.stdout


def new_fax(*numbers: str, text: bytes = b"hello from the API", **extra: Any) -> dict[str, Any]:
    return {
        "to": [{"number": n, "name": f"R{i}"} for i, n in enumerate(numbers)],
        "documents": [{"filename": "a.txt", "content_base64": base64.b64encode(text).decode()}],
        **extra,
    }


def post(gw: Server, secret: str, body: Any, key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {secret}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return httpx.post(f"{gw.url}/api/v1/faxes", json=body, headers=headers, timeout=60)


def test_a_fax_submitted_as_json_is_delivered_with_its_cover_text(gw: Server) -> None:
    secret = token(gw)
    made = post(gw, secret, new_fax(DESK, cover_text="Hello from the API", resolution="low"))
    assert made.status_code == 201, made.text
    fid = made.json()["id"]
    assert made.headers["location"] == f"/api/v1/faxes/{fid}"
    assert made.json()["recipients"][0]["number"] == DESK
    done = until(
        lambda: api(gw, secret, "GET", f"/faxes/{fid}").json(), lambda f: f["state"] == "delivered"
    )
    assert done["resolution"] == "low" and done["recipients"][0]["pages_confirmed"] == 2


def test_the_same_key_and_body_give_the_same_fax_another_body_a_conflict(gw: Server) -> None:
    secret = token(gw)
    body = new_fax(DESK, send_at=(datetime.now(UTC) + timedelta(hours=6)).isoformat())
    first = post(gw, secret, body, key="order-1")
    again = post(gw, secret, body, key="order-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    other = post(gw, secret, new_fax(BUSY), key="order-1")
    assert other.status_code == 409 and str(first.json()["id"]) in other.json()["detail"]
    assert post(gw, secret, body, key="order-2").json()["id"] != first.json()["id"]


def test_requests_with_one_key_at_once_make_one_fax(gw: Server) -> None:
    secret = token(gw, OTHER)
    body = new_fax(DESK, send_at=(datetime.now(UTC) + timedelta(hours=6)).isoformat())
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: post(gw, secret, body, key="at-once"), range(8)))
    assert sorted(a.status_code for a in answers) == [200] * 7 + [201]
    assert len({a.json()["id"] for a in answers}) == 1
    listed = api(gw, secret, "GET", "/faxes", limit=200).json()["items"]
    assert [f["id"] for f in listed].count(answers[0].json()["id"]) == 1


@pytest.mark.parametrize(
    ("body", "says"),
    [
        (new_fax("911"), "emergency"),
        (new_fax(), "to: List should have at least 1 item"),
        ({**new_fax(DESK), "documents": [{"filename": "a", "content_base64": "!!"}]}, "base64"),
        (new_fax(DESK, send_at="2026-12-24T10:00:00"), "send_at: Input should have timezone"),
        (new_fax(DESK, cover_page="Fancy"), "'Fancy' is not installed"),
        (new_fax(DESK, colour=True), "colour: Extra inputs are not permitted"),
        (new_fax(DESK, resolution="ultra"), "resolution"),
        ("not json at all", "Invalid JSON"),
    ],
)
def test_what_cannot_be_done_is_a_422_naming_the_field(gw: Server, body: Any, says: str) -> None:
    secret = token(gw)
    if isinstance(body, str):
        answer = httpx.post(
            f"{gw.url}/api/v1/faxes",
            content=body,
            headers={"Authorization": f"Bearer {secret}"},
            timeout=30,
        )
    else:
        answer = post(gw, secret, body)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert says in answer.json()["detail"]


def test_submitting_needs_the_send_scope_and_a_body_within_the_limit(gw: Server) -> None:
    reader = token(gw, USER, "--scope", "read")
    assert post(gw, reader, new_fax(DESK)).status_code == 403
    big = post(gw, token(gw), new_fax(DESK, text=b"x" * 600_000))
    assert big.status_code == 413 and "at most" in big.json()["detail"]
    assert post(gw, token(gw), new_fax(DESK), key="k" * 201).status_code == 400
