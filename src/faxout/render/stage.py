"""The render stage of the pipeline: a submission's documents become its fax pages, once.

Documents are rendered in order into one TIFF-F stored in the document store; a cover page is
rendered per recipient (unless ``None``). The jobs then become ``ready`` for their send time. A
document that cannot be rendered fails the submission with a reason naming it.
"""

from __future__ import annotations

import logging
import tempfile
import threading
from pathlib import Path

from sqlalchemy import Engine, select

from faxout.blobs.store import BlobStore
from faxout.clock import Clock
from faxout.db.tables import accounts, documents, jobs, submissions
from faxout.errors import FaxoutError
from faxout.jobs.lifecycle import Lifecycle
from faxout.jobs.model import COVER_DEFAULT, COVER_NONE, JobState
from faxout.render.cover import CoverSheet, render_cover
from faxout.render.options import Paper, RenderOptions, Resolution
from faxout.render.pool import RenderPool
from faxout.render.result import RenderResult

log = logging.getLogger("faxout.render")


def store_file(store: BlobStore, path: Path) -> str:
    """Stream a file into the document store; its key once durable."""
    upload = store.new_upload()
    try:
        with path.open("rb") as fh:
            while chunk := fh.read(1 << 20):
                upload.write(chunk)
        return upload.commit()
    except BaseException:
        upload.discard()
        raise


def paper_for(username: str) -> Paper:
    """Letter for North American (+1) accounts, A4 elsewhere."""
    return Paper.LETTER if username.startswith("1") else Paper.A4


class RenderStage:
    """Renders one submission per call of ``run``."""

    def __init__(
        self,
        engine: Engine,
        store: BlobStore,
        lifecycle: Lifecycle,
        clock: Clock,
        *,
        worker: str,
        coverpages_dir: Path,
        lease_seconds: float = 600.0,
        render_workers: int = 0,
    ) -> None:
        self._engine = engine
        self._store = store
        self._lifecycle = lifecycle
        self._clock = clock
        self._worker = worker
        self._covers = coverpages_dir
        self._ttl = lease_seconds
        self._workers = render_workers
        self._pool: RenderPool | None = None
        self._pool_lock = threading.Lock()

    def _render_documents(
        self, paths: list[Path], out: Path, options: RenderOptions
    ) -> RenderResult:
        # Warm worker processes, started on first use: a converter that hangs (HTML layout,
        # a pathological PDF) is killed there, which an in-process call could not be.
        with self._pool_lock:
            if self._pool is None:
                self._pool = RenderPool(self._workers or None)
        return self._pool.render_submission(paths, out, options)

    def close(self) -> None:
        """Stop the render workers."""
        with self._pool_lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None

    def run(self, submission_id: int) -> None:
        """Render ``submission_id`` if it is waiting to be rendered; a no-op otherwise."""
        if not self._lifecycle.claim_render(
            submission_id, self._worker, self._clock.now(), self._ttl
        ):
            return
        fields = {"submission": submission_id}
        try:
            outcome = self._render(submission_id)
        except (FaxoutError, OSError) as exc:
            log.exception("rendering broke", extra={"fields": fields})
            outcome = f"the renderer failed: {exc}"
        now = self._clock.now()
        if isinstance(outcome, str):
            self._lifecycle.fail_render(submission_id, self._worker, now, outcome)
            log.info("render failed: %s", outcome, extra={"fields": fields})
            return
        key, pages, warnings, covers = outcome
        self._lifecycle.finish_render(
            submission_id,
            self._worker,
            now,
            rendered_key=key,
            pages=pages,
            warnings=warnings,
            cover_keys=covers,
        )
        log.info("rendered %d page(s)", pages, extra={"fields": fields})

    def _render(self, submission_id: int) -> str | tuple[str, int, list[str], dict[int, str]]:
        with self._engine.connect() as conn:
            sub = conn.execute(
                select(submissions, accounts.c.username, accounts.c.name, accounts.c.email)
                .join(accounts, accounts.c.id == submissions.c.account_id)
                .where(submissions.c.id == submission_id)
            ).one()
            docs = conn.execute(
                select(documents)
                .where(documents.c.submission_id == submission_id)
                .order_by(documents.c.seq)
            ).all()
            recipients = conn.execute(
                select(jobs.c.id, jobs.c.number, jobs.c.name).where(
                    jobs.c.submission_id == submission_id, jobs.c.state == JobState.RENDERING
                )
            ).all()
        options = RenderOptions(
            resolution=Resolution.LOW if sub.resolution == "low" else Resolution.HIGH,
            paper=paper_for(sub.username),
        )
        with tempfile.TemporaryDirectory(prefix=f"faxout-render{submission_id}-") as tmp:
            work = Path(tmp)
            paths = []
            for doc in docs:
                # Keep the client's name (extension helps nothing: detection is by content).
                path = work / f"{doc.seq:03d}-{Path(doc.filename).name or 'document'}"
                with self._store.open(doc.blob_key) as src, path.open("wb") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
                paths.append(path)
            out = work / "document.tif"
            result = self._render_documents(paths, out, options)
            if result.refusal is not None:
                name = result.refusal.document or "a document"
                shown = name.split("-", 1)[1] if name[:3].isdigit() else name
                why = f"{result.refusal.reason.value}: {result.refusal.detail}"
                return f"{shown} could not be rendered: {why}"
            key = store_file(self._store, out)
            warnings = [str(w) for w in result.warnings]
            covers: dict[int, str] = {}
            if sub.cover_page != COVER_NONE:
                template = "Default" if sub.cover_page == COVER_DEFAULT else sub.cover_page
                for job in recipients:
                    sheet = CoverSheet(
                        sender_name=sub.name,
                        sender_number=sub.username,
                        sender_email=sub.email,
                        recipient_name=job.name,
                        recipient_number=job.number,
                        pages=result.pages + 1,
                        text=sub.cover_text,
                        date=self._clock.now(),
                    )
                    cover_path = work / f"cover-{job.id}.tif"
                    cover = render_cover(
                        sheet, cover_path, options, template=template, template_dir=self._covers
                    )
                    if cover.refusal is not None:
                        return f"the cover page could not be rendered: {cover.refusal}"
                    covers[job.id] = store_file(self._store, cover_path)
            return key, result.pages, warnings, covers
