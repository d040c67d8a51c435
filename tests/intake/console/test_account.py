"""The account page: details, password, API tokens and webhooks, as the API and CLI have them."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.testclient import TestClient

from tests.intake.apiapp import PASSWORD, USER
from tests.intake.console.signedin import console, csrf_of, sign_in


def test_a_token_made_here_works_with_the_api_and_is_shown_once(tmp_path: Path) -> None:
    with console(tmp_path) as (_, client, token):
        answer = client.post("/account/tokens", data={"csrf": token, "scope": "read", "days": "30"})
        assert answer.status_code == 201
        secret = re.search(r'id="secret-value">(fxo_[^<]+)<', answer.text)
        assert secret, answer.text
        assert answer.headers["cache-control"] == "no-store"
        assert (
            "set-cookie" not in answer.headers
            or secret.group(1) not in answer.headers["set-cookie"]
        )
        api = {"Authorization": f"Bearer {secret.group(1)}"}
        assert client.get("/api/v1/faxes", headers=api).status_code == 200
        assert client.post("/api/v1/faxes", json={}, headers=api).status_code == 403  # read only
        page = client.get("/account").text
        assert secret.group(1) not in page and secret.group(1)[:12] in page


def test_revoking_a_token_stops_it(tmp_path: Path) -> None:
    with console(tmp_path) as (made, client, token):
        ids = re.findall(r'action="/account/tokens/(\d+)/revoke"', client.get("/account").text)
        assert ids  # the fixture's own token
        done = client.post(
            f"/account/tokens/{ids[0]}/revoke", data={"csrf": token}, follow_redirects=False
        )
        assert done.status_code == 303
        assert "is revoked" in client.get("/account").text
        assert client.get("/api/v1/faxes", headers=made.auth).status_code == 401


def test_a_token_without_a_scope_or_with_a_bad_expiry_is_refused(tmp_path: Path) -> None:
    with console(tmp_path) as (_, client, token):
        assert (
            "Choose what the token may do"
            in client.post("/account/tokens", data={"csrf": token}).text
        )
        bad = client.post("/account/tokens", data={"csrf": token, "scope": "send", "days": "-3"})
        assert bad.status_code == 400 and "number of days" in bad.text


def test_another_accounts_token_cannot_be_revoked(tmp_path: Path) -> None:
    with console(tmp_path) as (made, client, token):
        other = made.gw.accounts.add(
            "16505559999", email="b@example.com", password_hash="x", now=made.clock.now()
        )
        api = made.gw  # the intake's token repo is the API's
        from faxout.ops.serve import intake_of

        repo = intake_of(api).api
        assert repo is not None
        _, theirs = repo.tokens.create(other.id, ("read",), made.clock.now())
        answer = client.post(f"/account/tokens/{theirs.id}/revoke", data={"csrf": token})
        assert answer.status_code == 404
        assert repo.tokens.get(theirs.id).revoked_at is None  # type: ignore[union-attr]


def test_changing_the_password_keeps_this_browser_and_ends_the_others(tmp_path: Path) -> None:
    with console(tmp_path) as (made, client, token):
        other = TestClient(made.app, base_url="http://testserver")  # another browser
        sign_in(other)
        wrong = client.post(
            "/account/password",
            data={
                "csrf": token,
                "current": "not it",
                "new": "a new password",
                "again": "a new password",
            },
        )
        assert wrong.status_code == 400 and "This is not the account" in wrong.text
        short = client.post(
            "/account/password",
            data={"csrf": token, "current": PASSWORD, "new": "short", "again": "short"},
        )
        assert short.status_code == 400 and "at least 10 characters" in short.text
        differ = client.post(
            "/account/password",
            data={
                "csrf": token,
                "current": PASSWORD,
                "new": "a new password",
                "again": "another one!",
            },
        )
        assert "differ" in differ.text
        done = client.post(
            "/account/password",
            data={
                "csrf": token,
                "current": PASSWORD,
                "new": "a new password",
                "again": "a new password",
            },
            follow_redirects=False,
        )
        assert done.status_code == 303
        assert "Your password is changed." in client.get("/account").text
        assert other.get("/", follow_redirects=False).status_code == 303
        made.clock.advance(3)  # past the authenticator's account cache (auth.account_cache_seconds)
        legacy = client.post(
            "/faxapi.asp",
            files={"Username": (None, USER), "Password": (None, "a new password")},
        )
        assert legacy.text == "3"  # signed in with the new password; no recipient given


def test_details_are_saved_and_a_bad_address_is_named(tmp_path: Path) -> None:
    with console(tmp_path) as (made, client, token):
        bad = client.post("/account/details", data={"csrf": token, "name": "Desk", "email": "nope"})
        assert bad.status_code == 400 and "is not an email address" in bad.text
        assert 'value="Desk"' in bad.text  # what was typed is kept
        client.post(
            "/account/details",
            data={"csrf": token, "name": "Front desk", "email": "desk@example.com"},
        )
        account = made.gw.accounts.get(USER)
        assert account is not None and (account.name, account.email) == (
            "Front desk",
            "desk@example.com",
        )


def test_webhooks_are_added_watched_and_removed(tmp_path: Path) -> None:
    with console(tmp_path) as (made, client, token):
        refused = client.post(
            "/account/webhooks", data={"csrf": token, "url": "http://127.0.0.1:9/x"}
        )
        assert refused.status_code == 400
        assert 'value="http://127.0.0.1:9/x"' in refused.text
        added = client.post(
            "/account/webhooks",
            data={
                "csrf": token,
                "url": "https://hooks.example.com/fax",
                "event": ["fax.delivered", "fax.failed"],
            },
        )
        assert added.status_code == 201
        assert re.search(r'id="secret-value">whsec_', added.text)
        listed = client.get("/api/v1/webhooks", headers=made.auth).json()["items"]
        assert [(w["url"], w["events"]) for w in listed] == [
            ("https://hooks.example.com/fax", ["fax.delivered", "fax.failed"])
        ]
        hook = listed[0]["id"]
        page = client.get(f"/account/webhooks/{hook}")
        assert page.status_code == 200 and "Nothing sent to this endpoint yet." in page.text
        client.post(f"/account/webhooks/{hook}/remove", data={"csrf": token})
        assert client.get("/api/v1/webhooks", headers=made.auth).json()["items"] == []
        assert client.get(f"/account/webhooks/{hook}").status_code == 404


def test_changes_need_the_csrf_token(tmp_path: Path) -> None:
    with console(tmp_path) as (_, client, token):
        for path, data in (
            ("/account/tokens", {"scope": "read"}),
            ("/account/webhooks", {"url": "https://hooks.example.com/"}),
            ("/account/details", {"name": "x", "email": "a@example.com"}),
        ):
            answer = client.post(path, data=data)
            assert answer.status_code == 403, path
            assert csrf_of(answer.text) == token  # the error page keeps the session
