"""Fax TIFFs for the inbound tests: N distinct pages, G4, at a fax resolution."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw


def fax_tiff(
    path: Path, pages: int, *, height: int = 2200, dpi: tuple[int, int] = (204, 196)
) -> Path:
    """A ``pages``-page bilevel TIFF, 1728 pixels across; page n carries n bars."""
    images = []
    for n in range(1, pages + 1):
        image = Image.new("1", (1728, height), 1)
        draw = ImageDraw.Draw(image)
        for bar in range(n):
            draw.rectangle((100 + bar * 120, 200, 180 + bar * 120, 600), fill=0)
        images.append(image)
    images[0].save(path, save_all=True, append_images=images[1:], compression="group4", dpi=dpi)
    return path
