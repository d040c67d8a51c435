"""The outbox: the account's faxes with each recipient's state, filters, search, live rows."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from faxout.intake.console import outbox
from tests.intake.apiapp import InProcess
from tests.intake.console.signedin import console, sign_in


def _fax(
    made: InProcess, client: TestClient, *to: tuple[str, str], filename: str = "memo.txt"
) -> int:
    body = {
        "to": [{"number": n, "name": name} for n, name in to],
        "documents": [
            {"filename": filename, "content_base64": base64.b64encode(b"Hello\n").decode()}
        ],
    }
    answer = client.post("/api/v1/faxes", json=body, headers=made.auth)
    assert answer.status_code == 201, answer.text
    return int(answer.json()["id"])


def _rows(html: str) -> list[str]:
    return [part.split('"', 1)[0] for part in html.split('data-fax="')[1:]]


def test_the_outbox_shows_each_fax_and_recipient(tmp_path: Path) -> None:
    with console(tmp_path) as (made, client, _token):
        first = _fax(made, client, ("16505550100", "Front desk"), ("16505550101", ""))
        second = _fax(made, client, ("16505550102", "Lab"), filename="results.pdf")
        page = client.get("/").text
        assert _rows(page) == [str(second), str(first)]
        assert "Front desk" in page and "+1 650-555-0101" in page
        assert "memo.txt" in page and "results.pdf" in page
        assert page.count('class="badge wait">Queued<') >= 3
        assert f'href="/faxes/{first}"' in page


@pytest.mark.parametrize(
    ("q", "found"),
    [
        ("front", [0]),
        ("+1 (650) 555-0101", [0]),
        ("results", [1]),
        ("5550102", [1]),
        ("nobody", []),
    ],
)
def test_search_finds_by_name_number_or_document(tmp_path: Path, q: str, found: list[int]) -> None:
    with console(tmp_path) as (made, client, _token):
        ids = [
            _fax(made, client, ("16505550100", "Front desk"), ("16505550101", "")),
            _fax(made, client, ("16505550102", "Lab"), filename="results.pdf"),
        ]
        page = client.get("/", params={"q": q}).text
        assert sorted(_rows(page)) == sorted(str(ids[i]) for i in found)
        if not found:
            assert "No fax matches these filters." in page


def test_state_filter_and_a_bad_label(tmp_path: Path) -> None:
    with console(tmp_path) as (made, client, _token):
        fax = _fax(made, client, ("16505550100", ""))
        assert _rows(client.get("/", params={"state": "queued"}).text) == [str(fax)]
        assert _rows(client.get("/", params={"state": "delivered"}).text) == []
        bad = client.get("/", params={"label": "no colon"})
        assert bad.status_code == 400 and "is not key:value" in bad.text


def test_the_live_rows_are_the_pages_rows(tmp_path: Path) -> None:
    with console(tmp_path) as (made, client, _token):
        page = client.get("/").text
        assert 'data-live="/outbox/rows?"' in page
        fax = _fax(made, client, ("16505550100", "Desk"))
        rows = client.get("/outbox/rows", headers={"X-Requested-With": "fetch"}).text
        assert _rows(rows) == [str(fax)] and "<html" not in rows
        made.clock.advance(1)
        client.post(f"/api/v1/faxes/{fax}/cancel", headers=made.auth)
        rows = client.get("/outbox/rows").text
        assert ">Canceled<" in rows


def test_older_faxes_are_a_link_away(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox, "PAGE_SIZE", 2)
    with console(tmp_path) as (made, client, _token):
        ids = [_fax(made, client, ("16505550100", "")) for _ in range(3)]
        first = client.get("/").text
        assert _rows(first) == [str(ids[2]), str(ids[1])]
        assert f'href="/?before={ids[1]}"' in first
        older = client.get("/", params={"before": ids[1]}).text
        assert _rows(older) == [str(ids[0])]
        assert "data-live" not in older  # an older page stays put


def test_another_accounts_faxes_are_not_shown(tmp_path: Path) -> None:
    with console(tmp_path) as (made, client, _token):
        _fax(made, client, ("16505550100", "Mine"))
        made.gw.accounts.add(
            "16505559999", email="b@example.com", password_hash=made.gw.passwords.hash("other pass"),
            now=made.clock.now(),
        )  # fmt: skip
        client.cookies.clear()
        sign_in(client, "16505559999", "other pass")
        page = client.get("/").text
        assert _rows(page) == [] and "No faxes yet." in page
