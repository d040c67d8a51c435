"""The address book's files: export as CSV, and CSV import with its report.

The records and the rules of a CSV file are ``faxout.accounts.contacts``'
(``AddressBook.import_csv``, ``export_csv``); the pages are those of
``faxout.intake.console.contacts``.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import anyio
from fastapi import APIRouter, Request
from starlette.datastructures import UploadFile
from starlette.responses import Response

from faxout.accounts.contactcsv import MAX_CSV_BYTES, decode_upload
from faxout.accounts.contacts import ContactError, ImportResult
from faxout.intake.console.contacts import book_of, run, said
from faxout.intake.console.web import ConsoleError, Viewer, ViewerDep, finish, page

router = APIRouter(include_in_schema=False)
MAX_UPLOAD_BYTES = MAX_CSV_BYTES + 64 * 1024  # the file and the form around it
MULTIPART = "multipart/form-data"


@router.get("/contacts/export.csv")
async def export(request: Request, viewer: ViewerDep) -> Response:
    """The whole address book as CSV (UTF-8 with a BOM, so spreadsheets read it right)."""
    text = await run(partial(book_of(viewer).export_csv, viewer.account.id))
    response = Response(
        ("\ufeff" + text).encode(),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="address-book.csv"'},
    )
    return finish(request, response)


# CSV import


def _import_page(request: Request, viewer: Viewer, status: int = 200, **shown: Any) -> Response:
    context: dict[str, Any] = {"error": "", "result": None, "group": ""} | shown
    return page(
        request,
        "contacts_import.html",
        viewer,
        status=status,
        title="Import contacts",
        nav="contacts",
        max_mb=MAX_CSV_BYTES // (1024 * 1024),
        **context,
    )


@router.get("/contacts/import")
async def import_form(request: Request, viewer: ViewerDep) -> Response:
    """The CSV upload form."""
    return _import_page(request, viewer)


@router.post("/contacts/import")
async def import_file(request: Request, viewer: ViewerDep) -> Response:
    """Import an uploaded CSV file; the report says what became of each line."""
    declared = request.headers.get("content-length", "")
    if not declared.isdigit():
        raise ConsoleError(411, "The upload must say its length: send the form again.")
    if int(declared) > MAX_UPLOAD_BYTES:
        too_large = f"The file is larger than {MAX_CSV_BYTES // (1024 * 1024)} MB: split it."
        return _import_page(request, viewer, 413, error=too_large)
    if not request.headers.get("content-type", "").startswith(MULTIPART):
        raise ConsoleError(415, f"This form is sent as {MULTIPART}.")
    async with request.form(max_files=1, max_fields=10, max_part_size=64 * 1024) as form:
        viewer.check(str(form.get("csrf", "")))
        group = str(form.get("group", ""))
        refresh = form.get("update") == "on"
        upload = form.get("file")
        data = await upload.read(MAX_CSV_BYTES + 1) if isinstance(upload, UploadFile) else b""
    if not data:
        return _import_page(request, viewer, 400, error="Choose a CSV file.", group=group)
    book = book_of(viewer)

    def work() -> ImportResult:
        text = decode_upload(data)
        return book.import_csv(
            viewer.account, text, viewer.now(), group=group or None, update_existing=refresh
        )

    try:
        result = await anyio.to_thread.run_sync(work)
    except ContactError as exc:
        message = said(exc) + " Nothing was imported."
        return _import_page(request, viewer, 400, error=message, group=group)
    return _import_page(request, viewer, result=result, group=group)
