"""Rendering: documents a user sends become TIFF-F fax pages.

Public API (everything else in this package is internal)::

    from faxout.render import RenderOptions, render_submission

    result = render_submission([Path("a.pdf"), Path("b.docx")], Path("out.tif"), RenderOptions())
    if result.refusal:            # a value: the document named in it cannot be faxed
        ...
    result.pages, result.warnings

See ``docs/rendering.md`` for the geometry, halftone and converter choices.
"""

from __future__ import annotations

import importlib
from typing import Any

# Loaded on first use (PEP 562): importing a light module of this package (the header format,
# the paper sizes) must not load PDFium, Pillow and WeasyPrint into every CLI command and into
# the jailed page step of every call.
_WHERE = {
    "CoverSheet": "cover",
    "render_cover": "cover",
    "render_document": "document",
    "render_submission": "document",
    "Compression": "options",
    "Halftone": "options",
    "Paper": "options",
    "RenderOptions": "options",
    "Resolution": "options",
    "RenderPool": "pool",
    "FaxWarning": "result",
    "Refusal": "result",
    "RefusalReason": "result",
    "RenderResult": "result",
    "WarningKind": "result",
}


def __getattr__(name: str) -> Any:
    module = _WHERE.get(name)
    if module is None:
        raise AttributeError(f"module 'faxout.render' has no attribute {name!r}")
    return getattr(importlib.import_module(f"faxout.render.{module}"), name)


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
