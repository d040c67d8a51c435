"""The pages a call sends: exact paper length, the header in the band, original numbering."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw

from faxout.errors import TransportError
from faxout.render import tagline
from faxout.render.geometry import page_format
from faxout.render.options import Paper, Resolution
from faxout.transmit import pages
from tests.headerband import band_rows, band_text
from tests.transmit.pages import read_pages, write_tiff

NOON = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
SENDER = pages.Sender("16505551234", "Dr. Alice Example", "", "", "")


def _page(rows: int, seed: int) -> Image.Image:
    """A page whose band is blank, as the renderer leaves it, with text below."""
    img = Image.new("1", (1728, rows), 1)
    pen = ImageDraw.Draw(img)
    for i in range(3):
        pen.text((100, rows // 4 + 40 * i), f"page {seed} line {i}", fill=0)
    pen.rectangle((0, rows - 20, 1727, rows - 1), fill=0)  # ink to the last row
    return img


def _doc(path: Path, count: int, rows: int, lpi: int, first: int = 1) -> Path:
    dpi = (204, lpi)
    return write_tiff(path, [_page(rows, first + n) for n in range(count)], dpi=dpi)


def _header(**change: str) -> pages.Header:
    style = pages.HeaderStyle(**change)  # type: ignore[arg-type]
    sender = SENDER
    ident = pages.station_ident(sender, "")
    header = pages.header_for(style, sender, ident, "Front desk", "+1 555-010-2000", 7, NOON)
    assert header is not None
    return header


@pytest.mark.parametrize("paper", list(Paper))
@pytest.mark.parametrize("resolution", list(Resolution))
def test_every_page_keeps_the_papers_length_with_the_header_in_its_band(
    tmp_path: Path, paper: Paper, resolution: Resolution
) -> None:
    fmt = page_format(paper, resolution)
    expected = {
        (Paper.LETTER, 196): 2156,
        (Paper.LETTER, 98): 1078,
        (Paper.A4, 196): 2292,
        (Paper.A4, 98): 1146,
        (Paper.LEGAL, 196): 2744,
        (Paper.LEGAL, 98): 1372,
    }[(paper, fmt.lpi)]
    assert fmt.height == expected
    cover = _doc(tmp_path / "part0.tif", 1, fmt.height, fmt.lpi)
    doc = _doc(tmp_path / "part1.tif", 2, fmt.height, fmt.lpi, first=2)
    result = pages.prepare([cover, doc], 1, _header(), tmp_path)
    assert (result.count, result.total) == (3, 3)
    sent = read_pages(cover) + read_pages(doc)
    band = band_rows(fmt.lpi)
    for n, (got, want) in enumerate(zip(read_pages(result.path), sent, strict=True), start=1):
        assert got.shape == want.shape == (expected, 1728)
        assert np.array_equal(got[band:], want[band:]), f"page {n}: content changed"
        assert not got[:band].all(), f"page {n}: no header"
        text = band_text(got, fmt.lpi)
        assert f"Page {n} of 3" in text, text
    with Image.open(result.path) as img:
        assert img.info["dpi"] == (204.0, float(fmt.lpi))


def test_header_names_both_ends_and_the_time_in_the_accounts_zone(tmp_path: Path) -> None:
    doc = _doc(tmp_path / "part0.tif", 1, 2156, 196)
    sender = pages.Sender("4930123456", "Praxis Weber", "", "Europe/Berlin", "")
    ident = pages.station_ident(sender, "")
    header = pages.header_for(pages.HeaderStyle(), sender, ident, "Lab", "+1 555-010-2000", 3, NOON)
    assert header is not None and ident == "+49 30 123456"
    result = pages.prepare([doc], 1, header, tmp_path)
    text = band_text(read_pages(result.path)[0], 196)
    for part in ("2026-12-01 13:00 CET", "Praxis Weber", "+49 30 123456", "Lab", "Page 1 of 1"):
        assert part in text, (part, text)
    assert "faxout" not in text.lower()


def test_resumed_call_keeps_the_original_numbering(tmp_path: Path) -> None:
    cover = _doc(tmp_path / "part0.tif", 1, 2156, 196)
    doc = _doc(tmp_path / "part1.tif", 10, 2156, 196, first=2)
    result = pages.prepare([cover, doc], 5, _header(), tmp_path)
    assert (result.count, result.total) == (7, 11)
    got = read_pages(result.path)
    want = (read_pages(cover) + read_pages(doc))[4:]
    assert len(got) == 7
    assert np.array_equal(got[0][40:], want[0][40:])  # page 5 is the first sent
    for n, page in zip((5, 11), (got[0], got[-1]), strict=True):
        text = band_text(page, 196)
        assert f"Page {n} of 11" in text and "resumed at page 5" in text, text


def test_every_page_confirmed_still_sends_the_last(tmp_path: Path) -> None:
    doc = _doc(tmp_path / "part0.tif", 2, 1078, 98)
    result = pages.prepare([doc], 9, _header(), tmp_path)
    assert (result.count, result.total) == (1, 2)


def test_no_header_leaves_the_pages_as_rendered(tmp_path: Path) -> None:
    doc = _doc(tmp_path / "part0.tif", 2, 2292, 196)
    assert pages.header_for(pages.HeaderStyle(enabled=False), SENDER, "x", "", "1", 1, NOON) is None
    result = pages.prepare([doc], 1, None, tmp_path)
    for got, want in zip(read_pages(result.path), read_pages(doc), strict=True):
        assert np.array_equal(got, want)


def test_ink_in_the_band_is_cleared_before_the_header(tmp_path: Path) -> None:
    img = _page(2156, 1)
    ImageDraw.Draw(img).rectangle((0, 0, 1727, 38), fill=0)  # a page black to the top
    doc = write_tiff(tmp_path / "part0.tif", [img])
    result = pages.prepare([doc], 1, _header(), tmp_path)
    page = read_pages(result.path)[0]
    assert page[:39].mean() > 0.8  # mostly white again, with the header's letters
    assert "Page 1 of 1" in band_text(page, 196)


def test_a_long_header_is_shrunk_then_shortened_never_spilled(tmp_path: Path) -> None:
    doc = _doc(tmp_path / "part0.tif", 1, 2156, 196)
    long_name = "Very Long Practice Name " * 6
    sender = pages.Sender("16505551234", long_name, "", "", "")
    header = pages.header_for(pages.HeaderStyle(), sender, "x", long_name, "+15550102000", 1, NOON)
    assert header is not None
    result = pages.prepare([doc], 1, header, tmp_path)
    got, want = read_pages(result.path)[0], read_pages(doc)[0]
    assert np.array_equal(got[39:], want[39:])
    assert "Page 1 of 1" in band_text(got, 196)


def test_a_part_that_is_not_a_fax_page_is_refused_before_dialling(tmp_path: Path) -> None:
    bad = tmp_path / "part0.tif"
    bad.write_bytes(b"II*\x00" + b"\xff" * 200)
    with pytest.raises(TransportError, match="could not prepare the pages"):
        pages.prepare([bad], 1, _header(), tmp_path)


def test_station_ident_prefers_the_account_then_the_server_then_the_number() -> None:
    own = pages.Sender("16505551234", "", "ACME FAX", "", "")
    assert pages.station_ident(own, "SERVER") == "ACME FAX"
    assert pages.station_ident(SENDER, "SERVER") == "SERVER"
    assert pages.station_ident(SENDER, "") == "+1 650-555-1234"


@pytest.mark.parametrize(
    ("fmt", "problem"),
    [
        ("Page %%Q", "unknown code %%Q"),
        ("x" * 301, "over 300"),
        ("tab\there", "control characters"),
    ],
)
def test_bad_header_formats_are_named(fmt: str, problem: str) -> None:
    with pytest.raises(tagline.TagLineError, match=problem):
        tagline.validate(fmt)


def test_format_fields_and_literal_percent() -> None:
    tag = tagline.TagFields("", "+1 650", "TSI", "Bob", "+1 555", 12, resumed_at=1)
    template = tagline.stamp_time("%H:%M|%%s From %%n (%%l)|Job %%i 100%%%|%%P/%%T%%C", NOON)
    assert tagline.fields_of(template, tag, 2, 4) == [
        "12:00",
        "From +1 650 (TSI)",
        "Job 12 100%",
        "2/4",
    ]
