"""Helpers for render tests: read fax TIFFs back, make small PDFs with known marks."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pypdfium2 as pdfium
import pypdfium2.raw as pdfium_c
from PIL import Image

DATA = Path(__file__).with_name("data")


@dataclass
class FaxPage:
    black: npt.NDArray[np.bool_]  # True = black
    compression: int
    photometric: int
    dpi: tuple[float, float]
    strips: int

    @property
    def width(self) -> int:
        return int(self.black.shape[1])

    @property
    def height(self) -> int:
        return int(self.black.shape[0])

    def ratio(
        self, top: int = 0, bottom: int | None = None, left: int = 0, right: int | None = None
    ) -> float:
        region = self.black[top:bottom, left:right]
        return float(region.mean()) if region.size else 0.0

    def bbox(self) -> tuple[int, int, int, int]:
        """(top, bottom, left, right) of the black pixels, bottom/right exclusive."""
        rows = np.flatnonzero(self.black.any(axis=1))
        cols = np.flatnonzero(self.black.any(axis=0))
        return int(rows[0]), int(rows[-1]) + 1, int(cols[0]), int(cols[-1]) + 1


def read_fax(path: Path) -> list[FaxPage]:
    """Decode every page of a TIFF-F file (Pillow's libtiff decoder, independent of ours)."""
    pages = []
    with Image.open(path) as image:
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)
            tags = image.tag_v2
            assert image.mode == "1"
            pages.append(
                FaxPage(
                    black=~np.asarray(image),  # Pillow gives True = white for MinIsWhite
                    compression=int(tags[259]),
                    photometric=int(tags[262]),
                    dpi=(float(tags[282]), float(tags[283])),
                    strips=len(tags[273]),
                )
            )
    return pages


@dataclass
class Rect:
    """A filled rectangle in PDF points from the page's bottom-left corner."""

    x: float
    y: float
    w: float
    h: float
    grey: int = 0  # 0 black .. 255 white


@dataclass
class Page:
    width: float
    height: float
    rects: list[Rect] = field(default_factory=list)
    rotation: int = 0


def make_pdf(path: Path, pages: list[Page]) -> Path:
    """Write a PDF of filled rectangles: marks whose output position tests can predict."""
    pdf = pdfium.PdfDocument.new()
    for spec in pages:
        page = pdf.new_page(spec.width, spec.height)
        for rect in spec.rects:
            obj = pdfium_c.FPDFPageObj_CreateNewRect(rect.x, rect.y, rect.w, rect.h)
            pdfium_c.FPDFPageObj_SetFillColor(obj, rect.grey, rect.grey, rect.grey, 255)
            pdfium_c.FPDFPath_SetDrawMode(obj, pdfium_c.FPDF_FILLMODE_ALTERNATE, False)
            pdfium_c.FPDFPage_InsertObject(page, obj)
        page.gen_content()
        if spec.rotation:
            page.set_rotation(spec.rotation)
        page.close()
    pdf.save(path)
    pdf.close()
    return path
