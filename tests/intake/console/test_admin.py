"""The admin pages: operators only, the overview, the accounts and what an operator does."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from starlette.testclient import TestClient

from faxout.schedule.lines import sync_lines
from tests.intake.apiapp import USER, InProcess, in_process
from tests.intake.console.signedin import csrf_of, sign_in

OTHER, OTHER_PW = "4930123456", "the other's pass"
FLASH = re.compile(r'<div class="flash (ok|error)"[^>]*>([^<]+)</div>')


@contextmanager
def operator(tmp: Path) -> Iterator[tuple[InProcess, TestClient, str]]:
    """The app with ``USER`` an operator and ``OTHER`` a sender; a client signed in as ``USER``."""
    made = in_process(tmp)
    made.gw.accounts.update(USER, operator=True, now=made.clock.now())
    made.gw.accounts.add(
        OTHER,
        email="o@example.com",
        password_hash=made.gw.passwords.hash(OTHER_PW),
        now=made.clock.now(),
    )
    with TestClient(made.app, base_url="http://testserver") as client:
        yield made, client, sign_in(client)


def _other(made: InProcess) -> TestClient:
    return TestClient(made.app, base_url="http://testserver")


def _flash(html: str) -> tuple[str, str]:
    found = FLASH.search(html)
    assert found, "the page shows no message"
    return found.group(1), found.group(2)


def test_only_an_operator_sees_and_opens_the_admin_pages(tmp_path: Path) -> None:
    with operator(tmp_path) as (made, client, _):
        assert 'href="/admin"' in client.get("/").text
        with _other(made) as sender:
            token = sign_in(sender, OTHER, OTHER_PW)
            assert 'href="/admin"' not in sender.get("/").text
            for path in ("/admin", "/admin/live", "/admin/accounts", f"/admin/accounts/{USER}"):
                answer = sender.get(path)
                assert answer.status_code == 403 and "Only an operator" in answer.text, path
            for path in ("/admin/unlock", "/admin/accounts", f"/admin/accounts/{OTHER}/operator"):
                answer = sender.post(path, data={"csrf": token, "operator": "1", "username": OTHER})
                assert answer.status_code == 403, path
        assert made.gw.accounts.get(OTHER).operator is False  # type: ignore[union-attr]


def test_a_change_without_the_csrf_token_is_refused(tmp_path: Path) -> None:
    with operator(tmp_path) as (made, client, _):
        for path, data in (
            ("/admin/unlock", {"username": OTHER}),
            ("/admin/accounts", {"username": "4930999", "email": "x@example.com"}),
            (f"/admin/accounts/{OTHER}/fax", {"allowed": "0"}),
            (f"/admin/accounts/{OTHER}/operator", {"operator": "1"}),
            (f"/admin/accounts/{OTHER}/password", {"generate": "1"}),
            (f"/admin/accounts/{OTHER}/unlock", {"csrf": ""}),
        ):
            answer = client.post(path, data=data, follow_redirects=False)
            assert answer.status_code == 403 and "expired" in answer.text, path
        account = made.gw.accounts.get(OTHER)
        assert account is not None and not account.fax_prohibited and not account.operator


def test_the_overview_shows_lines_outboxes_and_the_check(tmp_path: Path) -> None:
    with operator(tmp_path) as (made, client, _):
        sync_lines(made.gw.engine, "simline", 2)
        page = client.get("/admin")
        assert page.status_code == 200, page.text
        assert page.text.count(">Idle<") == 2 and "simline 2" in page.text
        assert "Delivery reports (mail relay)" in page.text and "Webhook events" in page.text
        assert "No sign-in is locked." in page.text
        assert "faxout check" in page.text and ">database<" in page.text
        assert 'class="badge good">OK<' in page.text
        assert 'data-live="/admin/live"' in page.text
        live = client.get("/admin/live", headers={"X-Requested-With": "fetch"}).text
        assert live.count(">Idle<") == 2 and "Webhook events" in live
        assert "<html" not in live and "faxout check" not in live


def test_unlock_lets_a_throttled_sign_in_work_again(tmp_path: Path) -> None:
    with operator(tmp_path) as (made, client, token), _other(made) as locked:
        for _ in range(10):
            locked.post(
                "/login",
                data={
                    "username": OTHER,
                    "password": "x",
                    "csrf": csrf_of(locked.get("/login").text),
                },
            )
        form = {"username": OTHER, "password": OTHER_PW}
        throttled = locked.post("/login", data={**form, "csrf": csrf_of(locked.get("/login").text)})
        assert throttled.status_code == 429
        legacy = {"Username": (None, OTHER), "Password": (None, OTHER_PW), "Recipient": (None, "1")}
        assert locked.post("/faxapi.asp", files=legacy).text == "1"

        overview = client.get("/admin").text
        assert 'action="/admin/unlock"' in overview and f'value="{OTHER}"' in overview
        done = client.post(
            "/admin/unlock", data={"csrf": token, "username": OTHER, "back": "/admin"},
            follow_redirects=False,
        )  # fmt: skip
        assert done.status_code == 303 and done.headers["location"] == "/admin"
        kind, text = _flash(client.get("/admin").text)
        assert kind == "ok" and "may sign in again from testclient" in text
        assert "No sign-in is locked." in client.get("/admin").text

        made.clock.advance(3)  # past auth.account_cache_seconds: every worker sees the unlock
        answer = locked.post(
            "/login", data={**form, "csrf": csrf_of(locked.get("/login").text)},
            follow_redirects=False,
        )  # fmt: skip
        assert answer.status_code == 303, answer.text


def test_the_account_list_and_creating_one(tmp_path: Path) -> None:
    with operator(tmp_path) as (made, client, token):
        listed = client.get("/admin/accounts").text
        assert f"/admin/accounts/{USER}" in listed and f"/admin/accounts/{OTHER}" in listed
        assert "Operator" in listed
        typed = {
            "csrf": token, "username": "+44 20 7946 0000", "name": "Front desk",
            "email": "desk@example.com", "password": "long enough", "password2": "different",
            "operator": "1",
        }  # fmt: skip
        wrong = client.post("/admin/accounts", data=typed)
        assert wrong.status_code == 400 and "The two new passwords differ." in wrong.text
        assert 'value="+44 20 7946 0000"' in wrong.text and 'value="Front desk"' in wrong.text
        assert 'value="desk@example.com"' in wrong.text and "long enough" not in wrong.text
        assert re.search(r'name="operator" value="1" checked', wrong.text)
        assert not re.search(r'name="fax_allowed" value="1" checked', wrong.text)
        bad_mail = client.post("/admin/accounts", data={**typed, "password2": "long enough",
                                                       "email": "nope"})  # fmt: skip
        assert bad_mail.status_code == 400 and "not an email address" in bad_mail.text
        taken = client.post("/admin/accounts", data={**typed, "password2": "long enough",
                                                    "username": OTHER})  # fmt: skip
        assert taken.status_code == 400 and "already exists" in taken.text

        made_ = client.post(
            "/admin/accounts", data={**typed, "password2": "long enough", "fax_allowed": "1"},
            follow_redirects=False,
        )  # fmt: skip
        assert made_.status_code == 303
        assert made_.headers["location"] == "/admin/accounts/442079460000"
        kind, text = _flash(client.get(made_.headers["location"]).text)
        assert (kind, text) == ("ok", "442079460000 created.")
        account = made.gw.accounts.get("442079460000")
        assert account is not None and account.operator and not account.fax_prohibited
        assert made.gw.passwords.verify(account.password_hash, "long enough")


def test_faxing_and_the_operator_role_are_switched_but_not_ones_own_role(tmp_path: Path) -> None:
    with operator(tmp_path) as (made, client, token):
        base = f"/admin/accounts/{OTHER}"
        page = client.post(f"{base}/fax", data={"csrf": token, "allowed": "0"}).text
        assert made.gw.accounts.get(OTHER).fax_prohibited  # type: ignore[union-attr]
        assert "may no longer send faxes" in page and "Allow faxing" in page
        client.post(f"{base}/fax", data={"csrf": token, "allowed": "1"})
        assert not made.gw.accounts.get(OTHER).fax_prohibited  # type: ignore[union-attr]

        client.post(f"{base}/operator", data={"csrf": token, "operator": "1"})
        assert made.gw.accounts.get(OTHER).operator  # type: ignore[union-attr]
        client.post(f"{base}/operator", data={"csrf": token, "operator": "0"})
        assert not made.gw.accounts.get(OTHER).operator  # type: ignore[union-attr]

        refused = client.post(
            f"/admin/accounts/{USER}/operator", data={"csrf": token, "operator": "0"}
        )
        assert "You cannot take your own operator role" in _flash(refused.text)[1]
        assert made.gw.accounts.get(USER).operator  # type: ignore[union-attr]
        assert client.get("/admin/accounts/15550009999").status_code == 404


def test_a_password_reset_ends_the_accounts_sessions(tmp_path: Path) -> None:
    with operator(tmp_path) as (made, client, token), _other(made) as other:
        sign_in(other, OTHER, OTHER_PW)
        base = f"/admin/accounts/{OTHER}/password"
        short = client.post(base, data={"csrf": token, "password": "short", "password2": "short"})
        assert short.status_code == 400 and "at least 10 characters" in short.text
        done = client.post(
            base, data={"csrf": token, "password": "a new one!", "password2": "a new one!"},
            follow_redirects=False,
        )  # fmt: skip
        assert done.status_code == 303
        assert "has a new password" in _flash(client.get(done.headers["location"]).text)[1]
        assert other.get("/", follow_redirects=False).status_code == 303  # signed out
        made.clock.advance(3)  # the sign-in rereads the account within 2 s
        sign_in(other, OTHER, "a new one!")

        shown = client.post(base, data={"csrf": token, "generate": "1"})
        assert shown.status_code == 200
        found = re.search(r'<code id="generated">([^<]+)</code>', shown.text)
        assert found and "shown only this once" in shown.text
        assert other.get("/", follow_redirects=False).status_code == 303
        made.clock.advance(3)
        sign_in(other, OTHER, found.group(1))

        # One's own: the operator stays signed in with the new password.
        mine = client.post(
            f"/admin/accounts/{USER}/password",
            data={"csrf": token, "password": "my new pass", "password2": "my new pass"},
        )
        assert mine.status_code == 200 and "has a new password" in mine.text
        assert client.get("/admin", follow_redirects=False).status_code == 200
