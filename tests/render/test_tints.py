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
from tests.render.fax import FaxPage, Page, Rect, make_pdf, read_fax

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


def _image_pdf(path: Path, grey: int) -> Path:
    """A page that is all one picture: a photo's light area, ``grey`` everywhere."""
    pdf = pdfium.PdfDocument.new()
    page = pdf.new_page(595, 842)
    pixels = np.full((400, 300), grey, dtype=np.uint8)
    bitmap = pdfium.PdfBitmap.from_pil(Image.fromarray(pixels).convert("RGB"))
    image = pdfium_c.FPDFPageObj_NewImageObj(pdf)
    pdfium_c.FPDFImageObj_SetBitmap(None, 0, image, bitmap)
    matrix = pdfium_c.FS_MATRIX(595, 0, 0, 842, 0, 0)
    pdfium_c.FPDFPageObj_SetMatrix(image, ctypes.byref(matrix))
    pdfium_c.FPDFPage_InsertObject(page, image)
    page.gen_content()
    pdf.save(path)
    return path


def test_a_photo_page_keeps_its_light_tones(tmp_path: Path) -> None:
    (page,) = _render(_image_pdf(tmp_path / "photo.pdf", grey=222), tmp_path)
    body = page.black[200:2000, 200:1500]
    assert 0.01 < body.mean() < 0.15  # a 13 % tone in a photo is still a light dot field
