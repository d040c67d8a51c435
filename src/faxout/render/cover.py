"""Cover pages: HTML/CSS templates with Jinja2 placeholders, rendered per recipient.

A template is ``NAME.html`` in a cover-page directory: the ones shipped beside this module
(``Default``, ``Modern``) and an operator's own directory, which wins on a name clash. The
placeholders are ``sender_name``, ``sender_number``, ``sender_email``, ``recipient_name``,
``recipient_number``, ``date``, ``pages``, ``subject`` and ``Coverpagetext`` (the FaxOut
field name). Values are HTML-escaped (a sender cannot inject markup) and templates run in
Jinja2's sandbox. Long cover text flows onto a continuation page instead of being cut.
Templates may load images and styles from their own directory only; nothing else is fetched.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError
from jinja2.sandbox import SandboxedEnvironment

from faxout.errors import RenderError
from faxout.render import html, pdf
from faxout.render.geometry import page_format
from faxout.render.options import RenderOptions
from faxout.render.result import RenderResult
from faxout.render.sink import PageSink, Refused
from faxout.render.tiff import TiffFWriter

SHIPPED_DIR = Path(__file__).with_name("covers")


@dataclass(frozen=True)
class CoverSheet:
    """What a cover page says. ``pages`` counts the whole fax, cover included."""

    sender_name: str = ""
    sender_number: str = ""
    recipient_name: str = ""
    recipient_number: str = ""
    pages: int = 0
    text: str = ""
    subject: str = ""
    sender_email: str = ""
    date: dt.datetime | None = None


def cover_names(template_dir: Path | None = None) -> list[str]:
    """Names of the available templates (shipped and the operator's)."""
    names = {p.stem for p in SHIPPED_DIR.glob("*.html")}
    if template_dir is not None and template_dir.is_dir():
        names |= {p.stem for p in template_dir.glob("*.html")}
    return sorted(names)


def cover_html(
    sheet: CoverSheet, template: str = "Default", template_dir: Path | None = None
) -> str:
    """Fill template ``template`` with ``sheet``; raise ``RenderError`` if it is unusable."""
    search = [str(template_dir)] if template_dir is not None else []
    env = SandboxedEnvironment(
        loader=FileSystemLoader([*search, str(SHIPPED_DIR)]),
        autoescape=True,
        undefined=StrictUndefined,  # a typo in a placeholder fails loudly in preview
    )
    when = sheet.date or dt.datetime.now(dt.UTC)
    values = {
        **{f.name: getattr(sheet, f.name) for f in dataclasses.fields(sheet)},
        "Coverpagetext": sheet.text,
        "date": when.strftime("%Y-%m-%d %H:%M %Z").strip(),
    }
    try:
        return env.get_template(f"{template}.html").render(values)
    except TemplateError as exc:
        raise RenderError(f"cover page template {template!r}: {exc}") from exc


def render_cover(
    sheet: CoverSheet,
    out_path: Path,
    options: RenderOptions | None = None,
    *,
    template: str = "Default",
    template_dir: Path | None = None,
) -> RenderResult:
    """Render the cover page(s) for one recipient to ``out_path`` (TIFF-F, same format
    as the documents, so the transmitter sends it as the first file).

    ``sheet.pages`` is the fax's total counting a one-page cover (documents + 1); when long
    cover text runs onto more pages, the total printed on the cover is corrected to match.
    """
    options = options or RenderOptions()
    fmt = page_format(options.paper, options.resolution, options.header_band)
    assets = template_dir if template_dir and (template_dir / f"{template}.html").exists() else None
    page_size = options.paper.css_size
    with tempfile.TemporaryDirectory(prefix="faxout-cover-") as workdir:
        target = Path(workdir) / "cover.pdf"
        try:
            html.to_pdf(cover_html(sheet, template, template_dir), target, page_size=page_size,
                        base_dir=assets or SHIPPED_DIR)  # fmt: skip
            document = pdf.open_pdf(target)
            count = len(document)
            if count > 1 and sheet.pages:
                document.close()
                fixed = dataclasses.replace(sheet, pages=sheet.pages + count - 1)
                html.to_pdf(cover_html(fixed, template, template_dir), target,
                            page_size=page_size, base_dir=assets or SHIPPED_DIR)  # fmt: skip
                document = pdf.open_pdf(target)
            try:
                with TiffFWriter(out_path, lpi=fmt.lpi, compression=options.compression) as out:
                    sink = PageSink(out, fmt, options, time.monotonic() + options.timeout_s)
                    pdf.render_pdf(document, sink)
            finally:
                document.close()
        except (Refused, pdf.PdfRefused) as exc:
            out_path.unlink(missing_ok=True)
            raise RenderError(f"cover page {template!r} failed: {exc}") from exc
    return RenderResult(out_path, sink.pages, sink.warnings, page_bytes=sink.page_bytes)


def preview_cover_png(
    sheet: CoverSheet,
    out_png: Path,
    options: RenderOptions | None = None,
    *,
    template: str = "Default",
    template_dir: Path | None = None,
) -> int:
    """Write the first cover page as the recipient will see it (PNG); return the page count.

    For ``faxout coverpage preview NAME -o preview.png``: the page goes through the real fax
    pipeline, so the preview shows the halftones and line widths the fax will have.
    """
    from PIL import Image  # only previews need it here

    with tempfile.TemporaryDirectory(prefix="faxout-preview-") as workdir:
        tif = Path(workdir) / "cover.tif"
        result = render_cover(sheet, tif, options, template=template, template_dir=template_dir)
        with Image.open(tif) as image:
            page = image.convert("L")
            lpi = int(image.info.get("dpi", (204, 196))[1])
        if lpi < 150:  # normal-resolution lines are twice as tall as they are wide
            page = page.resize((page.width, page.height * 2), Image.Resampling.NEAREST)
        page.save(out_png, "PNG")
    return result.pages
