"""Signing in to the console: the FaxOut credentials and throttle, sessions, CSRF, headers."""

from __future__ import annotations

from pathlib import Path

from starlette.testclient import TestClient

from faxout.intake.console.session import COOKIE
from tests.intake.apiapp import PASSWORD, USER, in_process
from tests.intake.console.signedin import console, csrf_of, sign_in


def test_a_page_behind_the_sign_in_redirects_there_and_back(tmp_path: Path) -> None:
    with console(tmp_path, signed_in=False) as (_, client, _token):
        answer = client.get("/?state=failed", follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login?next=/%3Fstate%3Dfailed"
        form = client.get(answer.headers["location"]).text
        assert 'name="next" value="/?state=failed"' in form
        done = client.post(
            "/login",
            data={
                "username": USER,
                "password": PASSWORD,
                "csrf": csrf_of(form),
                "next": "/?state=failed",
            },
            follow_redirects=False,
        )
        assert done.status_code == 303 and done.headers["location"] == "/?state=failed"
        cookie = done.headers["set-cookie"]
        assert cookie.startswith(f"{COOKIE}=")
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Secure" not in cookie
        assert "Outbox" in client.get("/").text


def test_the_number_may_be_written_as_people_write_it(tmp_path: Path) -> None:
    with console(tmp_path, signed_in=False) as (_, client, _token):
        sign_in(client, "+1 (650) 555-1234")
        assert client.get("/", follow_redirects=False).status_code == 200


def test_a_wrong_password_says_so_and_keeps_the_number(tmp_path: Path) -> None:
    with console(tmp_path, signed_in=False) as (_, client, _token):
        form = client.get("/login").text
        answer = client.post(
            "/login", data={"username": USER, "password": "nope", "csrf": csrf_of(form)}
        )
        assert answer.status_code == 401
        assert "do not match an account" in answer.text
        assert f'value="{USER}"' in answer.text
        assert client.get("/", follow_redirects=False).status_code == 303


def test_the_throttle_is_the_faxout_endpoints(tmp_path: Path) -> None:
    """Failures in the console and at /faxapi.asp count together, and lock both."""
    with console(tmp_path, signed_in=False) as (_, client, _token):
        for _ in range(10):
            form = client.get("/login").text
            client.post("/login", data={"username": USER, "password": "x", "csrf": csrf_of(form)})
        form = client.get("/login").text
        locked = client.post(
            "/login", data={"username": USER, "password": PASSWORD, "csrf": csrf_of(form)}
        )
        assert locked.status_code == 429
        assert "ask an operator to unlock" in locked.text
        legacy = client.post(
            "/faxapi.asp",
            files={
                "Username": (None, USER),
                "Password": (None, PASSWORD),
                "Recipient": (None, "16505550100"),
            },
        )
        assert legacy.text == "1"


def test_a_sign_in_without_the_forms_token_is_refused(tmp_path: Path) -> None:
    with console(tmp_path, signed_in=False) as (_, client, _token):
        client.get("/login")
        answer = client.post("/login", data={"username": USER, "password": PASSWORD})
        assert answer.status_code == 403
        assert "expired" in answer.text
        assert client.get("/", follow_redirects=False).status_code == 303


def test_an_idle_session_ends(tmp_path: Path) -> None:
    with console(tmp_path) as (made, client, _token):
        made.clock.advance(7 * 3600)  # within 8 h of idleness: still in, and touched
        assert client.get("/", follow_redirects=False).status_code == 200
        made.clock.advance(7 * 3600)
        assert client.get("/", follow_redirects=False).status_code == 200
        made.clock.advance(8 * 3600 + 1)
        answer = client.get("/", follow_redirects=False)
        assert answer.status_code == 303 and answer.headers["location"].startswith("/login")


def test_a_session_ends_after_a_day_however_busy(tmp_path: Path) -> None:
    with console(tmp_path) as (made, client, _token):
        for _ in range(24):
            made.clock.advance(3600)
            assert client.get("/", follow_redirects=False).status_code == 200
        made.clock.advance(1)
        assert client.get("/", follow_redirects=False).status_code == 303


def test_a_script_whose_session_ended_gets_401(tmp_path: Path) -> None:
    with console(tmp_path) as (made, client, _token):
        made.clock.advance(9 * 3600)
        answer = client.get("/outbox/rows", headers={"X-Requested-With": "fetch"})
        assert answer.status_code == 401
        answer = client.get("/outbox/rows", headers={"Accept": "application/json"})
        assert answer.status_code == 401


def test_a_new_password_ends_the_sessions(tmp_path: Path) -> None:
    with console(tmp_path) as (made, client, _token):
        made.gw.accounts.update(
            USER, now=made.clock.now(), password_hash=made.gw.passwords.hash("new one")
        )
        assert client.get("/", follow_redirects=False).status_code == 303


def test_a_forged_or_foreign_cookie_is_no_session(tmp_path: Path) -> None:
    with console(tmp_path) as (_, client, _token):
        good = client.cookies[COOKIE]
        client.cookies.set(COOKIE, good[:-3] + ("AAA" if not good.endswith("AAA") else "BBB"))
        assert client.get("/", follow_redirects=False).status_code == 303
    other = in_process(tmp_path / "other")
    with TestClient(other.app, base_url="http://testserver") as client:
        client.cookies.set(COOKIE, good)  # another gateway's key signed it
        assert client.get("/", follow_redirects=False).status_code == 303


def test_signing_out_needs_the_token(tmp_path: Path) -> None:
    with console(tmp_path) as (_, client, token):
        refused = client.post("/logout", data={"csrf": "wrong"})
        assert refused.status_code == 403
        assert client.get("/", follow_redirects=False).status_code == 200
        done = client.post("/logout", data={"csrf": token}, follow_redirects=False)
        assert done.status_code == 303 and done.headers["location"] == "/login"
        assert "You are signed out." in client.get("/login").text
        assert client.get("/", follow_redirects=False).status_code == 303


def test_a_post_from_another_site_is_refused(tmp_path: Path) -> None:
    with console(tmp_path) as (_, client, token):
        answer = client.post(
            "/logout", data={"csrf": token}, headers={"Origin": "http://evil.example"}
        )
        assert answer.status_code == 403
        assert "another site" in answer.text
        answer = client.post(
            "/logout", data={"csrf": token}, headers={"Sec-Fetch-Site": "cross-site"}
        )
        assert answer.status_code == 403
        assert client.get("/", follow_redirects=False).status_code == 200


def test_after_sign_in_only_a_path_of_this_site(tmp_path: Path) -> None:
    with console(tmp_path, signed_in=False) as (_, client, _token):
        for target in ("//evil.example/", "https://evil.example/", "/\\evil.example"):
            form = client.get("/login").text
            done = client.post(
                "/login",
                data={
                    "username": USER,
                    "password": PASSWORD,
                    "csrf": csrf_of(form),
                    "next": target,
                },
                follow_redirects=False,
            )
            assert done.headers["location"] == "/"


def test_security_headers(tmp_path: Path) -> None:
    with console(tmp_path) as (_, client, _token):
        for path in ("/login", "/"):
            headers = client.get(path).headers
            assert "script-src 'self'" in headers["content-security-policy"]
            assert "frame-ancestors 'none'" in headers["content-security-policy"]
            assert "unsafe-inline" not in headers["content-security-policy"]
            assert headers["x-frame-options"] == "DENY"
            assert headers["x-content-type-options"] == "nosniff"
            assert headers["cache-control"] == "no-store"
            assert "strict-transport-security" not in headers
    made = in_process(tmp_path / "https")
    with TestClient(made.app, base_url="https://testserver") as client:
        answer = client.get("/login")
        assert answer.headers["strict-transport-security"].startswith("max-age=")
        assert "Secure" in answer.headers["set-cookie"]
