"""Where converters put finished grey pages: bilevel, encode, write, check, count.

Converters only produce grey rasters of the exact fax page size; the sink turns each into
bilevel with the method the converter chose, writes it at once (nothing accumulates), and
enforces the page limit and the wall-clock deadline between pages. Hitting a limit raises
:class:`Refused`, which ``render_document`` turns into a refusal value.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from faxout.render import bilevel
from faxout.render.geometry import PageFormat
from faxout.render.options import Halftone, RenderOptions
from faxout.render.result import FaxWarning, Refusal, RefusalReason, WarningKind
from faxout.render.tiff import TiffFWriter

DARK_PAGE_RATIO = 0.35  # more black than this wastes toner and line time, and smears
SLOW_PAGE_BYTES = 100 * 1024  # about a minute at 14.4 kbit/s
LINE_BITS_PER_S = 14_400


class Refused(Exception):  # noqa: N818 - control flow inside the renderer, not an error
    """Raised inside a converter to stop with a refusal; never leaves the package."""

    def __init__(self, reason: RefusalReason, detail: str, diagnostic: str = "") -> None:
        super().__init__(detail)
        self.refusal = Refusal(reason, detail, diagnostic=diagnostic)


@dataclass
class PageSink:
    """Collects one document's pages into a shared writer.

    The limits are the submission's: ``deadline`` is the earlier of this document's and the
    whole submission's, and ``options.max_pages`` counts every page already in the writer.
    """

    writer: TiffFWriter
    fmt: PageFormat
    options: RenderOptions
    deadline: float  # time.monotonic() value
    submission_deadline: float = float("inf")
    pages: int = 0
    warnings: list[FaxWarning] = field(default_factory=list)
    page_bytes: list[int] = field(default_factory=list)
    on_page: Callable[[int], None] | None = None  # in-process progress (the CLI's bar)

    _canvas: bilevel.Grey | None = None
    _black: bilevel.Black | None = None

    def new_page(self) -> bilevel.Grey:
        """A white page of the output size to draw on.

        The same buffer is handed out for every page (pages are finished one at a time):
        refilling mapped memory is several times cheaper than a fresh 4 MB array.
        """
        if self._canvas is None:
            self._canvas = np.empty((self.fmt.height, self.fmt.width), dtype=np.uint8)
            self._black = np.empty((self.fmt.height, self.fmt.width), dtype=np.bool_)
        self._canvas.fill(255)
        return self._canvas

    def halftone_method(self) -> bilevel.Method:
        """Method for mixed or photo content, from the submission's halftone option."""
        if self.options.halftone is Halftone.DIFFUSION:
            return bilevel.Method.DIFFUSION
        return bilevel.Method.SCREEN

    @property
    def earlier_pages(self) -> int:
        """Pages the submission's earlier documents wrote."""
        return self.writer.pages - self.pages

    def pages_left(self) -> int:
        """Pages this document may still add within the submission's page limit."""
        return self.options.max_pages - self.writer.pages

    def time_left(self) -> float:
        """Seconds until the earlier of the document's and the submission's deadline."""
        return min(self.deadline, self.submission_deadline) - time.monotonic()

    def check(self) -> None:
        """Refuse when the document or the submission has run past its time or page limit."""
        now = time.monotonic()
        if now > self.submission_deadline:
            raise Refused(
                RefusalReason.TIME_LIMIT,
                f"rendering the submission took longer than {self.options.submission_timeout_s:g} s"
                " in all",
            )
        if now > self.deadline:
            raise Refused(
                RefusalReason.TIME_LIMIT,
                f"rendering took longer than {self.options.timeout_s:g} s",
            )
        if self.pages_left() <= 0:
            where = " in the submission" if self.earlier_pages else ""
            raise Refused(
                RefusalReason.TOO_MANY_PAGES,
                f"more than {self.options.max_pages} pages{where}",
            )

    def add(self, grey: bilevel.Grey, method: bilevel.Method) -> None:
        """Convert, write and check one finished page."""
        self.check()
        out = self._black if self._black is not None and self._black.shape == grey.shape else None
        black = bilevel.to_black(grey, method, lpi=self.fmt.lpi, out=out)
        size = self.writer.add_page(black)
        self.pages += 1
        self.page_bytes.append(size)
        self._safety(black, size)
        if self.on_page is not None:
            self.on_page(self.pages)

    def warn(self, kind: WarningKind, message: str, page: int | None = None) -> None:
        """Record a fax-safety warning (page defaults to the last written one)."""
        self.warnings.append(FaxWarning(kind, page if page is not None else self.pages, message))

    def _safety(self, black: bilevel.Black, size: int) -> None:
        sample = black[::4, ::4]  # 1/16 of the pixels estimates the share well enough
        ratio = float(np.count_nonzero(sample)) / sample.size
        if ratio == 0 and not black.any():
            self.warn(WarningKind.BLANK_PAGE, "blank page (is that intended?)")
        if ratio > DARK_PAGE_RATIO:
            self.warn(
                WarningKind.DARK_PAGE,
                f"{ratio:.0%} black: dark areas smear on fax and slow the transmission",
            )
        if size > SLOW_PAGE_BYTES:
            seconds = size * 8 / LINE_BITS_PER_S
            self.warn(
                WarningKind.SLOW_PAGE,
                f"{size // 1024} KiB, about {seconds:.0f} s at 14.4 kbit/s (photo-heavy page)",
            )
