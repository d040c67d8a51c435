"""Placement seen on the received pages: what fits stays one page, long pages cut between lines."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
import pytest
from PIL import Image, ImageDraw, ImageFont

from faxout.render import Paper, RenderOptions, Resolution, render_document
from faxout.render.geometry import page_format
from tests.render.fax import FaxPage, Page, Rect, make_pdf, read_fax

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"


def _render(path: Path, tmp: Path, options: RenderOptions | None = None) -> list[FaxPage]:
    out = tmp / "out.tif"
    result = render_document(path, out, options)
    assert result.ok, result.refusal
    pages = read_fax(out)
    fmt = page_format((options or RenderOptions()).paper, (options or RenderOptions()).resolution)
    for page in pages:
        assert page.height == fmt.height  # every page exactly the paper's length
        assert not page.black[: fmt.band].any()  # the header band stays blank
    return pages


def _runs(rows: npt.NDArray[np.bool_]) -> list[tuple[int, int]]:
    """(start, length) of each run of True in a 1-D array."""
    edges = np.diff(np.concatenate([[False], rows, [False]]).astype(np.int8))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    return [(int(s), int(e - s)) for s, e in zip(starts, ends, strict=True)]


def test_small_screenshot_without_dpi_is_one_upright_page_of_sane_size(tmp_path: Path) -> None:
    # The 384 x 191 px screenshot that was turned, blown up and cut across two Letter pages.
    shot = Image.new("RGB", (384, 191), (236, 236, 236))
    draw = ImageDraw.Draw(shot)
    font = ImageFont.truetype(FONT, 13)
    for k in range(6):
        draw.text((12, 32 + 24 * k), f"Line {k}: access is denied (0x80070005)", font=font, fill=0)
    draw.rectangle((0, 0, 383, 190), outline=0)  # the window frame marks the image's extent
    source = tmp_path / "shot.png"
    shot.save(source)
    (page,) = _render(source, tmp_path, RenderOptions(paper=Paper.LETTER))
    top, bottom, left, right = page.bbox()
    assert right - left > bottom - top  # upright, as it was taken
    # Screen pixels (96 px/in) enlarged 1.5 times: 6 in wide, not the full 8.5 in.
    assert (right - left) / 204 == pytest.approx(384 / 96 * 1.5, rel=0.02)
    assert (bottom - top) / 196 == pytest.approx(191 / 96 * 1.5, rel=0.03)


@pytest.mark.parametrize("resolution", list(Resolution))
def test_landscape_image_that_is_turned_is_one_page(tmp_path: Path, resolution: Resolution) -> None:
    wide = Image.new("L", (2000, 1000), 255)
    wide.paste(0, (0, 0, 2000, 20))  # a bar along the top edge
    wide.paste(0, (0, 980, 2000, 1000))  # and one along the bottom edge
    source = tmp_path / "wide.png"
    wide.save(source)
    options = RenderOptions(paper=Paper.LETTER, resolution=resolution)
    (page,) = _render(source, tmp_path, options)
    top, bottom, left, right = page.bbox()
    assert (bottom - top) / resolution.lpi > (right - left) / 204  # turned a quarter
    columns = _runs(page.black[(top + bottom) // 2])
    assert len(columns) == 2  # both bars, whole, on the one page


def test_landscape_pdf_page_twice_as_wide_as_long_is_turned_and_one_page(tmp_path: Path) -> None:
    marks = [Rect(0, 0, 792, 10), Rect(0, 386, 792, 10)]  # bars at the bottom and top edges
    pdf = make_pdf(tmp_path / "wide.pdf", [Page(792, 396, marks)])
    (page,) = _render(pdf, tmp_path, RenderOptions(paper=Paper.LETTER))
    top, bottom, left, right = page.bbox()
    assert bottom - top > right - left
    assert len(_runs(page.black[(top + bottom) // 2])) == 2


def _receipt(path: Path, lines: int) -> Path:
    """A till receipt scanned at 200 dpi: 3 in wide, one text line every 32 px."""
    receipt = Image.new("L", (600, 40 + 32 * lines), 255)
    draw = ImageDraw.Draw(receipt)
    font = ImageFont.truetype(FONT, 22)
    for k in range(lines):
        draw.text((20, 20 + 32 * k), f"|{k:03d} Widget (Hg) qty 1  12.50|", font=font, fill=0)
    receipt.save(path, dpi=(200, 200))
    return path


def _line_heights(pages: list[FaxPage]) -> list[int]:
    heights = []
    for page in pages:
        heights += [length for _start, length in _runs(page.black.any(axis=1))]
    return heights


@pytest.mark.parametrize("resolution", list(Resolution))
def test_long_receipt_is_cut_between_lines_never_through_one(
    tmp_path: Path, resolution: Resolution
) -> None:
    lines = 150  # 24 in long: about 2.3 pages
    source = _receipt(tmp_path / "receipt.png", lines)
    pages = _render(source, tmp_path, RenderOptions(resolution=resolution))
    assert len(pages) == 3
    heights = _line_heights(pages)
    # Every text line arrives whole, on one page: as many ink runs as lines, all as tall.
    assert len(heights) == lines
    assert max(heights) - min(heights) <= 1
    _top, _bottom, left, right = pages[0].bbox()
    with Image.open(source) as image:
        ink = np.flatnonzero((np.asarray(image) < 128).any(axis=0))
    # True size: a scan with a dpi is not blown up to the page width.
    assert (right - left) / 204 == pytest.approx((ink[-1] + 1 - ink[0]) / 200, rel=0.02)


def test_long_pdf_page_is_cut_between_lines_never_through_one(tmp_path: Path) -> None:
    # A web page printed as one 40 in long page: a "text line" (an 8 pt bar) every 12 pt.
    height = 40 * 72
    bars = [Rect(36, height - 36 - 12 * k - 8, 523, 8) for k in range((height - 72) // 12)]
    pdf = make_pdf(tmp_path / "web.pdf", [Page(595, height, bars)])
    pages = _render(pdf, tmp_path)
    assert len(pages) >= 4
    heights = _line_heights(pages)
    assert len(heights) == len(bars)
    assert max(heights) - min(heights) <= 1
