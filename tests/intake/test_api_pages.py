"""Page images and the PDF of the status API through a real embedded gateway: every page is
compared, pixel for pixel, with what the simulated far end received."""

from __future__ import annotations

import base64
import io
import os
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pypdfium2 as pdfium
import pytest
from PIL import Image

from tests.headerband import band_rows, band_text
from tests.intake.test_api import DESK, PASSWORD, api, fax, token, until
from tests.server import Server, start_server
from tests.transmit.pages import read_pages

USER, OTHER = "16505551234", "16505559999"
LONDON = "+442079460000"  # a fax machine on A4 paper: its recipient has pages of its own
SHOW = os.environ.get("FAXOUT_TEST_SHOW_PAGES")  # a directory to keep the PNGs in, to look at


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(tmp_path_factory.mktemp("api-pages"), FAXOUT_DEMO_ACCOUNT="false")
    try:
        srv.add_user(USER, PASSWORD, "--email", "a@example.com", "--name", "Page Images")
        srv.add_user(OTHER, PASSWORD, "--email", "o@example.com")
        yield srv
    finally:
        srv.kill()


@pytest.fixture(scope="module")
def sent(gw: Server) -> dict[str, Any]:
    """A delivered fax to two fax machines (Letter and A4), cover page and one text page."""
    secret = token(gw)
    fid = fax(gw, f"{DESK}|Desk", f"{LONDON}|London office")
    return until(
        lambda: api(gw, secret, "GET", f"/faxes/{fid}").json(),
        lambda f: f["state"] == "delivered",
    )


def png(gw: Server, secret: str, fid: int, n: int, **params: Any) -> httpx.Response:
    return api(gw, secret, "GET", f"/faxes/{fid}/pages/{n}.png", **params)


def pixels(body: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(body)) as img:
        assert img.mode == "1"
        return np.array(img, dtype=bool)


def test_every_page_is_exactly_what_the_recipient_received(
    gw: Server, sent: dict[str, Any]
) -> None:
    secret = token(gw, USER, "--scope", "read")
    for rec in sent["recipients"]:
        (call,) = rec["attempts"]
        received = read_pages(gw.data_dir / "received" / f"job{rec['id']}-1.tif")
        assert len(received) == rec["pages_total"] == 2
        for n, page in enumerate(received, start=1):
            got = png(gw, secret, sent["id"], n, recipient=rec["id"])
            assert got.status_code == 200, got.text
            assert got.headers["content-type"] == "image/png"
            assert got.headers["cache-control"] == "private, no-cache"
            assert got.headers["x-faxout-header-time"] == call["started_at"]
            assert got.headers["x-faxout-attempt"] == "1"
            with Image.open(io.BytesIO(got.content)) as img:
                assert img.width == 1728 and img.mode == "1"  # bilevel, the fax's own pixels
                assert tuple(round(d) for d in img.info["dpi"]) == (204, 196)
            mine = pixels(got.content)
            assert mine.shape == page.shape
            assert int(np.count_nonzero(mine != page)) == 0, f"page {n} differs"
            assert not mine[: band_rows(196)].all()  # the header is in the band
            if SHOW:
                Path(SHOW, f"fax{sent['id']}-r{rec['id']}-p{n}.png").write_bytes(got.content)
        header = band_text(pixels(png(gw, secret, sent["id"], 1, recipient=rec["id"]).content), 196)
        for part in (rec["name"], "Page 1 of 2", "Page Images"):
            assert part in header, (part, header)


def test_the_first_recipient_is_the_default(gw: Server, sent: dict[str, Any]) -> None:
    secret = token(gw)
    first, second = (r["id"] for r in sent["recipients"])
    default = png(gw, secret, sent["id"], 1)
    assert default.content == png(gw, secret, sent["id"], 1, recipient=first).content
    assert (
        pixels(default.content).shape
        != pixels(png(gw, secret, sent["id"], 1, recipient=second).content).shape
    )  # Letter and A4


def test_thumbnails_are_grey_with_square_pixels(gw: Server, sent: dict[str, Any]) -> None:
    secret = token(gw)
    for width in (100, 300, 1728):
        got = png(gw, secret, sent["id"], 2, width=width)
        assert got.status_code == 200
        with Image.open(io.BytesIO(got.content)) as img:
            assert img.mode == "L" and img.width == width
            # Letter: 8.5 x 11 in, less nothing (pages keep the paper's exact length).
            assert abs(img.height - round(width * 2156 / 196 / (1728 / 204))) <= 1
    for bad in (99, 1729, "wide"):
        answer = png(gw, secret, sent["id"], 1, width=bad)
        assert answer.status_code == 422 and answer.headers["content-type"] == (
            "application/problem+json"
        )


def test_a_low_resolution_fax_has_its_own_pixels_and_square_thumbnails(gw: Server) -> None:
    secret = token(gw)
    made = httpx.post(
        f"{gw.url}/api/v1/faxes",
        headers={"Authorization": f"Bearer {secret}"},
        json={
            "to": [{"number": DESK}],
            "documents": [{"filename": "a.txt", "content_base64": "bG93IHJlcw=="}],
            "resolution": "low",
        },
        timeout=60,
    )
    assert made.status_code == 201, made.text
    fid = made.json()["id"]
    done = until(
        lambda: api(gw, secret, "GET", f"/faxes/{fid}").json(), lambda f: f["state"] == "delivered"
    )
    received = read_pages(gw.data_dir / "received" / f"job{done['recipients'][0]['id']}-1.tif")
    for n, page in enumerate(received, start=1):
        got = png(gw, secret, fid, n)
        with Image.open(io.BytesIO(got.content)) as img:
            assert tuple(round(d) for d in img.info["dpi"]) == (204, 98)
        assert np.array_equal(pixels(got.content), page)
    with Image.open(io.BytesIO(png(gw, secret, fid, 1, width=204).content)) as img:
        assert abs(img.height - 264) <= 1  # 11 in at 24 px an inch, as at fine resolution


def test_the_pdf_has_every_page_at_its_size(gw: Server, sent: dict[str, Any]) -> None:
    secret = token(gw)
    for rec, height_in in zip(sent["recipients"], (11.0, 11.69), strict=True):
        got = api(gw, secret, "GET", f"/faxes/{sent['id']}/fax.pdf", recipient=rec["id"])
        assert got.status_code == 200 and got.headers["content-type"] == "application/pdf"
        assert got.headers["etag"] and got.headers["x-faxout-header-time"]
        doc = pdfium.PdfDocument(got.content)
        assert len(doc) == rec["pages_total"]
        for page in doc:
            width, height = page.get_size()
            assert abs(width - 1728 / 204 * 72) < 1
            assert abs(height - height_in * 72) < 2
        assert b"/CCITTFaxDecode" in got.content


def test_a_page_not_sent_yet_is_a_preview_drawn_once(gw: Server) -> None:
    secret = token(gw)
    later = datetime.now(UTC) + timedelta(hours=6)
    fid = fax(gw, DESK, sendtime=later.strftime("%d:%m:%y %H:%M"))
    until(
        lambda: api(gw, secret, "GET", f"/faxes/{fid}").json(),
        lambda f: f["recipients"][0]["state"] == "scheduled",
    )
    timings = []
    for _ in range(4):
        start = time.perf_counter()
        got = png(gw, secret, fid, 1)
        timings.append(time.perf_counter() - start)
        assert got.status_code == 200 and got.headers["x-faxout-header-time"] == "preview"
    # The first runs the jail; the others come from the cache (a minute may turn meanwhile).
    print(f"page PNG: first {timings[0] * 1000:.0f} ms, cached {min(timings[1:]) * 1000:.0f} ms")
    assert min(timings[1:]) < timings[0]
    assert "x-faxout-attempt" not in got.headers
    assert "Page 1 of 2" in band_text(pixels(got.content), 196)
    assert api(gw, secret, "POST", f"/faxes/{fid}/cancel").status_code == 200


def test_an_unchanged_page_is_not_sent_again(gw: Server, sent: dict[str, Any]) -> None:
    secret = token(gw)
    for path in ("/pages/2.png", "/fax.pdf"):
        url = f"{gw.url}/api/v1/faxes/{sent['id']}{path}"
        got = api(gw, secret, "GET", f"/faxes/{sent['id']}{path}")
        again = httpx.get(
            url,
            headers={"Authorization": f"Bearer {secret}", "If-None-Match": got.headers["etag"]},
            timeout=30,
        )
        assert again.status_code == 304 and again.headers["etag"] == got.headers["etag"]
        assert not again.content
        other = api(gw, secret, "GET", f"/faxes/{sent['id']}/pages/1.png")
        assert other.headers["etag"] != got.headers["etag"]
    assert list((gw.data_dir / "cache" / "pages").glob("*.tif"))


def test_what_cannot_be_shown_is_a_problem(gw: Server, sent: dict[str, Any]) -> None:
    secret, fid = token(gw), sent["id"]
    for path in (f"/faxes/{fid}/pages/0.png", f"/faxes/{fid}/pages/3.png", "/faxes/999999/fax.pdf"):
        answer = api(gw, secret, "GET", path)
        assert answer.status_code == 404, path
        assert answer.headers["content-type"] == "application/problem+json"
    assert png(gw, secret, fid, 1, recipient=999999).status_code == 404
    theirs = token(gw, OTHER)
    assert png(gw, theirs, fid, 1).status_code == 404  # as if there were no such fax
    assert api(gw, theirs, "GET", f"/faxes/{fid}/fax.pdf").status_code == 404
    anonymous = httpx.get(f"{gw.url}/api/v1/faxes/{fid}/pages/1.png", timeout=30)
    assert anonymous.status_code == 401
    sender = token(gw, USER, "--scope", "send")
    forbidden = png(gw, sender, fid, 1)
    assert forbidden.status_code == 403 and "'read' scope" in forbidden.json()["detail"]
    assert api(gw, sender, "GET", f"/faxes/{fid}/fax.pdf").status_code == 403


def test_a_fax_that_could_not_be_rendered_has_no_pages(gw: Server) -> None:
    secret = token(gw)
    broken = base64.b64encode(b"%PDF-1.4\nthis is not really a pdf").decode()
    made = httpx.post(
        f"{gw.url}/api/v1/faxes",
        headers={"Authorization": f"Bearer {secret}"},
        json={
            "to": [{"number": DESK}],
            "documents": [{"filename": "x.pdf", "content_base64": broken}],
        },
        timeout=60,
    )
    assert made.status_code == 201, made.text
    fid = made.json()["id"]
    early = png(gw, secret, fid, 1)  # before its rendering ends: 409, said to be temporary
    assert early.status_code in (404, 409)
    if early.status_code == 409:
        assert early.headers["retry-after"] and "not rendered yet" in early.json()["detail"]
    until(lambda: api(gw, secret, "GET", f"/faxes/{fid}").json(), lambda f: f["state"] == "failed")
    answer = png(gw, secret, fid, 1)
    assert answer.status_code == 404 and "could not be rendered" in answer.json()["detail"]
    assert api(gw, secret, "GET", f"/faxes/{fid}/fax.pdf").status_code == 404
