"""The inbox and a received fax's page: unread faxes bold, filters and pages, the fax's facts
and page images, the PDF, mark unread, archive, delete, and what another account may not see."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image
from starlette.testclient import TestClient

from faxout.intake.console import inbox
from faxout.report.inboundmail import InboundMailbox
from faxout.report.mailer import MemoryMailer
from faxout.report.settings import Report
from tests.intake.apiapp import InProcess
from tests.intake.console.signedin import console, sign_in
from tests.intake.received import OTHER, SHARED, Line, line_of, make_operator


@pytest.fixture
def signed(tmp_path: Path) -> Iterator[tuple[InProcess, TestClient, str, Line]]:
    with console(tmp_path / "gw") as (made, client, token):
        yield made, client, token, line_of(made, tmp_path)


def _rows(html: str) -> list[int]:
    return [int(part.split('"', 1)[0]) for part in html.split('data-inbound="')[1:]]


def _unread(html: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-inbound="(\d+)"[^>]*class="unread"', html)]


def test_the_inbox_lists_received_faxes_unread_in_bold(
    signed: tuple[InProcess, TestClient, str, Line],
) -> None:
    _made, client, _token, line = signed
    first = line.receive(pages=3, caller_name="", csid="ACME LEGAL")
    second = line.receive(pages=1, complete=False)
    page = client.get("/inbox")
    assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
    html = page.text
    assert 'href="/inbox" aria-current="page">Inbox<' in html
    assert _rows(html) == [second.id, first.id] == _unread(html)
    assert "Dr Smith" in html and "+1 650-555-0100" in html and "CSID ACME LEGAL" in html
    assert 'class="badge warn">Partly received<' in html and ">Received<" in html
    assert f'href="/inbox/{first.id}"' in html
    client.get(f"/inbox/{first.id}")  # opening it reads it
    assert _unread(client.get("/inbox").text) == [second.id]


def test_the_filters_and_the_archive(signed: tuple[InProcess, TestClient, str, Line]) -> None:
    _made, client, token, line = signed
    kept = line.receive(csid="ACME LEGAL")
    done = line.receive(pages=0)
    client.get(f"/inbox/{kept.id}")
    moved = client.post(f"/inbox/{done.id}/archive", data={"csrf": token}, follow_redirects=False)
    assert moved.status_code == 303 and moved.headers["location"] == "/inbox"
    assert _rows(client.get("/inbox").text) == [kept.id]  # archived ones are left out
    assert _rows(client.get("/inbox?show=archived").text) == [done.id]
    assert _rows(client.get("/inbox?show=all").text) == [done.id, kept.id]
    assert _rows(client.get("/inbox?show=all&unread=1").text) == [done.id]
    assert _rows(client.get("/inbox?show=all&state=failed").text) == [done.id]
    assert _rows(client.get("/inbox?q=acme").text) == [kept.id]
    assert _rows(client.get("/inbox?state=nonsense&show=bogus").text) == [kept.id]  # ignored
    assert "No received fax matches" in client.get("/inbox?q=nobody").text


def test_older_faxes_are_a_page_further(
    signed: tuple[InProcess, TestClient, str, Line], monkeypatch: pytest.MonkeyPatch
) -> None:
    _made, client, _token, line = signed
    monkeypatch.setattr(inbox, "PAGE_SIZE", 2)
    ids = [line.receive(pages=1).id for _ in range(3)]
    html = client.get("/inbox").text
    assert _rows(html) == [ids[2], ids[1]]
    older = re.search(r'href="([^"]+)" rel="next"', html)
    assert older is not None
    assert _rows(client.get(older.group(1).replace("&amp;", "&")).text) == [ids[0]]


def test_the_fax_page_shows_its_facts_pages_and_pdf(
    signed: tuple[InProcess, TestClient, str, Line],
) -> None:
    _made, client, _token, line = signed
    fax = line.receive(pages=2)
    page = client.get(f"/inbox/{fax.id}")
    assert page.status_code == 200, page.text
    html = page.text
    assert f"<h1>Received fax {fax.id}</h1>" in html
    assert "Smith Clinic" in html and "Dr Smith" in html and "14,400 bit/s" in html
    assert "204x196 dpi" in html and "42 s" in html
    assert 'alt="Page 2 of 2"' in html and f'href="/inbox/{fax.id}/fax.pdf"' in html
    assert f'action="/inbox/{fax.id}/unread"' in html and f'action="/inbox/{fax.id}/delete"' in html
    png = client.get(f"/inbox/{fax.id}/pages/1.png?width=180")
    assert png.status_code == 200 and png.headers["content-type"] == "image/png"
    with Image.open(io.BytesIO(png.content)) as img:
        assert img.mode == "L" and img.width == 180
    held = {"If-None-Match": png.headers["etag"]}
    assert client.get(f"/inbox/{fax.id}/pages/1.png?width=180", headers=held).status_code == 304
    pdf = client.get(f"/inbox/{fax.id}/fax.pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert client.get(f"/inbox/{fax.id}/pages/3.png").status_code == 404
    assert client.get(f"/inbox/{fax.id}/pages/1.png?width=5").status_code == 404
    assert 'data-mail-state="pending">Waiting for the mail relay' in html


def test_the_fax_page_says_where_its_mail_went(
    signed: tuple[InProcess, TestClient, str, Line],
) -> None:
    made, client, _token, line = signed
    fax = line.receive(pages=1)
    mailer = MemoryMailer()
    mailbox = InboundMailbox(made.gw.engine, made.gw.store, Report(), mailer, clock=made.clock)
    assert mailbox.deliver_pending(made.clock.now()).sent == 1
    html = client.get(f"/inbox/{fax.id}").text
    [envelope] = mailer.sent
    assert f'data-mail-state="sent">Sent to {envelope.recipients[0]}' in html


def test_mark_unread_goes_back_to_the_inbox(
    signed: tuple[InProcess, TestClient, str, Line],
) -> None:
    _made, client, token, line = signed
    fax = line.receive()
    client.get(f"/inbox/{fax.id}")
    back = client.post(f"/inbox/{fax.id}/unread", data={"csrf": token}, follow_redirects=False)
    assert back.status_code == 303 and back.headers["location"] == "/inbox"
    html = client.get("/inbox").text
    assert _unread(html) == [fax.id] and f"Fax {fax.id} is unread again." in html
    refused = client.post(f"/inbox/{fax.id}/unread", data={"csrf": "forged"})
    assert refused.status_code == 403
    cross = client.post(
        f"/inbox/{fax.id}/archive", data={"csrf": token}, headers={"Origin": "https://evil.test"}
    )
    assert cross.status_code == 403 and "another site" in cross.text
    assert client.post(f"/inbox/{fax.id}/shred", data={"csrf": token}).status_code == 404


def test_delete_removes_the_fax(signed: tuple[InProcess, TestClient, str, Line]) -> None:
    made, client, token, line = signed
    fax = line.receive()
    gone = client.post(f"/inbox/{fax.id}/delete", data={"csrf": token}, follow_redirects=False)
    assert gone.status_code == 303 and gone.headers["location"] == "/inbox"
    assert f"Received fax {fax.id} was deleted." in client.get("/inbox").text
    assert client.get(f"/inbox/{fax.id}").status_code == 404
    assert fax.blob_key is not None and not made.gw.store.exists(fax.blob_key)
    coming = line.begin()
    html = client.get(f"/inbox/{coming.inbound_id}").text
    assert "still being received" in html and "/delete" not in html
    refused = client.post(
        f"/inbox/{coming.inbound_id}/delete", data={"csrf": token}, follow_redirects=False
    )
    assert refused.status_code == 303
    assert refused.headers["location"] == f"/inbox/{coming.inbound_id}"
    assert (
        "still coming in: delete it once the call ends"
        in client.get(refused.headers["location"]).text
    )


def test_a_purged_fax_keeps_its_page_without_images(
    signed: tuple[InProcess, TestClient, str, Line],
) -> None:
    _made, client, _token, line = signed
    fax = line.receive()
    line.purge(fax)
    html = client.get(f"/inbox/{fax.id}").text
    assert "removed by retention" in html and "Download PDF" not in html
    assert client.get(f"/inbox/{fax.id}/fax.pdf").status_code == 410


def test_another_accounts_and_shared_faxes_are_not_there(
    signed: tuple[InProcess, TestClient, str, Line],
) -> None:
    made, client, token, line = signed
    theirs, shared = line.receive(OTHER), line.receive(SHARED)
    assert _rows(client.get("/inbox").text) == []
    for fax in (theirs, shared):
        assert client.get(f"/inbox/{fax.id}").status_code == 404
        assert client.get(f"/inbox/{fax.id}/fax.pdf").status_code == 404
        assert client.get(f"/inbox/{fax.id}/pages/1.png").status_code == 404
        denied = client.post(f"/inbox/{fax.id}/delete", data={"csrf": token})
        assert denied.status_code == 404
    make_operator(made)
    html = client.get("/inbox").text
    assert _rows(html) == [shared.id] and 'id="inbox" name="inbox"' in html
    assert client.get(f"/inbox/{shared.id}").status_code == 200
    assert client.get(f"/inbox/{theirs.id}").status_code == 404
    with TestClient(made.app, base_url="http://testserver") as other:
        sign_in(other, OTHER)
        assert _rows(other.get("/inbox").text) == [theirs.id]
