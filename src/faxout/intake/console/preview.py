"""Previews for the send form: the pages a recipient would get, and the cover page alone.

Made by the pipeline's own steps, so what is shown is what is sent:

- the documents are rendered by a jailed render worker (``RenderPool.render_submission``) with
  the submission's options: its resolution, the paper of the first recipient
  (``Paper.for_destination``, as the render stage picks it), the operator's render limits, the
  header band left blank; the cover page (unless None) by ``RenderPool.render_cover`` with the
  sheet the render stage fills, for the first recipient;
- then, as for ``SentPages``, the jailed page step (``faxout.transmit.pages.prepare``) decodes
  them and writes them again with faxout's own writer, the header band blank: a render worker
  a hostile document subverted could have written a TIFF crafted against libtiff, and only a
  jail decodes that. This process decodes the jail's output only, checked first
  (``preflight``) as a call checks it.

The previews have their own single render worker, started at the first preview (``OwnPool``),
so a preview never holds up a fax's rendering. They are bounded: at most ``max_pages`` pages
and ``max_seconds`` seconds each, ``MAX_AT_ONCE`` at a time (more are told to try again). A
preview is kept under ``DATA_DIR/cache/preview/<token>/`` for ``ttl_s`` seconds (15 minutes),
its token random and good for its own account only; expired ones are removed whenever a
preview is made or read.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import secrets
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import BinaryIO

from PIL import Image

from faxout.accounts.repo import Account
from faxout.errors import FaxoutError, RenderError
from faxout.jobs.create import NewDocument
from faxout.jobs.model import COVER_DEFAULT, COVER_NONE
from faxout.jobs.numbers import home_number, readable
from faxout.render.cover import CoverSheet
from faxout.render.options import Paper, RenderOptions, Resolution
from faxout.render.pool import RenderPool, WorkerLimits
from faxout.render.result import RefusalReason
from faxout.render.stage import client_name
from faxout.report.pages import dpi_of, grey_thumbnail
from faxout.sandbox import workspace
from faxout.transmit.pages import prepare
from faxout.transmit.preflight import preflight

TTL_S = 15 * 60.0
MAX_PAGES = 50
MAX_SECONDS = 60.0
MAX_AT_ONCE = 2  # previews rendering at once; the worker takes one, the next one waits
MAX_KEPT = 200  # previews kept at most; the oldest go first
MIN_WIDTH, MAX_WIDTH = 16, 2400
SAMPLE_NAME, SAMPLE_NUMBER = "Recipient", "+15550100000"
_TOKEN_CHARS = 22  # secrets.token_urlsafe(16)


class PreviewRefused(Exception):  # noqa: N818 - a verdict for the sender, not a crash
    """No preview: what the sender reads, and the HTTP status to answer."""

    def __init__(self, detail: str, status: int = 422) -> None:
        super().__init__(detail)
        self.detail, self.status = detail, status


class FileUpload:
    """An upload into a plain file (the ``Upload`` protocol): a preview's documents are read
    by the renderer from disk and never enter the document store."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._file: BinaryIO | None = path.open("xb")
        self._size = 0

    @property
    def size(self) -> int:
        """Bytes written so far."""
        return self._size

    def write(self, data: bytes) -> None:
        """Append bytes."""
        assert self._file is not None
        self._file.write(data)
        self._size += len(data)

    def commit(self) -> str:
        """Close the file; its path."""
        if self._file is not None:
            self._file.close()
            self._file = None
        return str(self.path)

    def discard(self) -> None:
        """Close and remove the file."""
        self.commit()
        self.path.unlink(missing_ok=True)


class Incoming:
    """Where one preview request's documents are written (``new_file``, for the form parser)."""

    def __init__(self, work: Path) -> None:
        self.work = work
        self._made = 0

    def new_file(self) -> FileUpload:
        """A new file for the next document part."""
        self._made += 1
        return FileUpload(self.work / f"upload-{self._made}")

    def paths(self, documents: list[NewDocument]) -> list[Path]:
        """The documents' files named as the render stage names them (``001-letter.pdf``):
        the worker sees one job's files side by side, and warnings name the sender's file."""
        paths = []
        for seq, doc in enumerate(documents, start=1):
            upload = doc.upload
            assert isinstance(upload, FileUpload)
            upload.commit()
            named = self.work / f"{seq:03d}-{Path(doc.filename).name or 'document'}"
            upload.path.rename(named)
            upload.path = named
            paths.append(named)
        return paths


class OwnPool:
    """The previews' own render worker, started when first asked for."""

    def __init__(self, covers_dir: Path | None, limits: WorkerLimits | None = None) -> None:
        self._covers, self._limits = covers_dir, limits
        self._pool: RenderPool | None = None
        self._lock = threading.Lock()

    def __call__(self) -> RenderPool:
        with self._lock:
            if self._pool is None:
                self._pool = RenderPool(1, covers_dir=self._covers, limits=self._limits)
            return self._pool

    def close(self) -> None:
        """Stop the worker, if it started."""
        with self._lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None


@dataclass(frozen=True)
class Preview:
    """A preview made: its token, its pages (cover included) and the renderer's warnings."""

    token: str
    pages: int
    warnings: tuple[str, ...] = ()


def cover_sheet(account: Account, name: str, number: str, pages: int, text: str,
                when: datetime) -> CoverSheet:  # fmt: skip
    """What the render stage prints on ``account``'s cover page for one recipient."""
    return CoverSheet(
        sender_name=account.name,
        sender_number=readable(home_number(account.username) or account.username),
        sender_email=account.email,
        recipient_name=name,
        recipient_number=readable(number),
        pages=pages,
        text=text,
        date=when,
    )


def template_of(cover: str) -> str | None:
    """The template of a submission's cover page (``prepare``'s name), None for no cover."""
    if cover.lower() == COVER_NONE:
        return None
    return "Default" if cover.lower() == COVER_DEFAULT else cover


class Previews:
    """Makes, keeps and serves previews."""

    def __init__(
        self,
        cache_dir: Path,
        pool: Callable[[], RenderPool],
        options: RenderOptions,
        *,
        ttl_s: float = TTL_S,
        max_pages: int = MAX_PAGES,
        max_seconds: float = MAX_SECONDS,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self._dir, self._pool, self._wall = cache_dir, pool, wall
        self._ttl = ttl_s
        self._options = dataclasses.replace(
            options,
            max_pages=min(options.max_pages, max_pages),
            timeout_s=min(options.timeout_s, max_seconds),
            submission_timeout_s=min(options.submission_timeout_s, max_seconds),
            header_band=True,  # as the pipeline renders: the header goes into that band
        )
        self._slots = threading.BoundedSemaphore(MAX_AT_ONCE)

    def close(self) -> None:
        """Stop the previews' render worker (when the server stops)."""
        close = getattr(self._pool, "close", None)
        if close is not None:
            close()

    @contextlib.contextmanager
    def incoming(self) -> Iterator[Incoming]:
        """A private directory for one request's documents, removed when the block ends."""
        with workspace.current().temp_dir("preview-") as work:
            yield Incoming(work)

    def options_for(self, account: Account, number: str, resolution: str) -> RenderOptions:
        """The render options of a submission of ``account`` to ``number`` (E.164, "" when
        none is given yet: the account's own country decides the paper)."""
        paper = Paper.for_destination(number, account.username, account.paper)
        low = resolution.lower() == "low"
        return dataclasses.replace(
            self._options, paper=paper, resolution=Resolution.LOW if low else Resolution.HIGH
        )

    def render(
        self,
        account: Account,
        incoming: Incoming,
        documents: list[NewDocument],
        *,
        options: RenderOptions,
        cover: str,
        cover_text: str,
        recipient: tuple[str, str],
        now: datetime,
    ) -> Preview:
        """Render ``documents`` (written by ``incoming``) as the first recipient (``(name,
        E.164)``) would get them, cover first; ``PreviewRefused`` saying why not."""
        if not documents:
            raise PreviewRefused("document: choose at least one document")
        paths = incoming.paths(documents)
        with self._slot():
            pool = self._pool()
            result = pool.render_submission(paths, incoming.work / "pages.tif", options)
            if result.refusal is not None:
                refusal = result.refusal
                if refusal.reason is RefusalReason.TOO_MANY_PAGES:
                    raise PreviewRefused(
                        f"a preview shows at most {options.max_pages} pages; the fax itself "
                        "may have more"
                    )
                shown = client_name(refusal.document) or "a document"
                raise PreviewRefused(f"{shown} could not be rendered: {refusal.reason.value}: "
                                     f"{refusal.detail}")  # fmt: skip
            parts = [incoming.work / "pages.tif"]
            warnings = [str(dataclasses.replace(w, document=client_name(w.document)))
                        for w in result.warnings]  # fmt: skip
            template = template_of(cover)
            if template is not None:
                name, number = recipient
                sheet = cover_sheet(account, name, number, result.pages + 1, cover_text, now)
                path = incoming.work / "cover.tif"
                warnings += self._cover(pool, sheet, path, options, template)
                parts.insert(0, path)
            token = secrets.token_urlsafe(16)
            pages = self._keep(token, account.id, parts, incoming.work)
        self.sweep()
        return Preview(token, pages, tuple(warnings))

    def cover_png(
        self,
        account: Account,
        cover: str,
        cover_text: str,
        recipient: tuple[str, str],
        *,
        options: RenderOptions,
        now: datetime,
        width: int | None = None,
    ) -> bytes | None:
        """The first cover page as the recipient (``(name, E.164)``, a sample when empty)
        would get it, as a grey PNG; None for no cover page."""
        template = template_of(cover)
        if template is None:
            return None
        name, number = recipient
        sheet = cover_sheet(account, name or SAMPLE_NAME, number or SAMPLE_NUMBER, 2,
                            cover_text, now)  # fmt: skip
        with workspace.current().temp_dir("cover-preview-") as work, self._slot():
            path = work / "cover.tif"
            self._cover(self._pool(), sheet, path, options, template)
            with _opened(_stamped([path], work)) as img:
                return _png(img, 1, width)

    def page_png(
        self, account_id: int, token: str, page: int, width: int | None = None
    ) -> bytes | None:
        """Page ``page`` (from 1) of a preview of ``account_id`` as a grey PNG ``width`` pixels
        wide (its own width when None) with square pixels; None when there is no such page,
        or the preview is another account's or expired."""
        kept = self._kept(token)
        if kept is None or not 1 <= page <= 10_000:
            return None
        try:
            meta = json.loads((kept / "meta.json").read_text())
            if meta.get("account") != account_id or page > int(meta.get("pages", 0)):
                return None
            with _opened(kept / "pages.tif") as img:
                return _png(img, page, width)
        except (OSError, EOFError, ValueError):
            return None  # removed meanwhile (expired), or never complete

    def sweep(self) -> None:
        """Remove expired previews, and the oldest beyond ``MAX_KEPT``."""
        if not self._dir.is_dir():
            return
        kept = []
        for entry in self._dir.iterdir():
            with contextlib.suppress(FileNotFoundError):
                kept.append((entry.stat().st_mtime, entry))
        kept.sort(reverse=True)
        for n, (made, entry) in enumerate(kept):
            if n >= MAX_KEPT or self._wall() - made > self._ttl:
                shutil.rmtree(entry, ignore_errors=True)

    @contextlib.contextmanager
    def _slot(self) -> Iterator[None]:
        if not self._slots.acquire(timeout=self._options.submission_timeout_s):
            raise PreviewRefused("too many previews are being made; try again shortly", 503)
        try:
            yield
        finally:
            self._slots.release()

    def _cover(self, pool: RenderPool, sheet: CoverSheet, path: Path,
               options: RenderOptions, template: str) -> list[str]:  # fmt: skip
        """Render the cover page to ``path``; with the Default one (and a warning saying so)
        when the operator's template is broken, as the render stage does."""
        tried = [template] if template == "Default" else [template, "Default"]
        for name in tried:
            try:
                made = pool.render_cover(sheet, path, options, template=name,
                                         template_dir=pool.covers_dir)  # fmt: skip
            except RenderError:
                continue
            if made.refusal is None:
                if name == template:
                    return []
                return [f"the cover page {template!r} could not be used, so the Default "
                        "cover page would be sent instead"]  # fmt: skip
        raise PreviewRefused("the cover page could not be rendered", 500)

    def _keep(self, token: str, account_id: int, parts: list[Path], work: Path) -> int:
        """Stamp ``parts`` in the jail into the cache as preview ``token``; its page count."""
        final = self._dir / token
        self._dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        partial = self._dir / f".{token}.part"
        partial.mkdir(mode=0o700)
        try:
            shutil.move(_stamped(parts, work / "stamp"), partial / "pages.tif")
            with _opened(partial / "pages.tif") as img:
                pages = int(getattr(img, "n_frames", 1))
            (partial / "meta.json").write_text(json.dumps({"account": account_id, "pages": pages}))
            partial.replace(final)  # whole or not at all, for a reader in another process
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
        return pages

    def _kept(self, token: str) -> Path | None:
        if len(token) != _TOKEN_CHARS or not token.replace("-", "").replace("_", "").isalnum():
            return None  # never a path of the caller's making
        path = self._dir / token
        try:
            made = path.stat().st_mtime
        except FileNotFoundError:
            return None
        if self._wall() - made > self._ttl:
            shutil.rmtree(path, ignore_errors=True)
            return None
        return path


def _stamped(parts: list[Path], work: Path) -> Path:
    """``parts`` decoded and written again in the jail, header band blank, and checked."""
    work.mkdir(exist_ok=True, mode=0o700)
    try:
        made = prepare(parts, 1, None, work)
    except FaxoutError as exc:
        raise PreviewRefused(f"the pages could not be prepared: {exc}", 500) from exc
    check = preflight(made.path)
    if not check.ok:
        raise PreviewRefused(f"the pages were refused: {check.reason}", 500)
    return made.path


@contextlib.contextmanager
def _opened(path: Path) -> Iterator[Image.Image]:
    with Image.open(path) as img:
        yield img


def _png(img: Image.Image, page: int, width: int | None) -> bytes:
    """Page ``page`` of an open fax TIFF as a grey PNG with square pixels."""
    img.seek(page - 1)
    frame = img.convert("1")
    frame.info["dpi"] = dpi_of(img)
    wide = frame.width if width is None else max(MIN_WIDTH, min(width, MAX_WIDTH))
    return grey_thumbnail(frame, wide)
