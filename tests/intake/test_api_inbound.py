"""``/api/v1/inbound`` in this process: received faxes listed, filtered and paged; another
account's fax a 404; the image as a PDF of the right pages and as square-pixel PNGs; read,
archive and delete; 409 while receiving, 410 once retention removed the image."""

from __future__ import annotations

import io
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pypdfium2 as pdfium
import pytest
from PIL import Image
from sqlalchemy import func, insert, select
from starlette.testclient import TestClient

from faxout.db.engine import reading, transaction
from faxout.db.tables import inbound_mails, webhook_deliveries
from faxout.report.inboundmail import InboundMailbox
from faxout.report.mailer import MemoryMailer, Temporary
from faxout.report.settings import Report
from tests.inbound.faxfiles import fax_tiff
from tests.intake.apiapp import USER, InProcess, in_process
from tests.intake.received import OTHER, SHARED, Line, line_of, make_operator, token_for

POINTS = 72  # a PDF's unit: 1/72 in


@pytest.fixture
def made(tmp_path: Path) -> InProcess:
    return in_process(tmp_path / "gw")


@pytest.fixture
def line(made: InProcess, tmp_path: Path) -> Line:
    return line_of(made, tmp_path)


@pytest.fixture
def client(made: InProcess) -> Iterator[TestClient]:
    with TestClient(made.app) as client:
        client.headers.update(made.auth)
        yield client


def _ids(answer: Any) -> list[int]:
    assert answer.status_code == 200, answer.text
    return [item["id"] for item in answer.json()["items"]]


def test_a_received_fax_is_listed_with_its_facts(line: Line, client: TestClient) -> None:
    fax = line.receive(pages=3)
    (item,) = client.get("/api/v1/inbound").json()["items"]
    detail = client.get(f"/api/v1/inbound/{fax.id}").json()
    assert item == {k: v for k, v in detail.items() if k != "mail"}
    assert detail["mail"] == {
        "state": "pending",
        "to": [],
        "tries": 0,
        "last_error": None,
        "sent_at": None,
    }
    assert item["id"] == fax.id and item["inbox"] == USER
    assert (item["state"], item["pages"], item["resolution"]) == ("received", 3, "204x196")
    assert (item["caller"], item["caller_name"]) == ("+16505550100", "Dr Smith")
    assert (item["csid"], item["called"]) == ("Smith Clinic", USER)
    assert (item["bit_rate"], item["ecm"], item["line_seconds"]) == (14400, True, 42.5)
    assert item["read_at"] is None and item["archived_at"] is None and item["purged_at"] is None
    assert item["started_at"] and item["finished_at"] and item["size"] > 0
    base = f"/api/v1/inbound/{fax.id}"
    assert item["links"] == {
        "self": base,
        "pdf": f"{base}.pdf",
        "pages": [f"{base}/pages/{n}.png" for n in (1, 2, 3)],
    }


def test_an_account_sees_only_its_own_inboxes(
    made: InProcess, line: Line, client: TestClient
) -> None:
    mine = line.receive(USER)
    theirs = line.receive(OTHER)
    shared = line.receive(SHARED)
    assert shared.account_id is None
    assert _ids(client.get("/api/v1/inbound")) == [mine.id]
    other = token_for(made, OTHER, "read")
    assert _ids(client.get("/api/v1/inbound", headers=other)) == [theirs.id]
    for fax in (theirs, shared):
        for path in ("", ".pdf", "/pages/1.png"):
            answer = client.get(f"/api/v1/inbound/{fax.id}{path}")
            assert answer.status_code == 404, path
            assert answer.headers["content-type"] == "application/problem+json"
        for act in ("read", "archive"):
            assert client.post(f"/api/v1/inbound/{fax.id}/{act}").status_code == 404
        assert client.delete(f"/api/v1/inbound/{fax.id}").status_code == 404
    assert client.get("/api/v1/inbound/999999").status_code == 404


def test_an_operator_also_sees_the_shared_inboxes(
    made: InProcess, line: Line, client: TestClient
) -> None:
    mine, theirs, shared = line.receive(USER), line.receive(OTHER), line.receive(SHARED)
    make_operator(made)
    assert _ids(client.get("/api/v1/inbound")) == [shared.id, mine.id]  # never another's
    assert client.get(f"/api/v1/inbound/{shared.id}").json()["inbox"] == "inbox"
    assert client.get(f"/api/v1/inbound/{theirs.id}").status_code == 404
    assert _ids(client.get("/api/v1/inbound", params={"inbox": "inbox"})) == [shared.id]


def test_pages_of_the_list_follow_the_cursor(line: Line, client: TestClient) -> None:
    made = [line.receive(pages=1).id for _ in range(5)]
    seen: list[int] = []
    cursor = None
    while True:
        params = {"limit": 2} | ({"cursor": cursor} if cursor else {})
        page = client.get("/api/v1/inbound", params=params).json()
        seen += [item["id"] for item in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
        assert len(page["items"]) == 2
    assert seen == made[::-1]


def test_the_filters_narrow_the_list(made: InProcess, line: Line, client: TestClient) -> None:
    early = line.receive(caller="+14155550111", csid="ACME LEGAL", caller_name="")
    made.clock.advance(2 * 3600)
    broken = line.receive(complete=False, caller="+16505550100", csid="Smith Clinic")
    failed = line.receive(pages=0, csid="")
    assert client.post(f"/api/v1/inbound/{early.id}/read").status_code == 200
    assert client.post(f"/api/v1/inbound/{failed.id}/archive").status_code == 200
    later = (made.clock.now() - timedelta(hours=1)).isoformat()

    def ids(**params: Any) -> list[int]:
        return _ids(client.get("/api/v1/inbound", params=params))

    assert ids() == [failed.id, broken.id, early.id]
    assert ids(state="partial") == [broken.id]
    assert ids(state="failed,received") == [failed.id, early.id]
    assert ids(unread="true") == [failed.id, broken.id]
    assert ids(unread="false") == [early.id]
    assert ids(archived="false") == [broken.id, early.id]
    assert ids(archived="true") == [failed.id]
    assert ids(since=later) == [failed.id, broken.id]
    assert ids(until=later) == [early.id]
    assert ids(q="acme") == [early.id]  # the CSID, any case
    assert ids(q="415555") == [early.id]  # the caller's number
    assert ids(q="clinic") == [broken.id]
    assert ids(q="dr smith") == [broken.id]  # the caller's name
    assert ids(q="100%") == []  # a LIKE wildcard is only itself
    assert ids(inbox=USER, state="received") == [early.id]
    bad = client.get("/api/v1/inbound", params={"state": "delivered"})
    assert bad.status_code == 422 and "'delivered' is not one of" in bad.json()["detail"]
    assert client.get("/api/v1/inbound", params={"since": "2026-01-01T00:00:00"}).status_code == 422


def test_the_pdf_has_every_page_at_its_own_size(line: Line, client: TestClient) -> None:
    fax = line.receive(pages=3)
    short = line.receive(pages=1, height=600, dpi=(204, 98))
    answer = client.get(f"/api/v1/inbound/{fax.id}.pdf")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/pdf"
    assert f"received-{fax.id}.pdf" in answer.headers["content-disposition"]
    pdf = pdfium.PdfDocument(answer.content)
    assert len(pdf) == 3
    for page in pdf:
        width, height = page.get_size()
        assert width == pytest.approx(1728 / 204 * POINTS, abs=0.5)
        assert height == pytest.approx(2200 / 196 * POINTS, abs=0.5)
    (page,) = pdfium.PdfDocument(client.get(f"/api/v1/inbound/{short.id}.pdf").content)
    assert page.get_size()[1] == pytest.approx(600 / 98 * POINTS, abs=0.5)  # short stays short
    again = client.get(
        f"/api/v1/inbound/{fax.id}.pdf", headers={"If-None-Match": answer.headers["etag"]}
    )
    assert again.status_code == 304 and not again.content


def test_a_page_is_a_grey_png_with_square_pixels(line: Line, client: TestClient) -> None:
    fine = line.receive(pages=2)
    normal = line.receive(pages=1, height=1100, dpi=(204, 98))
    answer = client.get(f"/api/v1/inbound/{fine.id}/pages/2.png")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "image/png"
    assert answer.headers["cache-control"] == "private, no-cache"
    with Image.open(io.BytesIO(answer.content)) as img:
        assert img.mode == "L" and img.width == 1728
        assert img.height == round(1728 * (2200 / 196) / (1728 / 204))
        assert img.getpixel((100 + 120 + 40, 400)) < 64  # page 2 has a second bar
    with Image.open(
        io.BytesIO(client.get(f"/api/v1/inbound/{normal.id}/pages/1.png").content)
    ) as img:
        assert img.height == round(1100 * 204 / 98)  # rows twice as tall as wide: stretched
    thumb = client.get(f"/api/v1/inbound/{fine.id}/pages/1.png", params={"width": 200})
    with Image.open(io.BytesIO(thumb.content)) as img:
        assert img.size == (200, round(200 * (2200 / 196) / (1728 / 204)))
    assert thumb.headers["etag"] != answer.headers["etag"]
    held = {"If-None-Match": answer.headers["etag"]}
    assert client.get(f"/api/v1/inbound/{fine.id}/pages/2.png", headers=held).status_code == 304
    for n in (0, 3):
        missing = client.get(f"/api/v1/inbound/{fine.id}/pages/{n}.png")
        assert missing.status_code == 404 and "pages 1 to 2" in missing.json()["detail"]
    too_small = client.get(f"/api/v1/inbound/{fine.id}/pages/1.png", params={"width": 10})
    assert too_small.status_code == 422


def test_read_unread_archive_unarchive(made: InProcess, line: Line, client: TestClient) -> None:
    fax = line.receive()
    read = client.post(f"/api/v1/inbound/{fax.id}/read").json()
    assert read["read_at"] == made.clock.now().isoformat()
    made.clock.advance(300)
    again = client.post(f"/api/v1/inbound/{fax.id}/read").json()
    assert again["read_at"] == read["read_at"]  # the first reading is kept
    assert client.post(f"/api/v1/inbound/{fax.id}/unread").json()["read_at"] is None
    archived = client.post(f"/api/v1/inbound/{fax.id}/archive").json()
    assert archived["archived_at"] == made.clock.now().isoformat()
    assert client.post(f"/api/v1/inbound/{fax.id}/unarchive").json()["archived_at"] is None
    looker = token_for(made, USER, "read")
    refused = client.post(f"/api/v1/inbound/{fax.id}/read", headers=looker)
    assert refused.status_code == 403 and "'send' scope" in refused.json()["detail"]
    assert client.delete(f"/api/v1/inbound/{fax.id}", headers=looker).status_code == 403


def _count(made: InProcess, table: Any, inbound_id: int) -> int:
    with reading(made.gw.engine) as conn:
        return int(
            conn.execute(
                select(func.count()).select_from(table).where(table.c.inbound_id == inbound_id)
            ).scalar_one()
        )


def test_delete_removes_the_fax_its_mail_events_and_image(
    made: InProcess, line: Line, client: TestClient
) -> None:
    fax = line.receive()
    now = made.clock.now()
    hook, _ = made.app.state.intake.api.webhooks.add(USER, "https://example.com/h", "*", now)
    with transaction(made.gw.engine) as conn:
        conn.execute(
            insert(webhook_deliveries).values(
                webhook_id=hook.id, msg_id="msg_x", event="fax.received", inbound_id=fax.id,
                body="{}", state="pending", tries=0, created_at=now, updated_at=now,
            )
        )  # fmt: skip
    assert _count(made, inbound_mails, fax.id) == 1
    assert fax.blob_key is not None and made.gw.store.exists(fax.blob_key)
    assert client.delete(f"/api/v1/inbound/{fax.id}").status_code == 204
    assert client.get(f"/api/v1/inbound/{fax.id}").status_code == 404
    assert client.delete(f"/api/v1/inbound/{fax.id}").status_code == 404
    assert _count(made, inbound_mails, fax.id) == _count(made, webhook_deliveries, fax.id) == 0
    assert not made.gw.store.exists(fax.blob_key)


def test_an_image_two_faxes_share_stays_until_the_last_goes(
    made: InProcess, line: Line, client: TestClient, tmp_path: Path
) -> None:
    same = fax_tiff(tmp_path / "same.tif", 2)
    first, second = line.receive(tiff=same), line.receive(tiff=same)
    assert first.blob_key == second.blob_key is not None
    assert client.delete(f"/api/v1/inbound/{first.id}").status_code == 204
    assert made.gw.store.exists(second.blob_key)
    assert client.get(f"/api/v1/inbound/{second.id}.pdf").status_code == 200
    assert client.delete(f"/api/v1/inbound/{second.id}").status_code == 204
    assert not made.gw.store.exists(second.blob_key)


def test_a_fax_still_coming_in_has_no_image_and_is_not_deleted(
    line: Line, client: TestClient
) -> None:
    reception = line.begin()
    item = client.get(f"/api/v1/inbound/{reception.inbound_id}").json()
    assert item["state"] == "receiving" and item["links"]["pdf"] is None
    assert item["mail"] is None
    pdf = client.get(f"/api/v1/inbound/{reception.inbound_id}.pdf")
    assert pdf.status_code == 409 and "still being received" in pdf.json()["detail"]
    assert pdf.headers["retry-after"] == "30"
    refused = client.delete(f"/api/v1/inbound/{reception.inbound_id}")
    assert refused.status_code == 409 and "still being received" in refused.json()["detail"]


def test_a_failed_reception_has_no_pages(line: Line, client: TestClient) -> None:
    fax = line.receive(pages=0)
    item = client.get(f"/api/v1/inbound/{fax.id}").json()
    assert (item["state"], item["pages"], item["links"]["pages"]) == ("failed", 0, [])
    pdf = client.get(f"/api/v1/inbound/{fax.id}.pdf")
    assert pdf.status_code == 404 and "none arrived" in pdf.json()["detail"]


def test_a_purged_image_is_gone_and_the_facts_stay(line: Line, client: TestClient) -> None:
    fax = line.receive()
    line.purge(fax)
    item = client.get(f"/api/v1/inbound/{fax.id}").json()
    assert item["purged_at"] and item["pages"] == 2
    assert item["links"]["pdf"] is None and item["links"]["pages"] == []
    for path in (".pdf", "/pages/1.png"):
        gone = client.get(f"/api/v1/inbound/{fax.id}{path}")
        assert gone.status_code == 410, path
        assert gone.headers["content-type"] == "application/problem+json"
        assert "removed by retention" in gone.json()["detail"]
    assert client.delete(f"/api/v1/inbound/{fax.id}").status_code == 204


def test_the_fax_says_where_its_mail_went(made: InProcess, line: Line, client: TestClient) -> None:
    fax = line.receive(pages=1)
    mailer = MemoryMailer(results=[Temporary("451 4.3.0 try again later", 451)])
    mailbox = InboundMailbox(made.gw.engine, made.gw.store, Report(), mailer, clock=made.clock)
    assert mailbox.deliver_pending(made.clock.now()).deferred == 1
    mail = client.get(f"/api/v1/inbound/{fax.id}").json()["mail"]
    assert (mail["state"], mail["tries"], mail["last_error"]) == (
        "pending",
        1,
        "451 4.3.0 try again later",
    )
    made.clock.advance(3600)
    assert mailbox.deliver_pending(made.clock.now()).sent == 1
    mail = client.get(f"/api/v1/inbound/{fax.id}").json()["mail"]
    assert mail["state"] == "sent" and mail["sent_at"] and mail["last_error"] is None
    [envelope] = mailer.sent
    assert mail["to"] == list(envelope.recipients) and len(envelope.recipients) == 1
