"""The pages a recipient was sent, header included, as PNG and PDF (``/api/v1``, api/pages.py).

The header is drawn into each page at every call (transmit/pages.py), so no stored file holds
the pixels that left. They are made again by the very step a call runs, in its jail, with the
header of the call that carried the page: the same rendered pages, the same first page and the
same time (the attempt's claim time, which is the time the call printed); the account's and the
server's header settings are read as they are now. The rendered TIFFs come from a render worker
a hostile document may have subverted, so only the jail decodes them; this process decodes the
jail's output only, a TIFF faxout's own writer encoded, checked first as a call checks it.

Which call drew page n: the recipient's last attempt that reached dialling and began at or
before n (a resumed call starts at the first unconfirmed page; the pages before it were last
sent by an earlier call). With none, a preview: the time is now.

The stamped TIFFs are cached in a directory, one per (rendered pages, first page, header),
bounded in bytes, the least recently used removed first: the jail costs a process start, a
cached page only its decoding. Several server processes may share the directory: a file
appears by rename, complete or not at all.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path

from PIL import Image
from sqlalchemy import Engine, func, select

from faxout.blobs.store import BlobStore
from faxout.clock import Clock
from faxout.db.engine import reading
from faxout.db.tables import accounts, attempts, jobs, submissions
from faxout.errors import TransportError
from faxout.report.pages import bilevel_pdf, dpi_of, grey_thumbnail
from faxout.sandbox import workspace
from faxout.transmit.attempt import SENDER_COLUMNS, sender_of
from faxout.transmit.pages import Header, HeaderStyle, Sender, header_for, prepare, station_ident
from faxout.transmit.preflight import preflight

DEFAULT_CACHE_BYTES = 256 << 20  # about 5,000 pages at fine resolution
MEMORY_BYTES = 32 << 20  # the PNGs and PDFs last made, kept in memory
_STRIPES = 16  # locks, so two requests for one page run one jail


@dataclass(frozen=True)
class Call:
    """An attempt that reached dialling: where its pages began and the time it printed."""

    attempt_no: int
    first_page: int
    at: datetime


@dataclass(frozen=True)
class Recipient:
    """A rendered recipient's fax: its pages (cover first) and the calls that sent them."""

    job_id: int
    name: str
    number: str
    keys: tuple[str, ...]  # blob keys of the rendered TIFFs, cover first
    total: int  # pages over all of them
    sender: Sender
    calls: tuple[Call, ...]  # first first


@dataclass(frozen=True)
class Source:
    """What a page is drawn from: the stamped pages ``first_page``..end of one call (or of
    a preview, ``call`` None)."""

    keys: tuple[str, ...]
    first_page: int
    header: Header | None
    call: Call | None

    @property
    def digest(self) -> str:
        """Names the stamped TIFF: the same inputs give the same pixels."""
        what = [self.keys, self.first_page, asdict(self.header) if self.header else None]
        return hashlib.sha256(json.dumps(what, sort_keys=True).encode()).hexdigest()[:40]


class SentPages:
    """Page images of faxes as their recipients got them, from a bounded cache."""

    def __init__(
        self,
        engine: Engine,
        store: BlobStore,
        clock: Clock,
        *,
        style: HeaderStyle,
        ident: str,
        cache_dir: Path,
        max_bytes: int = DEFAULT_CACHE_BYTES,
    ) -> None:
        self._engine, self._store, self._clock = engine, store, clock
        self._style, self._ident = style, ident
        self._dir, self._max_bytes = cache_dir, max_bytes
        self._locks = [threading.Lock() for _ in range(_STRIPES)]
        self._made = _Recent(MEMORY_BYTES)

    def recipient(self, job_id: int) -> Recipient | None:
        """The recipient's pages and calls; None while its pages are not rendered."""
        query = (
            select(
                jobs.c.name,
                jobs.c.number,
                jobs.c.cover_key,
                func.coalesce(jobs.c.rendered_key, submissions.c.rendered_key).label("key"),
                func.coalesce(jobs.c.pages, submissions.c.pages).label("pages"),
                *SENDER_COLUMNS,
            )
            .join(submissions, submissions.c.id == jobs.c.submission_id)
            .join(accounts, accounts.c.id == submissions.c.account_id)
            .where(jobs.c.id == job_id)
        )
        calls = (
            select(attempts.c.attempt_no, attempts.c.first_page, attempts.c.claimed_at)
            .where(attempts.c.job_id == job_id, attempts.c.dialing_at.is_not(None))
            .order_by(attempts.c.attempt_no)
        )
        with reading(self._engine) as conn:
            row = conn.execute(query).first()
            if row is None or row.key is None or not row.pages:
                return None
            made = [Call(a.attempt_no, a.first_page, a.claimed_at) for a in conn.execute(calls)]
        keys = (row.cover_key, row.key) if row.cover_key else (row.key,)
        sender = sender_of(row)
        return Recipient(
            job_id,
            row.name,
            row.number,
            keys,
            row.pages + (1 if row.cover_key else 0),
            sender,
            tuple(made),
        )

    def source(self, rec: Recipient, page: int) -> Source:
        """What page ``page`` (1-based over the fax) is drawn from."""
        call = next((c for c in reversed(rec.calls) if c.first_page <= page), None)
        if call is None:
            # A preview: the minute is the finest a header shows (tagline.DEFAULT_FORMAT), so
            # the previews of one minute are one cached file. A format with seconds shows 0.
            when, first = self._clock.now().replace(second=0, microsecond=0), 1
        else:
            when, first = call.at, call.first_page
        ident = station_ident(rec.sender, self._ident)
        header = header_for(self._style, rec.sender, ident, rec.name, rec.number, rec.job_id, when)
        return Source(rec.keys, first, header, call)

    def png(self, source: Source, page: int, width: int | None = None) -> bytes:
        """Page ``page`` of ``source``: the 1-bit bitmap at its own resolution, or a grey
        image ``width`` pixels wide with square pixels."""

        def draw() -> bytes:
            (img,) = self._frames(source, [page])
            if width is not None:
                return grey_thumbnail(img, width)
            out = io.BytesIO()
            img.save(out, "PNG", dpi=dpi_of(img))
            return out.getvalue()

        return self._made.get(f"{source.digest}:{page}:{width}", draw)

    def pdf(self, sources: list[Source]) -> bytes:
        """Pages 1.. of the fax, ``sources[n - 1]`` drawing page n, as one PDF."""
        runs: list[tuple[Source, list[int]]] = []
        for page, source in enumerate(sources, start=1):
            if runs and runs[-1][0] == source:
                runs[-1][1].append(page)
            else:
                runs.append((source, [page]))
        key = ",".join(s.digest for s in sources) + ":pdf"
        return self._made.get(
            key, lambda: bilevel_pdf([img for s, pages in runs for img in self._frames(s, pages)])
        )

    def _frames(self, source: Source, pages: list[int]) -> list[Image.Image]:
        """Pages of ``source``'s stamped TIFF, loaded ("1", each with its ``dpi``)."""
        frames = []
        with Image.open(self._stamped(source)) as img:
            for page in pages:
                img.seek(page - source.first_page)
                frame = img.convert("1")
                frame.info["dpi"] = dpi_of(img)
                frames.append(frame)
        return frames

    def _stamped(self, source: Source) -> Path:
        """The stamped TIFF of ``source``: from the cache, else made in the jail and kept."""
        path = self._dir / f"{source.digest}.tif"
        with self._locks[int(source.digest[:8], 16) % _STRIPES]:
            with contextlib.suppress(FileNotFoundError):
                os.utime(path)  # most recently used; the oldest are trimmed first
                return path
            self._dir.mkdir(parents=True, exist_ok=True, mode=0o700)
            with workspace.current().temp_dir("pages-") as tmp:
                parts = []
                for i, key in enumerate(source.keys):
                    parts.append(tmp / f"part{i}.tif")
                    with self._store.open(key) as src, parts[-1].open("wb") as dst:
                        shutil.copyfileobj(src, dst, 1 << 20)
                made = prepare(parts, source.first_page, source.header, tmp)
                # Checked as a call checks it before its transport decodes it.
                check = preflight(made.path)
                if not check.ok:
                    raise TransportError(f"the stamped pages were refused: {check.reason}")
                partial = self._dir / f".{source.digest}.{os.getpid()}.part"
                shutil.copyfile(made.path, partial)
                partial.replace(path)
        self._trim()
        return path

    def _trim(self) -> None:
        """Remove the least recently used files until the cache is within its bound."""
        files = []
        for entry in self._dir.glob("*.tif"):
            with contextlib.suppress(FileNotFoundError):  # another process trims too
                st = entry.stat()
                files.append((st.st_mtime, st.st_size, entry))
        size = sum(f[1] for f in files)
        for _, bytes_, entry in sorted(files):
            if size <= self._max_bytes:
                break
            entry.unlink(missing_ok=True)
            size -= bytes_


class _Recent:
    """The images last made, bounded in bytes: decoding a cached TIFF page and encoding its
    PNG costs tens of milliseconds, and a page viewer asks for the same page again and again."""

    def __init__(self, max_bytes: int) -> None:
        self._max = max_bytes
        self._kept: OrderedDict[str, bytes] = OrderedDict()
        self._size = 0
        self._lock = threading.Lock()

    def get(self, key: str, make: Callable[[], bytes]) -> bytes:
        """What ``make`` gave for ``key``, made now if not kept."""
        with self._lock:
            if (kept := self._kept.get(key)) is not None:
                self._kept.move_to_end(key)
                return kept
        made = make()  # outside the lock: a slow page holds up no other
        with self._lock:
            if key not in self._kept and len(made) <= self._max:
                self._kept[key] = made
                self._size += len(made)
                while self._size > self._max:
                    _, old = self._kept.popitem(last=False)
                    self._size -= len(old)
        return made
