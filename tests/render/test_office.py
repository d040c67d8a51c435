"""Office documents through LibreOffice: a warm instance per process, cold soffice fallback."""

from __future__ import annotations

import http.server
import os
import signal
import threading
import time
import zipfile
from pathlib import Path
from typing import ClassVar

import pytest
from PIL import Image

from faxout.render import RefusalReason, RenderOptions, RenderPool, office_warm, render_document
from tests.procs import descendants, is_alive, process_name
from tests.render.fax import DATA, read_fax


@pytest.mark.slow
@pytest.mark.parametrize(
    ("name", "pages"),
    [
        ("letter.docx", 2),
        ("letter.doc", 2),
        ("letter.odt", 2),
        ("python-docx-test.docx", 1),
        ("libreoffice-Modern_business_letter_serif.ott", 1),
    ],
)
def test_office_documents_render(tmp_path: Path, name: str, pages: int) -> None:
    out = tmp_path / "out.tif"
    result = render_document(DATA / name, out)
    assert result.ok, result.refusal
    decoded = read_fax(out)
    assert result.pages == len(decoded) == pages
    assert all(p.width == 1728 and p.height == 2292 and p.black.any() for p in decoded)


@pytest.mark.slow
def test_office_file_with_a_false_name_is_still_converted(tmp_path: Path) -> None:
    liar = tmp_path / "scan.jpg"
    liar.write_bytes((DATA / "letter.docx").read_bytes())
    result = render_document(liar, tmp_path / "out.tif")
    assert result.ok and result.pages == 2


@pytest.mark.slow
def test_damaged_office_file_is_refused(tmp_path: Path) -> None:
    data = (DATA / "letter.doc").read_bytes()
    broken = tmp_path / "broken.doc"
    broken.write_bytes(data[:1024] + bytes(4096))  # an OLE2 header with nothing behind it
    result = render_document(broken, tmp_path / "out.tif", RenderOptions(timeout_s=60))
    assert result.refusal is not None
    assert result.refusal.reason in (RefusalReason.CORRUPT, RefusalReason.EMPTY)


@pytest.mark.slow
def test_cold_soffice_is_the_fallback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(office_warm, "instance", lambda: None)  # as without python3-uno
    result = render_document(DATA / "python-docx-test.docx", tmp_path / "out.tif")
    assert result.ok and result.pages == 1


@pytest.mark.slow
def test_warm_office_restarts_after_losing_its_soffice(tmp_path: Path) -> None:
    warm = office_warm.instance()
    assert warm is not None  # python3-uno is a declared dependency
    assert render_document(DATA / "python-docx-test.docx", tmp_path / "a.tif").ok
    assert warm._bridge is not None
    (soffice,) = [p for p in descendants(warm._bridge.pid) if process_name(p) == "soffice.bin"]
    os.kill(soffice, signal.SIGKILL)  # LibreOffice dies inside its jail
    result = render_document(DATA / "letter.odt", tmp_path / "b.tif")
    assert result.ok and result.pages == 2


@pytest.mark.slow
def test_rtf_renders(tmp_path: Path) -> None:
    source = tmp_path / "memo"
    source.write_bytes(
        rb"{\rtf1\ansi{\fonttbl{\f0 Liberation Serif;}}\f0\fs24 Memo: call back.\par}"
    )
    result = render_document(source, tmp_path / "out.tif")
    assert result.ok and result.pages == 1


def test_missing_converter_is_a_refusal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("faxout.render.office.shutil.which", lambda name: None)
    result = render_document(DATA / "letter.odt", tmp_path / "out.tif")
    assert result.refusal is not None
    assert result.refusal.reason is RefusalReason.CONVERTER_MISSING
    assert "LibreOffice" in str(result.refusal)


@pytest.mark.slow
def test_killed_worker_takes_its_libreoffice_along(tmp_path: Path) -> None:
    with RenderPool(workers=1) as pool:
        assert pool.render_submission([DATA / "letter.odt"], tmp_path / "a.tif").ok
        (worker,) = pool.worker_pids()
        office = [p for p in descendants(worker) if process_name(p) == "soffice.bin"]
        assert office  # the worker's own soffice is running, inside the worker's jail
        os.kill(worker, signal.SIGKILL)  # as the pool does to a worker that hangs
        deadline = time.monotonic() + 15
        while any(map(is_alive, office)) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(map(is_alive, office))


_CONTENT = """<?xml version="1.0" encoding="UTF-8"?>
<office:document-content xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0"
 xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0"
 xmlns:draw="urn:oasis:names:tc:opendocument:xmlns:drawing:1.0"
 xmlns:xlink="http://www.w3.org/1999/xlink"
 xmlns:svg="urn:oasis:names:tc:opendocument:xmlns:svg-compatible:1.0" office:version="1.2">
<office:body><office:text><text:p>Linked pictures:{frames}</text:p></office:text></office:body>
</office:document-content>"""
_FRAME = (
    '<draw:frame svg:width="8cm" svg:height="8cm"><draw:image xlink:href="{url}" '
    'xlink:type="simple" xlink:show="embed" xlink:actuate="onLoad"/></draw:frame>'
)
_MANIFEST = """<?xml version="1.0" encoding="UTF-8"?>
<manifest:manifest xmlns:manifest="urn:oasis:names:tc:opendocument:xmlns:manifest:1.0"
 manifest:version="1.2">
<manifest:file-entry manifest:full-path="/"
 manifest:media-type="application/vnd.oasis.opendocument.text"/>
<manifest:file-entry manifest:full-path="content.xml" manifest:media-type="text/xml"/>
</manifest:manifest>"""


class _Counter(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Counter.hits.append(self.path)
        self.send_response(404)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.mark.slow
def test_linked_pictures_are_not_fetched(tmp_path: Path) -> None:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    secret = tmp_path / "secret.png"
    Image.new("L", (300, 300), 0).save(secret)  # would print as an 8 cm black square
    urls = [f"http://127.0.0.1:{server.server_address[1]}/x.png", secret.as_uri()]
    document = tmp_path / "linked.odt"
    with zipfile.ZipFile(document, "w") as archive:
        archive.writestr(zipfile.ZipInfo("mimetype"), "application/vnd.oasis.opendocument.text")
        frames = "".join(_FRAME.format(url=url) for url in urls)
        archive.writestr("content.xml", _CONTENT.format(frames=frames))
        archive.writestr("META-INF/manifest.xml", _MANIFEST)
    try:
        out = tmp_path / "out.tif"
        result = render_document(document, out)
    finally:
        server.shutdown()
        server.server_close()
    assert result.ok
    assert _Counter.hits == []  # no request left the server
    (page,) = read_fax(out)
    assert page.ratio() < 0.02  # and the local file was not printed
