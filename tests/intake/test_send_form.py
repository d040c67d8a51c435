"""The console's send form parser: the API's multipart parser with the form's rules."""

from __future__ import annotations

from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse
from fastapi.testclient import TestClient
from starlette.requests import Request

from faxout.blobs.memory import MemoryBlobStore
from faxout.intake.console.sendform import FormError, read_send_form
from faxout.intake.settings import Limits
from tests.intake.sendfixtures import BOUNDARY, CTYPE, form_body

LIMITS = Limits(max_field_bytes=1024, max_body_bytes=64 * 1024, max_parts=8)


def _client() -> tuple[TestClient, MemoryBlobStore]:
    store = MemoryBlobStore()
    app = FastAPI()

    @app.post("/send")
    async def send(request: Request) -> JSONResponse:
        try:
            form = await read_send_form(request, store, LIMITS)
        except FormError as exc:
            return JSONResponse({"field": exc.field, "detail": exc.detail}, exc.status)
        docs = [[d.filename, d.content_type, d.upload.size] for d in form.documents]
        form.discard()
        return JSONResponse({"values": form.values, "documents": docs})

    return TestClient(app), store


def _post(body: bytes, ctype: str = CTYPE) -> Any:
    client, _ = _client()
    return client.post("/send", content=body, headers={"content-type": ctype})


def test_fields_and_documents_are_read() -> None:
    body = form_body(
        {"recipients": "Ada <+1 650 555 0100>\r\n+49 30 1234567", "cover_page": "Modern",
         "time_zone": "Europe/Berlin", "csrf": "t"},
        [("a.txt", b"hello", "text/plain"), ("b.pdf", b"%PDF-1.4", "application/pdf")],
    )  # fmt: skip
    got = _post(body)
    assert got.status_code == 200
    assert got.json()["values"]["recipients"] == "Ada <+1 650 555 0100>\r\n+49 30 1234567"
    assert got.json()["values"]["time_zone"] == "Europe/Berlin"
    assert got.json()["documents"] == [["a.txt", "text/plain", 5], ["b.pdf", "application/pdf", 8]]


def test_an_empty_file_input_is_no_document() -> None:
    got = _post(form_body({"recipients": "+16505550100"}, empty_input=True))
    assert got.status_code == 200 and got.json()["documents"] == []


def test_an_empty_chosen_file_is_refused_by_name() -> None:
    got = _post(form_body({}, [("empty.pdf", b"", "application/pdf")]))
    assert got.status_code == 422
    assert got.json() == {
        "field": "document",
        "detail": "document 'empty.pdf': the document is empty",
    }


@pytest.mark.parametrize(
    ("body", "status", "field", "says"),
    [
        (form_body({"recipients": "x" * 1025}), 413, "recipients", "at most 1024 bytes"),
        (form_body({"bogus": "1"}), 422, "", "a part 'bogus': only recipients, cover_page"),
        (form_body({"csrf": "?"}).replace(b"?", b"\xff"), 400, "csrf", "not UTF-8"),
    ],
)
def test_refusals_name_the_field(body: bytes, status: int, field: str, says: str) -> None:
    got = _post(body)
    assert got.status_code == status
    assert got.json()["field"] == field and says in got.json()["detail"]


def test_a_field_given_twice_is_refused() -> None:
    once = form_body({"resolution": "low"})
    parts = once[: once.rindex(b"--" + BOUNDARY.encode() + b"--")]  # without its closing line
    got = _post(parts + form_body({"resolution": "high"}))
    assert got.status_code == 422 and got.json()["field"] == "resolution"
    assert "more than one resolution part" in got.json()["detail"]


def test_more_parts_than_the_limit_are_refused() -> None:
    got = _post(form_body({}, [(f"{n}.txt", b"x", "text/plain") for n in range(9)]))
    assert got.status_code == 422 and "more than 8 parts" in got.json()["detail"]


def test_a_body_over_the_limit_is_refused() -> None:
    got = _post(form_body({}, [("big.txt", b"x" * 70_000, "text/plain")]))
    assert got.status_code == 413 and "at most 65536 bytes" in got.json()["detail"]


def test_a_form_not_multipart_is_refused() -> None:
    got = _post(b"recipients=1", "application/x-www-form-urlencoded")
    assert got.status_code == 400 and "multipart/form-data" in got.json()["detail"]
