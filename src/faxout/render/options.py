"""What the caller asks of the renderer: resolution, paper, compression, halftone, limits."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Resolution(enum.Enum):
    """Vertical fax resolution; horizontal is always 204 dpi (1728 px over 215 mm)."""

    LOW = "low"  # 204 x 98, "normal" / standard
    HIGH = "high"  # 204 x 196, "fine"

    @property
    def lpi(self) -> int:
        """Lines per inch of this resolution."""
        return 98 if self is Resolution.LOW else 196


_PAPER_PT = {"a4": (595.276, 841.89), "letter": (612.0, 792.0), "legal": (612.0, 1008.0)}


class Paper(enum.Enum):
    """Paper the recipient prints on; fixes the page length in lines."""

    A4 = "a4"
    LETTER = "letter"
    LEGAL = "legal"

    @property
    def size_pt(self) -> tuple[float, float]:
        """(width, height) in PDF points."""
        return _PAPER_PT[self.value]

    @classmethod
    def for_destination(cls, number: str, home: str, chosen: str = "") -> Paper:
        """The paper the receiving machine most likely holds: the account's own choice when
        it made one (``chosen``), else Letter in North America (``+1``, the NANP) and A4
        elsewhere. A number without its country code (``5551001``) is in the sender's
        country, told by the account's own number ``home`` (digits with the country code)."""
        if chosen:
            return cls(chosen)
        country = number[1:] if number.startswith("+") else home
        return cls.LETTER if country.startswith("1") else cls.A4


class Compression(enum.Enum):
    """CCITT coding of the output pages."""

    G4 = "g4"  # T.6 MMR: smallest, needs ECM on the line
    G3_2D = "g3-2d"  # T.4 MR
    G3_1D = "g3-1d"  # T.4 MH: every receiver takes it


class Halftone(enum.Enum):
    """How grey and colour areas become black and white."""

    SCREEN = "screen"  # clustered dot: compact, the default
    DIFFUSION = "diffusion"  # Floyd-Steinberg: best photos, 2-4x the bytes (the "photo" option)


@dataclass(frozen=True)
class RenderOptions:
    """Options for one submission. Every field has a safe default.

    ``timeout_s`` bounds each document and ``submission_timeout_s`` all of them together;
    ``max_pages`` counts the pages of the whole submission. A submission over any of them is
    refused (a value, not an exception), so no sender holds a worker longer than
    ``submission_timeout_s`` however many documents it attaches.
    """

    resolution: Resolution = Resolution.HIGH
    paper: Paper = Paper.A4
    compression: Compression = Compression.G4
    halftone: Halftone = Halftone.SCREEN
    max_pages: int = 500
    timeout_s: float = 120.0
    submission_timeout_s: float = 300.0
    header_band: bool = True  # keep the top lines blank for the sender's fax header line
