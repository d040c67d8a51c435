"""Reading the fax header a page carries in its band, as a person would: with OCR."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import numpy.typing as npt
from PIL import Image

from faxout.render.geometry import HEADER_BAND_IN


def band_rows(lpi: int) -> int:
    """Rows of the header band at ``lpi`` lines per inch."""
    return round(HEADER_BAND_IN * lpi)


def band_text(page: npt.NDArray[np.bool_], lpi: int) -> str:
    """The text tesseract reads in the header band of ``page`` (True = white)."""
    tesseract = shutil.which("tesseract")
    assert tesseract, "tesseract is missing: `make test` installs it (deps/apt-test.txt)"
    band = page[: band_rows(lpi)]
    img = Image.fromarray(band.astype(np.uint8) * 255)
    # Square pixels (normal resolution is 204 x 98) and a size tesseract reads best.
    img = img.resize((img.width * 2, img.height * 2 * (196 // lpi)), Image.Resampling.LANCZOS)
    framed = Image.new("L", (img.width + 40, img.height + 40), 255)
    framed.paste(img, (20, 20))
    out = subprocess.run(
        [tesseract, "stdin", "stdout", "--psm", "7", "-l", "eng"],
        input=_png(framed),
        capture_output=True,
        check=True,
        timeout=60,
    )
    return " ".join(out.stdout.decode("utf-8", "replace").split())


def _png(img: Image.Image) -> bytes:
    import io

    buf = io.BytesIO()
    img.save(buf, format="PNG")
    return buf.getvalue()
