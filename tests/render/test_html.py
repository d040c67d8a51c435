"""HTML: laid out by WeasyPrint with every fetch refused (no SSRF, no local files)."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import ClassVar

import numpy as np
import pytest

from faxout.render import WarningKind, render_document
from faxout.render.detect import Detected, Kind, detect
from faxout.render.options import Paper, RenderOptions
from tests.render.fax import DATA, read_fax


def test_order_confirmation_renders(tmp_path: Path) -> None:
    out = tmp_path / "out.tif"
    result = render_document(DATA / "order.html", out)
    assert result.ok
    pages = read_fax(out)
    assert 1 <= len(pages) <= 3 and all(p.width == 1728 for p in pages)
    assert pages[0].black.any()


class _Counter(http.server.BaseHTTPRequestHandler):
    hits: ClassVar[list[str]] = []

    def do_GET(self) -> None:
        _Counter.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "text/css")
        self.end_headers()
        self.wfile.write(b"body { background: black }")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def web() -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counter)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Counter.hits.clear()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_no_request_leaves_the_server(tmp_path: Path, web: str) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("the password is swordfish")
    html = tmp_path / "evil.html"
    html.write_text(
        f"""<!DOCTYPE html><html><head>
        <link rel="stylesheet" href="{web}/style.css">
        <style>@import url("{web}/import.css"); @font-face {{ font-family: X; src: url({web}/f.ttf) }}</style>
        </head><body>
        <p>Hello</p>
        <img src="{web}/pixel.png"><img src="file://{secret}">
        <object data="file://{secret}"></object>
        <img src="data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7">
        </body></html>"""
    )
    out = tmp_path / "out.tif"
    result = render_document(html, out)
    assert result.ok
    assert _Counter.hits == []  # not one request reached the server
    blocked = [w for w in result.warnings if w.kind is WarningKind.BLOCKED_FETCH]
    assert len(blocked) == 1 and "not loaded" in blocked[0].message
    (page,) = read_fax(out)
    assert page.ratio() < 0.05  # the remote "background: black" stylesheet was not applied


def test_html_fragment_is_laid_out_not_printed_as_source(tmp_path: Path) -> None:
    fragment = tmp_path / "body"
    fragment.write_text("<p>Please call <b>Anna</b> back.</p>")
    assert detect(fragment) == Detected(Kind.HTML, ".html")


def test_svg_renders_as_a_drawing(tmp_path: Path, web: str) -> None:
    svg = tmp_path / "drawing.svg"
    svg.write_text(
        '<svg xmlns="http://www.w3.org/2000/svg" width="200" height="100">'
        '<rect x="0" y="0" width="200" height="100" fill="black"/>'
        f'<image href="{web}/x.png" width="10" height="10"/></svg>'
    )
    assert detect(svg) == Detected(Kind.SVG, ".svg")
    out = tmp_path / "out.tif"
    result = render_document(svg, out)
    assert result.ok
    (page,) = read_fax(out)
    top, bottom, left, right = page.bbox()
    assert right - left > 1000 and (right - left) / (bottom - top) == pytest.approx(2.08, rel=0.1)
    assert _Counter.hits == []


@pytest.mark.parametrize("paper", [Paper.LEGAL, Paper.LETTER, Paper.A4])
def test_html_is_laid_out_on_the_recipients_paper(tmp_path: Path, paper: Paper) -> None:
    """A footer fixed to the bottom of the page lands at the bottom of the fax page: the
    document was laid out on that paper, not on another one scaled to fit."""
    doc = tmp_path / "memo.html"
    doc.write_text(
        "<html><body><p>Memo</p>"
        '<div style="position: fixed; bottom: 0; width: 100%; height: 2em; background: black">'
        "</div></body></html>"
    )
    out = tmp_path / "out.tif"
    assert render_document(doc, out, RenderOptions(paper=paper)).ok
    (page,) = read_fax(out)
    rows = np.flatnonzero(page.black.any(axis=1))
    assert rows[-1] > 0.9 * page.height, (paper, rows[-1], page.height)
