"""Rendering: documents a user sends become TIFF-F fax pages.

Public API (everything else in this package is internal)::

    from faxout.render import RenderOptions, render_submission

    result = render_submission([Path("a.pdf"), Path("b.docx")], Path("out.tif"), RenderOptions())
    if result.refusal:            # a value: the document named in it cannot be faxed
        ...
    result.pages, result.warnings

See ``docs/rendering.md`` for the geometry, halftone and converter choices.
"""

from faxout.render.cover import CoverSheet, render_cover
from faxout.render.document import render_document, render_submission
from faxout.render.options import Compression, Halftone, Paper, RenderOptions, Resolution
from faxout.render.pool import RenderPool
from faxout.render.result import (
    FaxWarning,
    Refusal,
    RefusalReason,
    RenderResult,
    WarningKind,
)

__all__ = [
    "Compression",
    "CoverSheet",
    "FaxWarning",
    "Halftone",
    "Paper",
    "Refusal",
    "RefusalReason",
    "RenderOptions",
    "RenderPool",
    "RenderResult",
    "Resolution",
    "WarningKind",
    "render_cover",
    "render_document",
    "render_submission",
]
