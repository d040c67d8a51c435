"""What a program sees after retention, in this process with a frozen clock: a received fax's
image answers 410 and its facts 200; a sent fax's pages answer 410, its facts 200 (with
``purged_at``), and it can be neither resent nor retried."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import update
from starlette.testclient import TestClient

from faxout.db.engine import transaction
from faxout.db.tables import jobs, submissions
from faxout.inbound.retention import Retention
from tests.intake.apiapp import InProcess, in_process
from tests.intake.received import Line, line_of

DAY = 86400.0


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


def _retention(made: InProcess) -> Retention:
    gw = made.gw
    return Retention(
        gw.engine, gw.store, made.clock, default_days=gw.settings.inbound.retention_days
    )


def test_a_received_fax_past_its_days_answers_410_for_its_image_only(
    made: InProcess, line: Line, client: TestClient
) -> None:
    old = line.receive(pages=2)
    made.clock.advance(2 * DAY)
    young = line.receive()
    made.clock.advance(29 * DAY)
    assert client.get(f"/api/v1/inbound/{old.id}.pdf").status_code == 200

    assert _retention(made).run().received == 1

    facts = client.get(f"/api/v1/inbound/{old.id}")
    assert facts.status_code == 200
    item = facts.json()
    assert item["purged_at"] == made.clock.now().isoformat()
    assert (item["pages"], item["state"], item["caller"]) == (2, "received", "+16505550100")
    assert item["links"]["pdf"] is None and item["links"]["pages"] == []
    for path in (".pdf", "/pages/1.png"):
        gone = client.get(f"/api/v1/inbound/{old.id}{path}")
        assert gone.status_code == 410, path
        assert "removed by retention" in gone.json()["detail"]
    assert client.get(f"/api/v1/inbound/{young.id}.pdf").status_code == 200
    listed = {i["id"]: i["purged_at"] for i in client.get("/api/v1/inbound").json()["items"]}
    assert listed == {old.id: item["purged_at"], young.id: None}


def _sent_long_ago(made: InProcess, client: TestClient) -> tuple[int, list[int]]:
    """A fax to two recipients, delivered to one and failed for the other, 31 days ago."""
    body = {
        "to": [{"number": "+15550123456"}, {"number": "+15550123457"}],
        "documents": [{"filename": "a.txt", "content_base64": base64.b64encode(b"hello").decode()}],
    }
    answer = client.post("/api/v1/faxes", json=body)
    assert answer.status_code == 201, answer.text
    fax = answer.json()
    ids = [r["id"] for r in fax["recipients"]]
    upload = made.gw.store.new_upload()
    upload.write(b"the rendered pages")
    rendered = upload.commit()
    now = made.clock.now()
    with transaction(made.gw.engine) as conn:
        conn.execute(
            update(submissions)
            .where(submissions.c.id == fax["id"])
            .values(state="done", rendered_key=rendered, pages=1)
        )
        for job_id, state in zip(ids, ("done", "failed"), strict=True):
            conn.execute(
                update(jobs).where(jobs.c.id == job_id).values(state=state, finished_at=now)
            )
    made.clock.advance(31 * DAY)
    return fax["id"], ids


def test_a_sent_fax_past_its_days_keeps_its_facts_and_loses_its_pages(
    made: InProcess, client: TestClient
) -> None:
    fid, (_, failed) = _sent_long_ago(made, client)
    assert client.get(f"/api/v1/faxes/{fid}").json()["purged_at"] is None

    assert _retention(made).run().sent == 1

    facts = client.get(f"/api/v1/faxes/{fid}")
    assert facts.status_code == 200
    fax = facts.json()
    assert fax["purged_at"] == made.clock.now().isoformat()
    assert [r["state"] for r in fax["recipients"]] == ["delivered", "failed"]
    assert [(d["filename"], d["size"]) for d in fax["documents"]] == [("a.txt", 5)]
    for path in ("/pages/1.png", "/fax.pdf"):
        gone = client.get(f"/api/v1/faxes/{fid}{path}")
        assert gone.status_code == 410, path
        assert "removed by retention" in gone.json()["detail"]
    resent = client.post(f"/api/v1/faxes/{fid}/resend", json={"to": [{"number": "+15550123458"}]})
    assert resent.status_code == 422 and "no longer stored" in resent.json()["detail"]
    retried = client.post(f"/api/v1/faxes/{fid}/recipients/{failed}/retry")
    assert retried.status_code == 409 and "removed by retention" in retried.json()["detail"]
