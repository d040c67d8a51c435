"""PDF pages to fax pages with PDFium: straight into 8-bit grey at the fax geometry.

PDFium renders into a grey bitmap that *is* the fax page buffer (below the header band),
at independent horizontal and vertical sizes, so there is no resize pass. Text and path
anti-aliasing are off: anti-aliased edges turn into speckles when halftoned and into gaps
when thresholded; aliased glyphs stay solid. Image smoothing stays on so photos scale well.
Grey and coloured text is made solid before the screen (:mod:`faxout.render.textink`).
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

from faxout.render import bilevel, classify, geometry, textink, threshold
from faxout.render.options import Resolution
from faxout.render.result import RefusalReason, WarningKind
from faxout.render.sink import PageSink, Refused

_FLAGS = (
    pdfium_c.FPDF_ANNOT | pdfium_c.FPDF_RENDER_NO_SMOOTHTEXT | pdfium_c.FPDF_RENDER_NO_SMOOTHPATH
)
_ROTATE_CCW = 3  # PDFium's rotation code for a quarter turn counter-clockwise
# Smallest text (in points, after scaling) that stays legible at each resolution.
SMALL_TEXT_PT = {Resolution.LOW: 7.0, Resolution.HIGH: 5.0}
_SMALL_TEXT_SHARE = 0.1  # warn when at least this share of a page's characters is smaller
_TEXT_SAMPLES = 120
MAX_PAGE_SIDE_PT = 14_400.0  # 200 in
MAX_IMAGE_PIXELS = 200_000_000  # per page, all images: about 600 dpi over four Letter sheets
_MAX_OBJECTS_SCANNED = 100_000
_MAX_FORM_DEPTH = 8
# A page this much covered by pictures is a photo or a scan: its light tones are content.
PHOTO_PAGE_SHARE = 0.5
_PAGE_METHODS = (bilevel.Method.PAGE_SCREEN, bilevel.Method.PAGE_DIFFUSION)


class PdfRefused(Exception):  # noqa: N818 - a verdict, caught by the caller
    """PDFium cannot open the file; ``reason`` says whether another renderer may try."""

    def __init__(self, reason: RefusalReason, detail: str, diagnostic: str = "") -> None:
        super().__init__(detail)
        self.reason = reason
        self.diagnostic = diagnostic


def open_pdf(source: Path | bytes) -> pdfium.PdfDocument:
    """Open a PDF, trying the empty user password; raise :class:`PdfRefused` if it can't."""
    try:
        pdf = pdfium.PdfDocument(source)
    except pdfium.PdfiumError as exc:
        code = getattr(exc, "err_code", None)
        if code in (pdfium_c.FPDF_ERR_PASSWORD, pdfium_c.FPDF_ERR_SECURITY):
            raise PdfRefused(
                RefusalReason.ENCRYPTED,
                "the PDF is password-protected; send a copy without a password",
            ) from exc
        raise PdfRefused(
            RefusalReason.CORRUPT, "the PDF is damaged and cannot be read", f"PDFium: {exc}"
        ) from exc
    return pdf


def render_pdf(pdf: pdfium.PdfDocument, sink: PageSink) -> None:
    """Render every page of ``pdf`` into ``sink``."""
    pdf.init_forms()  # before any page is loaded, so form field values are drawn
    count = len(pdf)
    if count == 0:
        raise Refused(RefusalReason.EMPTY, "the PDF has no pages")
    if count > sink.pages_left():
        raise Refused(
            RefusalReason.TOO_MANY_PAGES,
            f"{count} pages, more than the limit of {sink.options.max_pages}"
            + (" for the whole submission" if sink.earlier_pages else ""),
        )
    for index in range(count):
        sink.check()
        page = pdf[index]
        try:
            _render_page(page, index, sink)
        finally:
            page.close()


def _render_page(page: pdfium.PdfPage, index: int, sink: PageSink) -> None:
    fmt = sink.fmt
    width_pt, height_pt = page.get_size()  # already turned by the page's /Rotate
    if width_pt < 1 or height_pt < 1:
        raise Refused(RefusalReason.CORRUPT, "a page has no area")
    if max(width_pt, height_pt) > MAX_PAGE_SIDE_PT:
        # PDF's own limit (ISO 32000, annex C); a bigger page is a memory bomb, not a sheet.
        raise Refused(
            RefusalReason.TOO_LARGE,
            f"page {index + 1} is {max(width_pt, height_pt) / 72:.0f} in long; "
            f"the most a PDF page can be is {MAX_PAGE_SIDE_PT / 72:.0f} in",
        )
    pictures = _check_images(page, index)
    spot = geometry.place(width_pt / 72.0, height_pt / 72.0, fmt)
    rotate = _ROTATE_CCW if spot.rotate else 0
    boxes = textink.coloured_text_boxes(page)
    method = _page_method(pictures, width_pt * height_pt, sink)
    top = 0
    while top < spot.height:
        grey = sink.new_page()
        body = grey[fmt.band :]  # a C-contiguous view: PDFium draws straight into it
        bitmap = pdfium_c.FPDFBitmap_CreateEx(
            fmt.width,
            body.shape[0],
            pdfium_c.FPDFBitmap_Gray,
            body.ctypes.data_as(ctypes.c_void_p),
            fmt.width,
        )
        if not bitmap:
            raise MemoryError("PDFium could not create a page bitmap")
        try:
            args = (bitmap, page, spot.left, -top, spot.width, spot.height, rotate, _FLAGS)
            pdfium_c.FPDF_RenderPageBitmap(*args)
            if page.formenv:
                pdfium_c.FPDF_FFLDraw(page.formenv, *args)
        finally:
            pdfium_c.FPDFBitmap_Destroy(bitmap)
        placement = (spot.left, -top, spot.width, spot.height, rotate)
        if boxes:
            textink.solidify(body, page, boxes, placement)
        if method in _PAGE_METHODS:
            _keep_photo_tone(body, page, pictures, placement)
            page_method = method
        else:
            page_method = _picture_method(body, page, pictures, placement, method)
        lines = spot.height
        if spot.cut:
            # A long page: end this fax page in a white gap; the next one starts there.
            content = body[:, spot.left : spot.left + spot.width]
            lines = geometry.cut_rows(content, spot.height - top, fmt.lpi)
            body[lines:] = 255
        sink.add(grey, page_method)
        top += lines
    if index < 3 or index % 10 == 0:  # a document keeps its type sizes: sample, save 1 ms/page
        _check_text_size(page, spot.width / (width_pt if not spot.rotate else height_pt), sink)


def _page_method(pictures: list[textink.Box], area_pt: float, sink: PageSink) -> bilevel.Method:
    """The page's halftone: light tints dropped on document pages, not on picture pages.

    A picture page (a photo, a scanned page) is returned as the plain halftone; the caller
    classifies it once it is drawn (:func:`_picture_method`).
    """
    halftone = sink.halftone_method()
    if _is_picture_page(pictures, area_pt):
        return halftone
    if halftone is bilevel.Method.DIFFUSION:
        return bilevel.Method.PAGE_DIFFUSION
    return bilevel.Method.PAGE_SCREEN


def _is_picture_page(pictures: list[textink.Box], area_pt: float) -> bool:
    covered = sum((right - left) * (top - bottom) for left, bottom, right, top in pictures)
    return covered >= PHOTO_PAGE_SHARE * area_pt


def _picture_method(
    body: bilevel.Grey,
    page: pdfium.PdfPage,
    pictures: list[textink.Box],
    placement: tuple[int, int, int, int, int],
    halftone: bilevel.Method,
) -> bilevel.Method:
    """Classify a drawn picture page like an image file: a scan of paper is not a photo.

    Judged on the pictures' own area, so white margins do not make a photo look like paper.
    Text on tints is thresholded here, in place, against its local background.
    """
    device = textink.DeviceMap(page, placement, body.shape)
    areas = [area for box in pictures if (area := device.area(box))]
    if not areas:
        return halftone
    rows = slice(min(a[0].start for a in areas), max(a[0].stop for a in areas))
    cols = slice(min(a[1].start for a in areas), max(a[1].stop for a in areas))
    region = body[rows, cols]
    method = classify.picture(Image.fromarray(region), halftone)
    if method is bilevel.Method.ADAPTIVE:
        region[...] = threshold.adaptive(region, (region.shape[1], region.shape[0]))
        return bilevel.Method.THRESHOLD
    return method


def _keep_photo_tone(
    body: bilevel.Grey,
    page: pdfium.PdfPage,
    pictures: list[textink.Box],
    placement: tuple[int, int, int, int, int],
) -> None:
    """Give the pictures on a document page their photo tone (highlights not clipped)."""
    lut = bilevel.photo_tone_lut()
    device = textink.DeviceMap(page, placement, body.shape)
    for box in pictures:
        area = device.area(box)
        if area is not None:
            region = body[area]
            region[...] = lut[region]


def _check_images(page: pdfium.PdfPage, index: int) -> list[textink.Box]:
    """Refuse a page whose images would decode to more than ``MAX_IMAGE_PIXELS``.

    PDFium decodes an image's stream only when it draws it; its pixel size is known before,
    so a few kilobytes that inflate to gigabytes are refused without being inflated.
    Returns the bounds of the page's pictures: its images, and the forms that hold one.
    """
    width, height = ctypes.c_uint(), ctypes.c_uint()
    stack = [(pdfium_c.FPDFPage_CountObjects, pdfium_c.FPDFPage_GetObject, page.raw, None)]
    total = seen = 0
    pictures: dict[int, textink.Box] = {}
    while stack and seen < _MAX_OBJECTS_SCANNED:
        count_fn, get_fn, parent, outer = stack.pop()
        for i in range(count_fn(parent)):
            seen += 1
            obj = get_fn(parent, i)
            kind = pdfium_c.FPDFPageObj_GetType(obj)
            top_level = outer if outer is not None else obj
            if kind == pdfium_c.FPDF_PAGEOBJ_FORM and len(stack) < _MAX_FORM_DEPTH:
                stack.append((pdfium_c.FPDFFormObj_CountObjects, pdfium_c.FPDFFormObj_GetObject,
                              obj, top_level))  # fmt: skip
            elif kind == pdfium_c.FPDF_PAGEOBJ_IMAGE and pdfium_c.FPDFImageObj_GetImagePixelSize(
                obj, ctypes.byref(width), ctypes.byref(height)
            ):
                total += width.value * height.value
                # Bounds of an image inside a form are in the form's space: take the form's.
                address = ctypes.cast(top_level, ctypes.c_void_p).value or 0
                if address not in pictures and (box := textink.bounds(top_level)) is not None:
                    pictures[address] = box
    if total > MAX_IMAGE_PIXELS:
        raise Refused(
            RefusalReason.TOO_LARGE,
            f"the images of page {index + 1} hold {total / 1e6:.0f} million pixels "
            f"(the limit is {MAX_IMAGE_PIXELS / 1e6:.0f} million)",
        )
    return list(pictures.values())


def _check_text_size(page: pdfium.PdfPage, px_per_pt: float, sink: PageSink) -> None:
    """Warn when much of the page's text ends up smaller than the resolution can carry."""
    scale = px_per_pt / (geometry.X_DPI / 72.0)  # 1.0 = true size
    limit = SMALL_TEXT_PT[sink.options.resolution]
    textpage = page.get_textpage()
    try:
        count = textpage.count_chars()
        if count == 0:
            return
        step = max(1, count // _TEXT_SAMPLES)
        small = total = 0
        for i in range(0, count, step):
            if pdfium_c.FPDFText_GetUnicode(textpage, i) <= 32:
                continue  # spaces and line breaks have no size worth judging
            size = pdfium_c.FPDFText_GetFontSize(textpage, i) * scale
            total += 1
            small += size < limit
        if total and small / total >= _SMALL_TEXT_SHARE:
            hint = " at normal resolution; send in fine" if limit > 5 else ""
            sink.warn(
                WarningKind.SMALL_TEXT,
                f"{small / total:.0%} of the text is under {limit:g} pt and may be "
                f"unreadable{hint}",
            )
    finally:
        textpage.close()
