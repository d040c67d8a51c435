"""The renderer's entry points: documents in, one TIFF-F file out, or a refusal.

``render_submission`` renders a submission's documents in order into one multi-page TIFF-F;
``render_document`` is the one-document case. A document that cannot be faxed gives a
:class:`~faxout.render.result.Refusal` in the result (and no output file); exceptions mean
the renderer broke (``faxout.errors.RenderError``) and are never used for bad input.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from faxout.errors import RenderError
from faxout.render import ghostscript, html, office, pdf, text
from faxout.render.detect import Detected, Kind, detect
from faxout.render.geometry import page_format
from faxout.render.image import render_image
from faxout.render.options import RenderOptions
from faxout.render.result import Refusal, RefusalReason, RenderResult, WarningKind
from faxout.render.sink import PageSink, Refused
from faxout.render.tiff import TiffFWriter
from faxout.sandbox import workspace


def render_document(
    path: Path, out_path: Path, options: RenderOptions | None = None
) -> RenderResult:
    """Render one document to ``out_path`` (TIFF-F). See :func:`render_submission`."""
    return render_submission([path], out_path, options)


def render_submission(
    documents: Sequence[Path],
    out_path: Path,
    options: RenderOptions | None = None,
    *,
    on_page: Callable[[str, int], None] | None = None,
) -> RenderResult:
    """Render ``documents`` in order into one TIFF-F file at ``out_path``.

    Returns the page count, per-page byte sizes and fax-safety warnings; or, if any document
    is refused, a result whose ``refusal`` names the document and the reason (the partial
    output file is removed). Each document has its own ``options.timeout_s``; the submission
    as a whole has ``options.submission_timeout_s`` and ``options.max_pages``.
    ``on_page(document name, pages so far)`` reports progress
    (in-process calls only).
    """
    options = options or RenderOptions()
    if not documents:
        return RenderResult(None, refusal=Refusal(RefusalReason.EMPTY, "no documents"))
    fmt = page_format(options.paper, options.resolution, options.header_band)
    result = RenderResult(path=out_path)
    refusal: Refusal | None = None
    ends = time.monotonic() + options.submission_timeout_s
    try:
        with TiffFWriter(out_path, lpi=fmt.lpi, compression=options.compression) as writer:
            for document in documents:
                sink = PageSink(writer, fmt, options, time.monotonic() + options.timeout_s, ends)
                if on_page is not None:
                    sink.on_page = lambda n, name=document.name: on_page(name, n)
                refusal = _render_into(document, sink)
                if refusal is None and sink.pages == 0:
                    refusal = Refusal(RefusalReason.EMPTY, "no pages")
                name = document.name
                result.warnings += [dataclasses.replace(w, document=name) for w in sink.warnings]
                result.page_bytes += sink.page_bytes
                if refusal is not None:
                    refusal = dataclasses.replace(refusal, document=name)
                    break
            result.pages = writer.pages
    except BaseException:
        out_path.unlink(missing_ok=True)
        raise
    if refusal is not None:
        out_path.unlink(missing_ok=True)  # a submission is faxed whole or not at all
        return RenderResult(path=None, refusal=refusal, warnings=result.warnings)
    return result


def _render_into(path: Path, sink: PageSink) -> Refusal | None:
    try:
        found = detect(path)
        if isinstance(found, Refusal):
            return found
        with workspace.current().temp_dir("render-") as workdir:
            _convert(path, found, sink, workdir)
    except Refused as refused:
        if refused.refusal.reason is RefusalReason.TOO_MANY_PAGES and sink.earlier_pages:
            # Converters count their own pages; the limit the sender hit is the submission's.
            limit = sink.options.max_pages
            return Refusal(
                RefusalReason.TOO_MANY_PAGES, f"more than {limit} pages in the submission"
            )
        return refused.refusal
    except MemoryError:
        # The worker's memory cap (render.worker_memory_mb) stopped it: a verdict on the
        # document, like a page too large, not a broken renderer.
        return Refusal(RefusalReason.TOO_LARGE, "it needs more memory than a fax document may use")
    return None


def _remaining(sink: PageSink) -> float:
    remaining = sink.time_left()
    if remaining <= 0:
        sink.check()  # raises the time-limit refusal
    return remaining


def _convert(path: Path, found: Detected, sink: PageSink, workdir: Path) -> None:
    kind = found.kind
    if kind is Kind.PDF:
        _render_pdf_file(path, sink, workdir)
    elif kind is Kind.IMAGE:
        render_image(path, sink)
    elif kind is Kind.TEXT:
        document = text.layout(path.read_bytes(), sink.options.paper, sink.pages_left())
        try:
            pdf.render_pdf(document, sink)
        finally:
            document.close()
    elif kind is Kind.POSTSCRIPT:
        converted = ghostscript.to_pdf(
            path, workdir / "gs.pdf", timeout_s=_remaining(sink), eps=found.suffix == ".eps"
        )
        _render_pdf_file(converted, sink, workdir, fallback=False)
    elif kind is Kind.OFFICE:
        converted = office.to_pdf(path, found.suffix, workdir, timeout_s=_remaining(sink))
        _render_pdf_file(converted, sink, workdir, fallback=False)
    elif kind in (Kind.HTML, Kind.SVG):
        target = workdir / "html.pdf"
        page_size = sink.options.paper.css_size
        markup = path.read_bytes() if kind is Kind.HTML else html.svg_page(path.read_bytes())
        refused = html.to_pdf(markup, target, page_size=page_size)
        if refused:
            sink.warn(
                WarningKind.BLOCKED_FETCH,
                f"{len(refused)} external resource(s) not loaded (e.g. {refused[0]})",
                page=1,
            )
        _render_pdf_file(target, sink, workdir, fallback=False)
    else:  # pragma: no cover - every Kind is handled above
        raise RenderError(f"no converter for {kind}")


def _render_pdf_file(path: Path, sink: PageSink, workdir: Path, *, fallback: bool = True) -> None:
    try:
        document = pdf.open_pdf(path)
    except pdf.PdfRefused as refused:
        if refused.reason is not RefusalReason.CORRUPT or not fallback:
            raise Refused(refused.reason, str(refused), refused.diagnostic) from refused
        # PDFium is strict about broken cross-reference tables; Ghostscript repairs them.
        repaired = ghostscript.to_pdf(path, workdir / "repaired.pdf", timeout_s=_remaining(sink))
        _render_pdf_file(repaired, sink, workdir, fallback=False)
        return
    try:
        pdf.render_pdf(document, sink)
    finally:
        document.close()
