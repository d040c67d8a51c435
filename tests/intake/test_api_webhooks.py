"""Webhooks through a real embedded gateway: endpoints added with the API and `faxout webhook`,
faxes sent with the FaxOut endpoint onto the simulated line, every state change heard by a real
HTTP endpoint and verified with the Standard Webhooks reference library."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from standardwebhooks import Webhook

from tests.intake.test_api import DESK, NOT_FAX, PASSWORD, api, fax, token, until
from tests.server import Server, run_cli, start_server
from tests.webhooks.receiver import Got, Receiver, receiver

USER, OTHER = "16505551234", "16505559999"


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(
        tmp_path_factory.mktemp("webhooks"),
        FAXOUT_DEMO_ACCOUNT="false",
        FAXOUT_WEBHOOKS__ALLOW_PRIVATE="true",  # the test endpoint listens on 127.0.0.1
        FAXOUT_WEBHOOKS__INTERVAL="0.5",
    )
    try:
        srv.add_user(USER, PASSWORD, "--email", "a@example.com", "--name", "Hooks")
        srv.add_user(OTHER, PASSWORD, "--email", "o@example.com")
        yield srv
    finally:
        srv.kill()


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


def post(gw: Server, secret: str, path: str, body: Any) -> httpx.Response:
    return httpx.post(
        f"{gw.url}/api/v1{path}",
        headers={"Authorization": f"Bearer {secret}"},
        json=body,
        timeout=30,
    )


def events_of(got: list[Got], fax_id: int, secret: str) -> list[dict[str, Any]]:
    """The verified payloads of one fax (the reference library raises on a bad signature)."""
    payloads = [Webhook(secret).verify(g.body, g.headers) for g in got]
    return [p for p in payloads if p["data"]["fax_id"] == fax_id]


def wait_for_event(hook: Receiver, secret: str, fax_id: int, kind: str) -> list[dict[str, Any]]:
    for count in range(1, 100):
        seen = events_of(hook.wait_for(count), fax_id, secret)
        if any(e["type"] == kind for e in seen):
            return seen
    raise AssertionError(f"no {kind} for fax {fax_id}")


def test_a_program_hears_every_step_of_its_fax(gw: Server, hook: Receiver) -> None:
    secret = token(gw)
    made = post(gw, secret, "/webhooks", {"url": hook.url})
    assert made.status_code == 201, made.text
    endpoint = made.json()
    whsec = endpoint.pop("secret")
    assert whsec.startswith("whsec_") and endpoint["enabled"] is True
    listed = api(gw, secret, "GET", "/webhooks").json()["items"]
    assert endpoint in listed and all("secret" not in e for e in listed)  # shown once

    fid = fax(gw, f"{DESK}|Desk")
    seen = wait_for_event(hook, whsec, fid, "fax.delivered")
    kinds = [e["type"] for e in seen]
    assert kinds[:3] == ["fax.queued", "fax.rendered", "fax.dialing"], kinds
    assert kinds[-1] == "fax.delivered"
    pages = [e["data"]["page"] for e in seen if e["type"] == "fax.page.confirmed"]
    assert pages == [1, 2], kinds  # the cover page and the text, each as it was confirmed
    delivered = seen[-1]["data"]["recipient"]
    assert (delivered["number"], delivered["name"]) == (DESK, "Desk")
    assert delivered["pages_confirmed"] == delivered["pages_total"] == 2

    shown = until(
        lambda: api(gw, secret, "GET", f"/faxes/{fid}/deliveries").json(),
        lambda page: page["items"] and all(d["state"] == "sent" for d in page["items"]),
    )
    assert [d["event"] for d in reversed(shown["items"])] == kinds  # newest first
    first = shown["items"][-1]
    assert first["payload"]["type"] == "fax.queued" and first["last_status"] == 200
    ids = {g.headers["webhook-id"] for g in hook.got}
    assert {d["webhook_msg_id"] for d in shown["items"]} <= ids


def test_a_failed_fax_is_heard_as_failed_with_its_cause(gw: Server, hook: Receiver) -> None:
    secret = token(gw)
    made = post(gw, secret, "/webhooks", {"url": hook.url, "events": ["fax.failed"]}).json()
    fid = fax(gw, NOT_FAX)
    (failed,) = wait_for_event(hook, made["secret"], fid, "fax.failed")
    assert "fax machine" in failed["data"]["recipient"]["reason"]


def test_endpoints_are_the_accounts_own(gw: Server, hook: Receiver) -> None:
    mine, theirs = token(gw), token(gw, OTHER)
    made = post(gw, mine, "/webhooks", {"url": hook.url}).json()
    assert api(gw, theirs, "GET", f"/webhooks/{made['id']}").status_code == 404
    assert api(gw, theirs, "DELETE", f"/webhooks/{made['id']}").status_code == 404
    assert made not in api(gw, theirs, "GET", "/webhooks").json()["items"]
    assert api(gw, theirs, "GET", f"/webhooks/{made['id']}/deliveries").status_code == 404
    assert api(gw, mine, "DELETE", f"/webhooks/{made['id']}").status_code == 204
    assert api(gw, mine, "GET", f"/webhooks/{made['id']}").status_code == 404


def test_bad_endpoints_and_missing_scopes_are_problems(gw: Server) -> None:
    secret, reader = token(gw), token(gw, USER, "--scope", "read")
    for body, said in [
        ({"url": "ftp://example.com/"}, "https://"),
        ({"url": "https://example.com/", "events": ["fax.sent"]}, "unknown event fax.sent"),
        ({"url": "https://example.com/", "color": "red"}, "color"),
        ({}, "url"),
    ]:
        bad = post(gw, secret, "/webhooks", body)
        assert bad.status_code == 422, bad.text
        assert bad.headers["content-type"] == "application/problem+json"
        assert said in bad.json()["detail"]
    refused = post(gw, reader, "/webhooks", {"url": "https://example.com/"})
    assert refused.status_code == 403 and "send" in refused.json()["detail"]
    anonymous = httpx.get(f"{gw.url}/api/v1/webhooks", timeout=10)
    assert anonymous.status_code == 401


def test_the_cli_adds_lists_and_removes(gw: Server) -> None:
    added = gw.cli(
        "webhook", "add", USER, "https://hooks.example.com/fax", "--events", "fax.failed"
    )
    assert added.returncode == 0, added.stderr
    secret = added.stdout.strip().splitlines()[-1].split()[-1]
    assert secret.startswith("whsec_")
    hook_id = added.stdout.split()[1]
    listed = json.loads(gw.cli("webhook", "list", USER, "--json").stdout)
    mine = next(e for e in listed if str(e["id"]) == hook_id)
    assert (mine["url"], mine["events"]) == ("https://hooks.example.com/fax", "fax.failed")
    assert secret not in gw.cli("webhook", "list").stdout
    assert gw.cli("webhook", "remove", hook_id).returncode == 0
    gone = gw.cli("webhook", "remove", hook_id)
    assert gone.returncode == 1 and f"there is no webhook {hook_id}" in gone.stderr


def test_the_cli_refuses_an_internal_address_unless_allowed(gw: Server) -> None:
    strict = run_cli(
        gw.data_dir, "webhook", "add", USER, "http://169.254.169.254/", **{
            **gw.env, "FAXOUT_WEBHOOKS__ALLOW_PRIVATE": "false",
        }
    )  # fmt: skip
    assert strict.returncode == 1
    assert "not a public address" in strict.stderr and "allow_private" in strict.stderr
