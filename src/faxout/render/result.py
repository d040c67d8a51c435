"""What rendering returns: pages written, warnings, or the reason a document was refused.

A refused document is a value (:class:`Refusal`), never an exception: the submission records
it and the report names the file and the reason. Exceptions (``faxout.errors.RenderError``)
mean the renderer itself broke.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from pathlib import Path


class RefusalReason(enum.Enum):
    """Why a document cannot become fax pages."""

    UNSUPPORTED = "unsupported type"
    CORRUPT = "corrupt"
    ENCRYPTED = "encrypted"
    EMPTY = "empty"
    TOO_MANY_PAGES = "too many pages"
    TIME_LIMIT = "time limit exceeded"
    TOO_LARGE = "too large"  # a page or image past the size any real document has
    CONVERTER_MISSING = "converter not installed"


@dataclass(frozen=True)
class Refusal:
    """A document that was not rendered, with a reason a user can read.

    ``detail`` is for the sender (the report): plain words. ``diagnostic`` is what the
    converter itself said, for the operator's log only.
    """

    reason: RefusalReason
    detail: str
    document: str = ""
    diagnostic: str = ""

    def __str__(self) -> str:
        where = f"{self.document}: " if self.document else ""
        return f"{where}{self.reason.value}: {self.detail}"


class WarningKind(enum.Enum):
    """Fax-safety findings: the fax will go through but may disappoint."""

    SMALL_TEXT = "small text"
    DARK_PAGE = "dark page"
    SLOW_PAGE = "slow page"
    BLOCKED_FETCH = "external content not loaded"
    BLANK_PAGE = "blank page"


@dataclass(frozen=True)
class FaxWarning:
    """One fax-safety finding on one output page (1-based within the document)."""

    kind: WarningKind
    page: int
    message: str
    document: str = ""

    def __str__(self) -> str:
        where = f"{self.document} " if self.document else ""
        return f"{where}page {self.page}: {self.message}"


@dataclass
class RenderResult:
    """Outcome of rendering a document or a submission into one TIFF-F file.

    ``refusal`` is set when a document was refused; ``pages`` and ``path`` then describe
    nothing useful and the output file is removed.
    """

    path: Path | None
    pages: int = 0
    warnings: list[FaxWarning] = field(default_factory=list)
    refusal: Refusal | None = None
    page_bytes: list[int] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True when every document rendered."""
        return self.refusal is None
