"""Text on tints: pale shading becomes paper, screenshots are thresholded, photos keep dots."""

from __future__ import annotations

import ctypes
from pathlib import Path

import numpy as np
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
import pytest
from PIL import Image, ImageDraw, ImageFont

from faxout.render import Paper, RenderOptions, render_document
from faxout.render.geometry import page_format, place
from faxout.render.options import Resolution
from tests.render.fax import DATA, FaxPage, Page, Rect, make_pdf, read_fax

FONT = "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"
WORDS = ["access", "denied", "retry", "later", "contact", "the", "administrator", "reference"]


def _render(path: Path, tmp: Path, options: RenderOptions | None = None) -> list[FaxPage]:
    out = tmp / "out.tif"
    result = render_document(path, out, options)
    assert result.ok, result.refusal
    return read_fax(out)


def _framed_region(page: FaxPage, source: tuple[int, int], box: tuple[int, int, int, int]):  # type: ignore[no-untyped-def]
    """The output pixels of ``box`` (left, top, right, bottom, source px) of a framed image."""
    top, bottom, left, right = page.bbox()  # the black frame is the image's extent
    sx, sy = (right - left) / source[0], (bottom - top) / source[1]
    x0, y0, x1, y1 = box
    return page.black[
        top + round(y0 * sy) : top + round(y1 * sy), left + round(x0 * sx) : left + round(x1 * sx)
    ]


def _screenshot(path: Path, background: int, sidebar: bool) -> Path:
    """A 384 x 191 text screenshot without a dpi, on a grey window background."""
    shot = Image.new("RGB", (384, 191), (background,) * 3)
    draw = ImageDraw.Draw(shot)
    font = ImageFont.truetype(FONT, 13)
    x = 12
    if sidebar:  # a dark navigation bar with light text, as web applications have
        draw.rectangle((0, 0, 120, 190), fill=(44, 62, 80))
        for k in range(5):
            draw.text((8, 10 + 30 * k), WORDS[k], font=font, fill=(236, 240, 241))
        x = 130
    for k in range(6):
        draw.text((x, 10 + 28 * k), " ".join(WORDS[k : k + 3]), font=font, fill=(20, 20, 20))
    draw.rectangle((0, 0, 383, 190), outline=0)
    shot.save(path)
    return path


@pytest.mark.parametrize("sidebar", [False, True])
@pytest.mark.parametrize("background", [236, 226, 212])  # window greys: 7, 11 and 17 %
def test_screenshot_on_grey_has_no_dots_around_its_text(
    tmp_path: Path, background: int, sidebar: bool
) -> None:
    source = _screenshot(tmp_path / "shot.png", background, sidebar)
    (page,) = _render(source, tmp_path, RenderOptions(paper=Paper.LETTER))
    size = (384, 191)
    text = _framed_region(page, size, (132 if sidebar else 14, 10, 330, 180))
    assert 0.03 < text.mean() < 0.25  # the text is there, in solid strokes
    # The grey background right of the text and below it: paper white, not a dot field.
    assert _framed_region(page, size, (345, 5, 380, 186)).mean() == 0.0
    assert _framed_region(page, size, (130, 178, 380, 187)).mean() < 0.002
    if sidebar:
        bar = _framed_region(page, size, (2, 2, 118, 188))
        assert 0.75 < bar.mean() < 0.99  # solid black with its light words left white


def _table(path: Path, shade: int, header: int) -> Path:
    """A table: a pale header and every other row shaded, 7 pt "text" bars in each row."""
    rects = [Rect(50, 770, 495, 16, grey=header)]
    rects += [Rect(60 + 120 * c, 774, 80, 7) for c in range(4)]
    for row in range(30):
        y = 750 - 18 * row
        if row % 2:
            rects.append(Rect(50, y - 4, 495, 16, grey=shade))
        rects += [Rect(60 + 120 * c, y, 80, 7) for c in range(4)]
    return make_pdf(path, [Page(595, 842, rects)])


@pytest.mark.parametrize("resolution", list(Resolution))
def test_table_row_shading_and_a_pale_header_become_white(
    tmp_path: Path, resolution: Resolution
) -> None:
    pdf = _table(tmp_path / "table.pdf", shade=230, header=217)  # 10 % rows, 15 % header
    (page,) = _render(pdf, tmp_path, RenderOptions(resolution=resolution))
    fmt = page_format(Paper.A4, resolution)
    spot = place(595 / 72, 842 / 72, fmt)

    def region(x0: float, y0: float, x1: float, y1: float) -> float:
        """Ink share of a box given in PDF points from the bottom-left corner."""
        sx, sy = spot.width / 595, spot.height / 842
        rows = slice(fmt.band + round((842 - y1) * sy), fmt.band + round((842 - y0) * sy))
        return page.ratio(
            rows.start, rows.stop, spot.left + round(x0 * sx), spot.left + round(x1 * sx)
        )

    assert region(145, 734, 175, 745) == 0.0  # a shaded row between two bars: white
    assert region(145, 771, 175, 785) == 0.0  # the pale header between two bars: white
    assert region(62, 751, 138, 756) > 0.95  # the bars (the text) stay solid


def _picture_pdf(path: Path, picture: Image.Image) -> Path:
    """A page that is all one picture, as a scanner or a photo printer makes them."""
    pdf = pdfium.PdfDocument.new()
    page = pdf.new_page(595, 842)
    bitmap = pdfium.PdfBitmap.from_pil(picture.convert("RGB"))
    image = pdfium_c.FPDFPageObj_NewImageObj(pdf)
    pdfium_c.FPDFImageObj_SetBitmap(None, 0, image, bitmap)
    matrix = pdfium_c.FS_MATRIX(595, 0, 0, 842, 0, 0)
    pdfium_c.FPDFPageObj_SetMatrix(image, ctypes.byref(matrix))
    pdfium_c.FPDFPage_InsertObject(page, image)
    page.gen_content()
    pdf.save(path)
    return path


def test_a_photo_page_keeps_its_tones(tmp_path: Path) -> None:
    with Image.open(DATA / "skimage-camera.png") as photo:
        pdf = _picture_pdf(tmp_path / "photo.pdf", photo.resize((595, 842)))
    (page,) = _render(pdf, tmp_path)
    sky = page.black[300:700, 300:1400]  # the camera photo's light grey sky
    assert 0.02 < sky.mean() < 0.4  # a light dot field, neither paper white nor solid
    assert 0.25 < page.ratio(39) < 0.75  # the photo's mid-tones are there as halftone


def test_a_scanned_page_in_a_pdf_is_clean_text_on_white(tmp_path: Path) -> None:
    # A greyscale scan of a letter on greyish paper with uneven light, put in a PDF.
    light = np.linspace(215, 185, 1754, dtype=np.float64)[:, None] * np.ones((1, 1240))
    scan = Image.fromarray(light.astype(np.uint8))
    draw = ImageDraw.Draw(scan)
    font = ImageFont.truetype(FONT, 28)
    for k in range(40):
        draw.text((120, 120 + 38 * k), " ".join(WORDS[k % 4 : k % 4 + 5]), font=font, fill=30)
    (page,) = _render(_picture_pdf(tmp_path / "scan.pdf", scan), tmp_path)
    margin = page.black[100:2200, 1450:1700]  # right of the text: greyish paper
    assert margin.mean() == 0.0  # white, not a dot field
    text = page.black[120:2100, 150:1300]
    assert 0.03 < text.mean() < 0.3
