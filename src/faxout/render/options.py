"""What the caller asks of the renderer: resolution, paper, compression, halftone, limits."""

from __future__ import annotations

import enum
from dataclasses import dataclass

from faxout.jobs.model import Resolution

__all__ = ["Compression", "Halftone", "Paper", "RenderOptions", "Resolution"]


_PAPER_PT = {"a4": (595.276, 841.89), "letter": (612.0, 792.0), "legal": (612.0, 1008.0)}


class Paper(enum.Enum):
    """Paper the recipient prints on; fixes the page length in lines."""

    A4 = "a4"
    LETTER = "letter"
    LEGAL = "legal"

    @property
    def css_size(self) -> str:
        """The CSS ``@page`` size keyword (HTML documents and cover pages)."""
        return "A4" if self is Paper.A4 else self.value

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


class Compression(enum.StrEnum):
    """CCITT coding of fax pages, on file and on the line, in the order T.30 prefers them."""

    MH = "mh"  # T.4 1-D (Modified Huffman): every receiver takes it
    MR = "mr"  # T.4 2-D (Modified READ)
    MMR = "mmr"  # T.6 (Modified Modified READ): smallest, needs ECM on the line


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
    compression: Compression = Compression.MMR
    halftone: Halftone = Halftone.SCREEN
    max_pages: int = 500
    timeout_s: float = 120.0
    submission_timeout_s: float = 300.0
    header_band: bool = True  # keep the top lines blank for the sender's fax header line
