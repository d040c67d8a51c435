"""HTML to PDF with WeasyPrint, every network and file fetch refused.

An HTML document from a client is hostile input: an ``<img src="http://169.254.169.254/...">``
or ``<link href="file:///etc/passwd">`` would make the server fetch on the sender's behalf
(SSRF) or leak local files into a fax. WeasyPrint loads every image, stylesheet and font
through its URL fetcher; ours answers only ``data:`` URLs (inline content, no I/O) and refuses
the rest, which WeasyPrint treats as a missing resource. The page still renders. Cover-page
templates, written by the operator, may also read files from their own directory.
"""

from __future__ import annotations

import base64
import io
import logging
from pathlib import Path
from typing import Any
from urllib import request
from urllib.parse import urlsplit

from faxout.render.result import RefusalReason
from faxout.render.sink import Refused


def _fetcher_class() -> type[Any]:
    from weasyprint.urls import URLFetcher  # type: ignore[import-untyped]  # heavy import

    class OfflineFetcher(URLFetcher):  # type: ignore[misc]
        """Serves ``data:`` URLs (and files under ``base_dir``); refuses the rest."""

        def __init__(self, base_dir: Path | None) -> None:
            super().__init__(allowed_protocols=("data", "file"), allow_redirects=False, timeout=1)
            self.base_dir = base_dir.resolve() if base_dir is not None else None
            self.refused: list[str] = []

        def fetch(self, url: str, headers: Any = None) -> Any:
            if url.lower().startswith("data:") or self._inside_base(url):
                return super().fetch(url, headers)
            self.refused.append(url[:200])
            raise ValueError(f"fetch refused: {url[:200]}")

        def _inside_base(self, url: str) -> bool:
            if self.base_dir is None or not url.lower().startswith("file:"):
                return False
            local = Path(request.url2pathname(urlsplit(url).path)).resolve()
            return local.is_relative_to(self.base_dir)

    return OfflineFetcher


def to_pdf(
    html: bytes | str, target: Path, *, page_size: str = "A4", base_dir: Path | None = None
) -> list[str]:
    """Write ``html`` as a PDF to ``target``; return the URLs that were refused.

    ``page_size`` (a CSS page size: "A4", "letter") applies where the document sets none.
    ``base_dir`` (trusted templates only) resolves relative URLs and may be read from.
    """
    try:
        import weasyprint  # type: ignore[import-untyped]  # 0.5 s, only when needed
    except ImportError as exc:  # pragma: no cover - weasyprint is a declared dependency
        raise Refused(RefusalReason.CONVERTER_MISSING, "WeasyPrint is not installed") from exc
    fetcher = _fetcher_class()(base_dir)
    base_url = base_dir.resolve().as_uri() + "/" if base_dir is not None else None
    source = io.BytesIO(html.encode("utf-8") if isinstance(html, str) else html)
    # WeasyPrint logs every refused fetch as an error; the caller reports them instead.
    logger = logging.getLogger("weasyprint")
    level = logger.level
    logger.setLevel(logging.CRITICAL)
    try:
        document = weasyprint.HTML(file_obj=source, base_url=base_url, url_fetcher=fetcher)
        default_page = weasyprint.CSS(string=f"@page {{ size: {page_size} }}")
        document.write_pdf(target, stylesheets=[default_page])
    except Exception as exc:  # WeasyPrint raises many types on malformed input
        raise Refused(
            RefusalReason.CORRUPT, "the HTML page cannot be laid out", f"WeasyPrint: {exc}"
        ) from exc
    finally:
        logger.setLevel(level)
    refused: list[str] = fetcher.refused
    return refused


def svg_page(svg: bytes) -> str:
    """An HTML page showing ``svg`` as an image fitted to the page (WeasyPrint draws SVG
    images; its references to other URLs go through the same refusing fetcher)."""
    encoded = base64.b64encode(svg).decode("ascii")
    return (
        "<!DOCTYPE html><html><head><style>@page { margin: 10mm }"
        "img { width: 100%; height: 250mm; object-fit: contain; object-position: top;"
        " display: block }"
        f'</style></head><body><img src="data:image/svg+xml;base64,{encoded}"></body></html>'
    )
