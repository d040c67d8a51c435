"""Fax pages for the transmit tests: generated with Pillow, and compared pixel by pixel."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

DATA = Path(__file__).parent / "data"
ITU_CHARTS = sorted((DATA / "itu").glob("ccitt-itu*.tif"))
FINE = (204, 196)
STANDARD = (204, 98)


def text_page(seed: int, rows: int = 1100) -> Image.Image:
    """A bilevel 1728-px page of text lines, boxes and a checker patch, varied by ``seed``."""
    img = Image.new("1", (1728, rows), 1)
    draw = ImageDraw.Draw(img)
    rng = np.random.default_rng(seed)
    for i in range(rows // 60):
        words = " ".join(f"w{int(x)}" for x in rng.integers(0, 10_000, 20))
        draw.text((40 + (seed * 7) % 50, 30 + i * 55), f"{seed}:{i} {words}", fill=0)
    x = 100 + 60 * (seed % 10)
    draw.rectangle((x, rows // 2, x + 400, rows // 2 + 120), outline=0, width=3)
    checker = (np.indices((64, 64)).sum(axis=0) % 2).astype(bool)
    img.paste(Image.fromarray(~checker), (1500, rows // 3))
    return img


def write_tiff(
    path: Path,
    pages: list[Image.Image],
    dpi: tuple[int, int] = FINE,
    compression: str = "group4",
) -> Path:
    """Save ``pages`` as a multi-page bilevel TIFF."""
    pages[0].save(path, compression=compression, dpi=dpi, save_all=True, append_images=pages[1:])
    return path


def read_pages(path: Path) -> list[npt.NDArray[np.bool_]]:
    """Every page of a TIFF as a boolean array (True = white), photometric applied."""
    out: list[npt.NDArray[np.bool_]] = []
    with Image.open(path) as img:
        for index in range(getattr(img, "n_frames", 1)):
            img.seek(index)
            out.append(np.array(img.convert("1"), dtype=bool))
    return out


def assert_same_pages(sent: Path, received: Path | None) -> None:
    """The received TIFF holds exactly the sent pages, pixel for pixel."""
    assert received is not None and received.exists()
    a, b = read_pages(sent), read_pages(received)
    assert len(a) == len(b)
    for n, (x, y) in enumerate(zip(a, b, strict=True), start=1):
        assert x.shape == y.shape, f"page {n}: {x.shape} != {y.shape}"
        diff = int(np.count_nonzero(x != y))
        assert diff == 0, f"page {n}: {diff} pixels differ"
