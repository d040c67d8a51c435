"""Where a source page lands on fax pages: scale, rotation, centring, splitting, header band.

Scaling choice (see docs/rendering.md): a fax line is 1728 px over 215 mm, i.e. 204 dpi, and
lines are 196 (fine) or 98 (normal) per inch. We keep the true aspect on paper: one source
inch becomes ``204 * s`` pixels across and ``lpi * s`` lines down, with one scale ``s`` chosen
so the page fits the printable area (1728 px wide, the paper's length in lines minus the
header band). So an A4 page on A4 paper comes out at 98.3 % of true size and a Letter page on
Letter at 98.2 % (both limited by the length left under the band), centred, instead of the
HylaFAX stretch of A4 to the full width (2.4 % wider than true, and the header over the
top margin).

Landscape sources are turned a quarter counter-clockwise (the top of the content on the left
edge, as printers do) when that gives a clearly larger scale; a turned page is fitted whole and
never cut. A page that fits one page when scaled to fit stays one page. Only pages much longer
than the paper (web pages, receipts: fitting them whole would shrink them below half their
fit-to-width scale) are fitted to the width and cut into several fax pages, so nothing is ever
truncated; each cut falls in the whitest band of rows near the end of the page
(:func:`cut_rows`), between text lines rather than through one.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from faxout.render.options import Paper, Resolution

FAX_WIDTH = 1728
X_DPI = 204.0
HEADER_BAND_IN = 0.2  # ~5 mm: room for HylaFAX's tag line (about 4 mm at fine)
# Cut a long page instead of shrinking it below this fraction of its fit-to-width scale: a
# page more than twice as long as the paper's proportions. A phone screenshot (about 1:2.2,
# 1.7 times Letter's proportions) still goes on one page.
SPLIT_BELOW = 0.5
# Turn a landscape page when that enlarges it by at least this factor.
ROTATE_GAIN = 1.1
# A page this many lines over the printable height is rounding, not a reason to cut.
FIT_SLACK = 2
# Where a cut may fall: in the last quarter of the page, so a page is at least 3/4 full.
CUT_SEARCH = 0.25
# A row counts as white as the whitest row of the search when its ink is within this many
# black pixels of it: vertical table rules cross every row, a glyph's descender does not.
CUT_TOLERANCE_PX = 3


@dataclass(frozen=True)
class PageFormat:
    """The output page raster for one paper and resolution.

    Every page is exactly ``height`` lines, the paper's length: the header band is part of
    the page, not added above it.
    """

    width: int
    height: int  # lines per fax page
    band: int  # blank lines at the top reserved for the fax header
    lpi: int

    @property
    def printable_height(self) -> int:
        """Lines available to content below the header band."""
        return self.height - self.band


def page_format(paper: Paper, resolution: Resolution, header_band: bool = True) -> PageFormat:
    """The fax page raster for ``paper`` at ``resolution``."""
    lpi = resolution.lpi
    height = round(paper.size_pt[1] / 72.0 * lpi)
    band = round(HEADER_BAND_IN * lpi) if header_band else 0
    return PageFormat(width=FAX_WIDTH, height=height, band=band, lpi=lpi)


@dataclass(frozen=True)
class Placement:
    """How one source page maps onto one or more fax pages.

    ``width`` x ``height`` is the scaled (and possibly rotated) content in output pixels;
    ``left`` centres it. When ``cut`` is set the content is longer than a page and is cut
    into pages with :func:`cut_rows`; otherwise it is one page, drawn below the header band.
    """

    rotate: bool  # a quarter turn counter-clockwise
    width: int
    height: int
    left: int
    cut: bool


def place(
    width_in: float, height_in: float, fmt: PageFormat, *, max_scale: float = math.inf
) -> Placement:
    """Place a source page of ``width_in`` x ``height_in`` inches on fax pages.

    ``max_scale`` bounds enlargement: 1.0 keeps a small source (an image with a trustworthy
    dpi) at true size instead of blowing it up to the full width.
    """
    if width_in <= 0 or height_in <= 0 or max_scale <= 0:
        raise ValueError("page size and scale must be positive")
    upright = min(max_scale, _fit_scale(width_in, height_in, fmt))
    turned = min(max_scale, _fit_scale(height_in, width_in, fmt))
    rotate = width_in > height_in and turned >= upright * ROTATE_GAIN
    w_in, h_in = (height_in, width_in) if rotate else (width_in, height_in)
    across = min(max_scale, fmt.width / (w_in * X_DPI))
    scale = min(across, fmt.printable_height / (h_in * fmt.lpi))
    # A turned page is landscape content: it always fits whole (it is wider than long).
    long_page = not rotate and scale < across * SPLIT_BELOW
    if long_page:
        scale = across  # fill the width (or the size cap) and cut into pages below
    width = max(1, min(fmt.width, round(w_in * X_DPI * scale)))
    height = max(1, round(h_in * fmt.lpi * scale))
    if not long_page:
        height = min(height, fmt.printable_height)  # a line of rounding never makes a page
    return Placement(rotate, width, height, (fmt.width - width) // 2, long_page)


def _fit_scale(width_in: float, height_in: float, fmt: PageFormat) -> float:
    return min(fmt.width / (width_in * X_DPI), fmt.printable_height / (height_in * fmt.lpi))


def cut_rows(rows: npt.NDArray[np.uint8], remaining: int, lpi: int) -> int:
    """How many lines of a long page go on the current fax page.

    ``rows`` is the next page's worth of the scaled grey content (0 = black), starting at the
    previous cut; ``remaining`` is how many lines of content are left in all. The last page
    takes what is left. Otherwise the cut falls in the last quarter of the page, at the
    lowest row of the whitest band there: darkness is summed across each row, a band of
    about half a millimetre around the row must be as white as the whitest row found (within
    ``CUT_TOLERANCE_PX`` black pixels, so vertical rules do not stop a cut), and so the cut
    runs in the white gap between two lines of text, never through one.
    """
    avail = int(rows.shape[0])
    if remaining <= avail + FIT_SLACK:
        return min(remaining, avail)
    lowest = max(1, avail - int(avail * CUT_SEARCH))
    window = rows[lowest:avail]
    ink = (255 - window.astype(np.int32)).sum(axis=1)
    half = max(1, lpi // 98)  # 2 lines at fine, 1 at normal: about 0.25 mm each side
    padded = np.pad(ink, half, mode="edge")
    band = np.max(
        np.lib.stride_tricks.sliding_window_view(padded, 2 * half + 1), axis=1
    )  # the darkest row within the band around each row
    whitest = int(band.min())
    candidates = np.flatnonzero(band <= whitest + CUT_TOLERANCE_PX * 255)
    return lowest + int(candidates[-1]) + 1
