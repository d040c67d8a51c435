"""What a received TIFF holds: its readable pages, each with its size and resolution.

The file is one that spandsp (or HylaFAX) wrote while the fax came in. A reception that broke
off, or a receiver killed mid-page, leaves the pages written before complete and the page in
progress absent (libtiff links a page into the file only when it is finished), so counting
the pages that decode counts the pages that arrived whole.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, UnidentifiedImageError

log = logging.getLogger("faxout.inbound")


@dataclass(frozen=True)
class PageImage:
    """One page: pixels across and down, dots per inch across and down."""

    width: int
    height: int
    x_dpi: float
    y_dpi: float

    @property
    def resolution(self) -> str:
        """``204x196`` (as fax people say it)."""
        return f"{round(self.x_dpi)}x{round(self.y_dpi)}"


def dpi_of(image: Image.Image) -> tuple[float, float]:
    """Dots per inch across and down, as the file says (fax fine when it says nothing)."""
    dpi = image.info.get("dpi")
    if isinstance(dpi, tuple) and len(dpi) == 2 and all(float(d) > 0 for d in dpi):
        return float(dpi[0]), float(dpi[1])
    return 204.0, 196.0  # fax fine, when the file says nothing


def read_pages(path: Path) -> list[PageImage]:
    """The pages of ``path`` that decode, in order; [] for a file with none (or no file)."""
    pages: list[PageImage] = []
    try:
        with Image.open(path) as image:
            frame = 0
            while True:
                try:
                    image.seek(frame)
                    image.load()
                except EOFError:
                    break
                except (OSError, ValueError, SyntaxError) as exc:
                    log.info(
                        "%s: page %d does not decode (%s); kept %d", path, frame + 1, exc, frame
                    )
                    break
                x_dpi, y_dpi = dpi_of(image)
                pages.append(PageImage(image.width, image.height, x_dpi, y_dpi))
                frame += 1
    except FileNotFoundError:
        return []
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        log.info("%s is not a readable TIFF (%s)", path, exc)
        return []
    return pages
