"""PDF pages: quality gates on the test chart, geometry, similarity to Ghostscript, refusals."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pypdfium2 as pdfium
import pytest
from PIL import Image

from faxout.render import (
    Compression,
    Paper,
    RefusalReason,
    RenderOptions,
    Resolution,
    WarningKind,
    render_document,
)
from faxout.render.geometry import page_format, place
from tests.render.fax import DATA, FaxPage, Page, Rect, make_pdf, read_fax

MM = 72 / 25.4
A4_PT = (595.2755905511812, 841.8897637795277)  # reportlab's A4, as the chart was made


class Chart:
    """The rendered test chart, addressed in the PDF's own points from the top-left corner."""

    def __init__(self, tmp: Path) -> None:
        out = tmp / "chart.tif"
        assert render_document(DATA / "testchart_a4.pdf", out).ok
        (self.page,) = read_fax(out)
        self.fmt = page_format(Paper.A4, Resolution.HIGH)
        self.spot = place(A4_PT[0] / 72, A4_PT[1] / 72, self.fmt)

    def x(self, pt: float) -> int:
        return round(self.spot.left + pt * self.spot.width / A4_PT[0])

    def y(self, pt: float) -> int:
        return round(self.fmt.band + pt * self.spot.height / A4_PT[1])

    def ratio(self, top: float, bottom: float, left: float, right: float) -> float:
        return self.page.ratio(self.y(top), self.y(bottom), self.x(left), self.x(right))


@pytest.fixture(scope="module")
def chart(tmp_path_factory: pytest.TempPathFactory) -> Chart:
    return Chart(tmp_path_factory.mktemp("chart"))


def test_chart_page_format(chart: Chart) -> None:
    page = chart.page
    assert (page.width, page.height) == (1728, 2292)
    assert page.compression == 4 and page.photometric == 0 and page.strips == 1
    assert page.dpi == (204.0, 196.0)


def test_header_band_is_blank(chart: Chart) -> None:
    assert not chart.page.black[: chart.fmt.band].any()


@pytest.mark.parametrize("index", range(7))  # 0, 0.1, 0.25, 0.5, 0.75, 1 and 2 pt
def test_hairlines_survive(chart: Chart, index: int) -> None:
    y = 40 * MM + index * 5 * MM
    rows = chart.page.black[chart.y(y) - 4 : chart.y(y) + 5, chart.x(20 * MM) : chart.x(70 * MM)]
    assert rows.mean(axis=1).max() > 0.98  # one unbroken horizontal line
    x = (85 + index * 6) * MM
    cols = chart.page.black[chart.y(42 * MM) : chart.y(68 * MM), chart.x(x) - 4 : chart.x(x) + 5]
    assert cols.mean(axis=0).max() > 0.98  # one unbroken vertical line


def test_grey_and_coloured_text_is_solid(chart: Chart) -> None:
    baseline = 85 * MM + 153  # the chart's 10 pt black line; 30-80 % grey lines follow every 15 pt
    ink = [
        chart.ratio(b - 8, b + 2, 15 * MM, 140 * MM) for b in (baseline + 15 * k for k in range(5))
    ]
    black = ink[0]
    assert black > 0.1
    for grey in ink[1:]:  # 30, 50, 65 and 80 % grey text: as much ink as the black line
        assert grey > 0.85 * black
    red = chart.ratio(baseline + 67, baseline + 77, 15 * MM, 90 * MM)
    assert red > 0.08  # red text: solid strokes, not a halftone trail


def test_light_tints_drop_out_and_dark_tones_stay(chart: Chart) -> None:
    ramp_top = 85 * MM + 153 + 95 + 3 * MM

    def patch(i: int) -> float:
        left = (15 + i * 8.5) * MM
        return chart.ratio(ramp_top, ramp_top + 10 * MM, left + MM, left + 7.5 * MM)

    assert patch(19) == 0.0  # 5 % tint: white, no dot field costing line time
    assert patch(20) == 0.0
    assert patch(0) == 1.0  # 100 %: solid
    assert 0.35 < patch(10) < 0.65  # 50 %: half the dots


def _gs_reference(pdf: Path, tmp: Path, paper: Paper) -> npt.NDArray[np.bool_]:
    """Ghostscript's rendering of page 1 of ``pdf``, placed exactly where ours puts it."""
    document = pdfium.PdfDocument(pdf)
    width_pt, height_pt = document[0].get_size()
    document.close()
    fmt = page_format(paper, Resolution.HIGH)
    spot = place(width_pt / 72, height_pt / 72, fmt)
    assert not spot.rotate and not spot.cut
    out = tmp / "gs.pgm"
    rx, ry = spot.width / (width_pt / 72), spot.height / (height_pt / 72)
    command = ["gs", "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=pgmraw",
               "-dTextAlphaBits=1", "-dGraphicsAlphaBits=1", "-dFirstPage=1", "-dLastPage=1",
               f"-r{rx:.4f}x{ry:.4f}", f"-sOutputFile={out}", str(pdf)]  # fmt: skip
    subprocess.run(command, check=True)
    grey = np.asarray(Image.open(out))
    canvas = np.zeros((fmt.height, fmt.width), dtype=bool)
    h, w = min(grey.shape[0], spot.height), min(grey.shape[1], spot.width)
    canvas[fmt.band : fmt.band + h, spot.left : spot.left + w] = grey[:h, :w] < 128
    return canvas


def _blocks(black: npt.NDArray[np.bool_], n: int = 8) -> npt.NDArray[np.float64]:
    h, w = black.shape[0] // n * n, black.shape[1] // n * n
    return black[:h, :w].reshape(h // n, n, w // n, n).mean(axis=(1, 3)).ravel()


@pytest.mark.parametrize(
    ("name", "paper"),
    [
        ("letter_a4.pdf", Paper.A4),
        ("testchart_a4.pdf", Paper.A4),
        ("letter_usletter.pdf", Paper.LETTER),
        ("debian-fontconfig-user.pdf", Paper.A4),  # 593 x 839 pt, neither A4 nor Letter
    ],
)
def test_similar_to_ghostscript(tmp_path: Path, name: str, paper: Paper) -> None:
    """Correlation of ink per 8x8 block (about 1 mm square) against Ghostscript's page 1.

    Same marks in the same places give 0.95-0.97 (glyph rasterisation and halftone differ);
    the same page moved by 1 mm drops to about 0.6-0.8, so 0.9 catches misplaced, missing
    or scaled content while allowing a different screen.
    """
    out = tmp_path / "out.tif"
    assert render_document(DATA / name, out, RenderOptions(paper=paper, max_pages=50)).ok
    page = read_fax(out)[0]
    reference = _gs_reference(DATA / name, tmp_path, paper)
    assert np.corrcoef(_blocks(page.black), _blocks(reference))[0, 1] > 0.9
    moved = np.roll(page.black, 8, axis=0)
    assert np.corrcoef(_blocks(moved), _blocks(reference))[0, 1] < 0.9  # the metric can fail


def _one(tmp: Path, pages: list[Page], options: RenderOptions | None = None) -> list[FaxPage]:
    out = tmp / "out.tif"
    result = render_document(make_pdf(tmp / "in.pdf", pages), out, options)
    assert result.ok, result.refusal
    decoded = read_fax(out)
    assert result.pages == len(decoded)
    return decoded


def test_a4_and_letter_paper(tmp_path: Path) -> None:
    page = Page(612, 792, [Rect(0, 0, 612, 792)])  # a black Letter page
    (letter,) = _one(tmp_path, [page], RenderOptions(paper=Paper.LETTER))
    (a4,) = _one(tmp_path, [page], RenderOptions(paper=Paper.A4))
    assert letter.height == 2156 and a4.height == 2292
    top, _bottom, left, right = letter.bbox()
    assert right - left > 1690  # Letter fills (nearly) the whole width
    assert top >= 39  # below the header band
    assert abs(left - (1728 - right)) <= 1  # centred


def test_odd_page_size_keeps_aspect(tmp_path: Path) -> None:
    (page,) = _one(tmp_path, [Page(432, 648, [Rect(0, 0, 432, 648)])])  # 6 x 9 in
    top, bottom, left, right = page.bbox()
    width_in, height_in = (right - left) / 204, (bottom - top) / 196
    assert width_in / height_in == pytest.approx(432 / 648, rel=0.01)
    assert bottom <= 2292


def test_landscape_page_is_turned_counter_clockwise(tmp_path: Path) -> None:
    # a mark in the top-left corner of a landscape page ends at the bottom-left
    (page,) = _one(tmp_path, [Page(842, 595, [Rect(0, 545, 50, 50)])])
    top, bottom, left, right = page.bbox()
    assert bottom > 2000 and left < 100
    assert (bottom - top) / 196 == pytest.approx((right - left) / 204, rel=0.05)  # still square


def test_rotated_page_attribute_is_honoured(tmp_path: Path) -> None:
    # /Rotate 90 shows a portrait page as landscape; we turn it back: the mark stays top-left
    (page,) = _one(tmp_path, [Page(595, 842, [Rect(0, 792, 50, 50)], rotation=90)])
    top, _bottom, left, _right = page.bbox()
    assert top < 200 and left < 100


def test_long_page_is_split_without_losing_the_bottom(tmp_path: Path) -> None:
    marks = [Rect(0, 0, 595, 20), Rect(0, 2980, 595, 20)]  # bars at the very bottom and top
    pages = _one(tmp_path, [Page(595, 3000, marks)])
    assert len(pages) == 4
    assert pages[0].black[39:120].any()
    assert pages[-1].black.any()
    assert not pages[1].black.any() and not pages[2].black.any()


def test_blank_page_is_reported(tmp_path: Path) -> None:
    pdf = make_pdf(tmp_path / "in.pdf", [Page(595, 842, [Rect(9, 9, 9, 9)]), Page(595, 842)])
    result = render_document(pdf, tmp_path / "out.tif")
    assert [(w.kind, w.page) for w in result.warnings] == [(WarningKind.BLANK_PAGE, 2)]


def test_low_resolution_and_g3(tmp_path: Path) -> None:
    options = RenderOptions(resolution=Resolution.LOW, compression=Compression.MR)
    (page,) = _one(tmp_path, [Page(595, 842, [Rect(100, 100, 100, 100)])], options)
    assert page.height == 1146 and page.dpi == (204.0, 98.0) and page.compression == 3


def test_small_text_warning_at_low_resolution(tmp_path: Path) -> None:
    low = render_document(
        DATA / "testchart_a4.pdf", tmp_path / "low.tif", RenderOptions(resolution=Resolution.LOW)
    )
    assert [w.kind for w in low.warnings] == [WarningKind.SMALL_TEXT]
    assert "send in fine" in str(low.warnings[0])
    letter = render_document(DATA / "letter_a4.pdf", tmp_path / "letter.tif")
    assert letter.warnings == []


def test_multi_page_document(tmp_path: Path) -> None:
    out = tmp_path / "out.tif"
    result = render_document(DATA / "debian-fontconfig-user.pdf", out)  # 15 pages, 593x839 pt
    assert result.pages == 15 and len(read_fax(out)) == 15
    assert len(result.page_bytes) == 15


def _encrypt(tmp: Path, user_password: str) -> Path:
    out = tmp / "locked.pdf"
    command = [
        "gs",
        "-q",
        "-dSAFER",
        "-dBATCH",
        "-dNOPAUSE",
        "-sDEVICE=pdfwrite",
        "-sOwnerPassword=owner",
        "-dEncryptionR=3",
        "-dKeyLength=128",
        "-dPermissions=-3904",
        f"-sOutputFile={out}",
        str(DATA / "letter_a4.pdf"),
    ]
    if user_password:
        command.insert(-2, f"-sUserPassword={user_password}")
    subprocess.run(command, check=True)
    return out


def test_encrypted_with_empty_user_password_renders(tmp_path: Path) -> None:
    result = render_document(_encrypt(tmp_path, ""), tmp_path / "out.tif")
    assert result.ok and result.pages == 1


def test_password_protected_pdf_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "out.tif"
    result = render_document(_encrypt(tmp_path, "secret"), out)
    assert result.refusal is not None
    assert result.refusal.reason is RefusalReason.ENCRYPTED
    assert "password" in str(result.refusal) and "locked.pdf" in str(result.refusal)
    assert not out.exists()


def test_corrupt_pdf_is_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.pdf"
    bad.write_bytes(b"%PDF-1.7\n" + bytes(range(256)) * 20)
    result = render_document(bad, tmp_path / "out.tif")
    assert result.refusal is not None and result.refusal.reason is RefusalReason.CORRUPT


def test_damaged_pdf_is_repaired_by_ghostscript(tmp_path: Path) -> None:
    data = (DATA / "letter_a4.pdf").read_bytes()
    damaged = tmp_path / "damaged.pdf"
    # wreck the header's version digits and the trailer: PDFium gives up, Ghostscript repairs
    damaged.write_bytes(data.replace(b"%PDF-1.4", b"%PDF-9.x", 1).rsplit(b"trailer", 1)[0])
    result = render_document(damaged, tmp_path / "out.tif")
    assert result.ok and result.pages == 1


def test_page_limit(tmp_path: Path) -> None:
    result = render_document(
        DATA / "debian-fontconfig-user.pdf", tmp_path / "out.tif", RenderOptions(max_pages=5)
    )
    assert result.refusal is not None and result.refusal.reason is RefusalReason.TOO_MANY_PAGES


def test_time_limit(tmp_path: Path) -> None:
    result = render_document(
        DATA / "debian-fontconfig-user.pdf", tmp_path / "out.tif", RenderOptions(timeout_s=0)
    )
    assert result.refusal is not None and result.refusal.reason is RefusalReason.TIME_LIMIT
