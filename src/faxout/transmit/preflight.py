"""TIFF preflight: refuse what spandsp 0.0.6 would silently mangle, before the line is seized.

spandsp only opens the document at phase B, seconds into the call, and some defects do not even
fail there: a tiled TIFF goes out as an empty page with both ends reporting OK, and a page with
no resolution tags goes out as standard resolution (printed twice as tall). So every document is
checked first; a refusal is a value with a reason, not an exception.

The check is made once per attempt, before any transport (``transmit.attempt``), and handed to
the transport in ``FaxCall.checked``; ``checked`` makes it for a transport used on its own
(``faxout sim``, ``faxout sip-send``) and ``refused`` is the one result a refusal gives.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PIL import Image, TiffImagePlugin, UnidentifiedImageError

from faxout.transmit.result import CallResult, FaxCall, Outcome

FAX_WIDTH = 1728  # R8 (204 dpi) × 215 mm, the width every fax machine takes
X_DPI = 204.0
Y_DPIS = {"standard": 98.0, "fine": 196.0, "superfine": 391.0}
TOLERANCE = 0.05  # spandsp matches resolutions within ±5 %

_TILE_WIDTH, _TILE_LENGTH, _TILE_OFFSETS = 322, 323, 324
_BITS, _SAMPLES, _XRES, _YRES, _UNIT = 258, 277, 282, 283, 296


@dataclass(frozen=True)
class Preflight:
    """The verdict on a document: ``reason`` is None when it may be sent."""

    path: Path
    pages: int
    resolution: str | None
    reason: str | None

    @property
    def ok(self) -> bool:
        """True when the document may be sent as is."""
        return self.reason is None


def _dpi(value: object, unit: int) -> float | None:
    if value is None:
        return None
    dpi = float(value)  # type: ignore[arg-type]  # IFDRational and plain numbers both convert
    return dpi * 2.54 if unit == 3 else dpi


def _near(value: float, target: float) -> bool:
    return abs(value - target) <= target * TOLERANCE


def _check_page(tags: TiffImagePlugin.ImageFileDirectory_v2, page: int) -> tuple[str | None, str]:
    """Return (reason or None, resolution name) for one directory."""
    where = f"page {page}"
    if _TILE_WIDTH in tags or _TILE_LENGTH in tags or _TILE_OFFSETS in tags:
        return f"{where} is tiled; fax pages must be stored in strips", ""
    bits = tags.get(_BITS)
    if bits is None:
        return f"{where} has no BitsPerSample tag; fax pages must say 1 bit per sample", ""
    bits_values = bits if isinstance(bits, tuple) else (bits,)
    if any(int(b) != 1 for b in bits_values):
        return f"{where} has {bits_values[0]} bits per sample; fax pages are 1-bit black/white", ""
    if int(tags.get(_SAMPLES, 1)) != 1:
        return f"{where} has {tags.get(_SAMPLES)} samples per pixel; fax pages have 1", ""
    width = int(tags.get(256, 0))
    if width != FAX_WIDTH:
        return f"{where} is {width} pixels wide; fax pages must be exactly {FAX_WIDTH}", ""
    unit = int(tags.get(_UNIT, 2))
    if unit not in (2, 3):
        return f"{where} has no absolute resolution unit (ResolutionUnit={unit})", ""
    xdpi, ydpi = _dpi(tags.get(_XRES), unit), _dpi(tags.get(_YRES), unit)
    if xdpi is None or ydpi is None:
        return f"{where} has no resolution tags; spandsp would send it as standard", ""
    if not _near(xdpi, X_DPI):
        return f"{where} is {xdpi:.0f} dpi across; fax pages are {X_DPI:.0f} dpi", ""
    for name, target in Y_DPIS.items():
        if _near(ydpi, target):
            return None, name
    return f"{where} is {ydpi:.0f} dpi down; fax pages are 98, 196 or 391 dpi", ""


def preflight(path: Path) -> Preflight:
    """Check every page of a TIFF for what a fax call can carry unchanged.

    Refuses: unreadable files, tiles, a missing or wrong BitsPerSample, more than one sample per
    pixel, width other than 1728, missing resolution or unit, resolutions that are not
    204 × 98/196/391 dpi (±5 %), and pages of differing resolution.
    """
    try:
        with Image.open(path) as img:
            if not isinstance(img, TiffImagePlugin.TiffImageFile):
                return Preflight(path, 0, None, f"not a TIFF file (it is {img.format})")
            pages = 0
            resolution: str | None = None
            for index in range(getattr(img, "n_frames", 1)):
                img.seek(index)
                pages += 1
                reason, name = _check_page(img.tag_v2, index + 1)
                if reason is not None:
                    return Preflight(path, pages, None, reason)
                if resolution is not None and name != resolution:
                    return Preflight(
                        path, pages, None, f"page {pages} is {name}, earlier pages {resolution}"
                    )
                resolution = name
    except (OSError, UnidentifiedImageError, ValueError, SyntaxError) as exc:
        return Preflight(path, 0, None, f"cannot read the TIFF: {exc}")
    if pages == 0:
        return Preflight(path, 0, None, "the TIFF has no pages")
    return Preflight(path, pages, resolution, None)


def checked(call: FaxCall) -> Preflight:
    """The verdict on ``call.document``: the caller's (``call.checked``), else made now."""
    return call.checked if call.checked is not None else preflight(call.document)


def refused(check: Preflight) -> CallResult:
    """The result of a call that was never placed because its document failed ``check``."""
    return CallResult(Outcome.FAILED, None, f"document refused: {check.reason}", check.pages, 0, 0)
