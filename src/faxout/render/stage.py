"""The render stage of the pipeline: a submission's documents become its fax pages, once.

Documents are rendered in order into one TIFF-F stored in the document store; a cover page is
rendered per recipient (unless ``None``). Each recipient gets the paper its machine most likely
holds (``Paper.for_destination``): the documents are rendered once per paper among them. The
jobs then become ``ready`` for their send time. A document that cannot be rendered fails the
submission with a reason naming it.

Guarantees:
- **Settled, whatever happens.** Any exception while rendering or recording the result ends
  the submission ``render_failed`` with a reason (and so a report); none stays ``rendering``.
- **Rendered once at a time.** The render lease is renewed by a heartbeat while the render
  runs; only a dead worker's lease expires, so a slow render is never duplicated.
- **Fair between accounts.** One account holds at most ``workers - 1`` render workers (one when
  there is a single worker); its other submissions wait, unclaimed, and are offered again a
  moment later, so another account's fax never waits behind them.
"""

from __future__ import annotations

import dataclasses
import enum
import logging
import threading
from collections import Counter
from pathlib import Path

from sqlalchemy import Engine, select

from faxout.blobs.store import BlobStore
from faxout.clock import Clock
from faxout.db.engine import reading
from faxout.db.tables import accounts, documents, jobs, submissions
from faxout.errors import FaxoutError, RenderError
from faxout.jobs.heartbeat import heartbeat
from faxout.jobs.lifecycle import JobRender, Lifecycle
from faxout.jobs.model import COVER_DEFAULT, COVER_NONE, JobState, SubmissionState
from faxout.jobs.numbers import home_number, readable
from faxout.render.cover import CoverSheet
from faxout.render.options import Paper, RenderOptions, Resolution
from faxout.render.pool import RenderPool, WorkerLimits
from faxout.render.result import Refusal
from faxout.sandbox import workspace

log = logging.getLogger("faxout.render")
_INTERNAL = "an internal error stopped the rendering (the operator's log has it)"


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


def _render_cover(
    pool: RenderPool, sheet: CoverSheet, path: Path, options: RenderOptions, template: str
) -> None:
    cover = pool.render_cover(sheet, path, options, template=template, template_dir=pool.covers_dir)
    if cover.refusal is not None:
        raise RenderError(f"the cover page could not be rendered: {cover.refusal}")


def client_name(name: str) -> str:
    """The sender's own file name of a rendered document (without the ``001-`` order prefix
    the render directory gives it)."""
    head, dash, rest = name.partition("-")
    return rest if dash and len(head) == 3 and head.isdigit() else name


class Ran(enum.Enum):
    """What one call of :meth:`RenderStage.run` did."""

    RENDERED = "rendered"  # or failed: the submission is settled either way
    NOTHING = "nothing"  # not waiting to be rendered (done, or another worker has it)
    DEFERRED = "deferred"  # its account already uses its share of the workers: offer later


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
        lease_seconds: float = 120.0,
        render_workers: int = 0,
        options: RenderOptions | None = None,
        limits: WorkerLimits | None = None,
        warm_up: tuple[str, ...] = (),
    ) -> None:
        self._engine = engine
        self._warm_up = warm_up
        self._store = store
        self._lifecycle = lifecycle
        self._clock = clock
        self._worker = worker
        self._covers = coverpages_dir
        self._ttl = lease_seconds
        self._workers = render_workers
        self._options = options or RenderOptions()
        self._limits = limits
        self._pool: RenderPool | None = None
        self._pool_lock = threading.Lock()
        self._active: Counter[int] = Counter()  # renders running, per account
        self._active_lock = threading.Lock()

    def pool(self) -> RenderPool:
        """The jailed worker processes (started on first use, or by ``start``)."""
        # A converter that hangs (HTML layout, a pathological PDF) is killed there, which an
        # in-process call could not be.
        with self._pool_lock:
            if self._pool is None:
                self._pool = RenderPool(
                    self._workers or None,
                    covers_dir=self._covers,
                    limits=self._limits,
                    warm_up=self._warm_up,
                )
            return self._pool

    def start(self) -> None:
        """Start the workers now, so the first fax after a start does not wait for them."""
        self.pool()

    def _share(self) -> int:
        return max(1, self.pool().size - 1)

    def close(self) -> None:
        """Stop the render workers."""
        with self._pool_lock:
            if self._pool is not None:
                self._pool.close()
                self._pool = None

    def run(self, submission_id: int) -> Ran:
        """Render ``submission_id`` if it is waiting to be rendered and its account has a
        worker to spare."""
        with reading(self._engine) as conn:
            account = conn.execute(
                select(submissions.c.account_id).where(
                    submissions.c.id == submission_id,
                    submissions.c.state == SubmissionState.ACCEPTED,
                )
            ).scalar_one_or_none()
        if account is None:
            return Ran.NOTHING
        share = self._share()
        with self._active_lock:
            if self._active[account] >= share:
                return Ran.DEFERRED
            self._active[account] += 1
        try:
            if not self._lifecycle.claim_render(
                submission_id, self._worker, self._clock.now(), self._ttl
            ):
                return Ran.NOTHING
            self._run_claimed(submission_id)
            return Ran.RENDERED
        finally:
            with self._active_lock:
                self._active[account] -= 1
                if self._active[account] <= 0:
                    del self._active[account]

    def _run_claimed(self, submission_id: int) -> None:
        fields = {"submission": submission_id}

        def renew() -> bool:
            now = self._clock.now()
            return self._lifecycle.renew_render(submission_id, self._worker, now, self._ttl)

        with heartbeat(renew, self._ttl / 4, what=fields):
            outcome: Rendered | Failed
            try:
                outcome = self._render(submission_id)
            except FaxoutError as exc:
                log.exception("rendering broke", extra={"fields": fields})
                outcome = Failed(f"the renderer failed: {exc}")
            except Exception:  # never leave the submission unsettled (see the guarantees)
                log.exception("rendering broke", extra={"fields": fields})
                outcome = Failed(_INTERNAL)
            now = self._clock.now()
            if isinstance(outcome, Rendered):
                try:
                    self._lifecycle.finish_render(
                        submission_id,
                        self._worker,
                        now,
                        rendered_key=outcome.key,
                        pages=outcome.pages,
                        warnings=outcome.warnings,
                        per_job=outcome.jobs,
                    )
                    log.info("rendered %d page(s)", outcome.pages, extra={"fields": fields})
                    return
                except Exception:
                    log.exception("recording the render broke", extra={"fields": fields})
                    outcome = Failed(_INTERNAL)
            self._lifecycle.fail_render(
                submission_id, self._worker, now, outcome.reason, diagnostic=outcome.diagnostic
            )
            log.info("render failed: %s", outcome.reason, extra={"fields": fields})

    def _render(self, submission_id: int) -> Rendered | Failed:
        with reading(self._engine) as conn:
            sub = conn.execute(
                select(
                    submissions,
                    accounts.c.username,
                    accounts.c.name,
                    accounts.c.email,
                    accounts.c.paper.label("account_paper"),
                )
                .join(accounts, accounts.c.id == submissions.c.account_id)
                .where(submissions.c.id == submission_id)
            ).one()
            docs = conn.execute(
                select(documents)
                .where(documents.c.submission_id == submission_id)
                .order_by(documents.c.seq)
            ).all()
            recipients = conn.execute(
                select(jobs.c.id, jobs.c.number, jobs.c.name)
                .where(jobs.c.submission_id == submission_id, jobs.c.state == JobState.RENDERING)
                .order_by(jobs.c.seq)
            ).all()
        base = dataclasses.replace(
            self._options,
            resolution=Resolution(sub.resolution),
        )
        # Each recipient gets the paper its machine most likely holds; the documents are
        # rendered once per paper among them (nearly always one).
        paper_of = {
            job.id: Paper.for_destination(job.number, sub.username, sub.account_paper)
            for job in recipients
        }
        papers = list(dict.fromkeys(paper_of.values())) or [
            Paper.for_destination("", sub.username, sub.account_paper)
        ]
        pool = self.pool()
        with workspace.current().temp_dir("render-") as work:
            paths = []
            for doc in docs:
                # Keep the client's name (extension helps nothing: detection is by content).
                path = work / f"{doc.seq:03d}-{Path(doc.filename).name or 'document'}"
                with self._store.open(doc.blob_key) as src, path.open("wb") as dst:
                    while chunk := src.read(1 << 20):
                        dst.write(chunk)
                paths.append(path)
            renders: dict[Paper, tuple[str, int]] = {}
            warnings: list[str] = []
            for paper in papers:
                out = work / f"document-{paper.value}.tif"
                result = pool.render_submission(paths, out, dataclasses.replace(base, paper=paper))
                if result.refusal is not None:
                    return self._refused(submission_id, result.refusal)
                renders[paper] = (store_file(self._store, out), result.pages)
                if not warnings:
                    warnings = [
                        str(dataclasses.replace(w, document=client_name(w.document)))
                        for w in result.warnings
                    ]
            covers = _Covers(pool, submission_id, work, base, warnings)
            template = "Default" if sub.cover_page == COVER_DEFAULT else sub.cover_page
            per_job: dict[int, JobRender] = {}
            for job in recipients:
                paper = paper_of[job.id]
                key, pages = renders[paper]
                cover_key = None
                if sub.cover_page != COVER_NONE:
                    sheet = CoverSheet(
                        sender_name=sub.name,
                        sender_number=readable(home_number(sub.username) or sub.username),
                        sender_email=sub.email,
                        recipient_name=job.name,
                        recipient_number=readable(job.number),
                        pages=pages + 1,
                        text=sub.cover_text,
                        date=self._clock.now(),
                    )
                    cover_key = store_file(
                        self._store, covers.render(sheet, job.id, paper, template)
                    )
                own = paper != papers[0]  # the submission's pages are the first paper's
                per_job[job.id] = JobRender(
                    paper=paper.value,
                    cover_key=cover_key,
                    rendered_key=key if own else None,
                    pages=pages if own else None,
                )
            key, pages = renders[papers[0]]
            return Rendered(key, pages, warnings, per_job)

    def _refused(self, submission_id: int, refusal: Refusal) -> Failed:
        shown = client_name(refusal.document) or "a document"
        # What the converter said stays in the operator's log and `faxout jobs show`; the
        # sender reads words.
        log.warning(
            "document refused: %s",
            refusal.detail,
            extra={"fields": {"submission": submission_id, "document": shown,
                              "reason": refusal.reason.value,
                              "diagnostic": refusal.diagnostic}},
        )  # fmt: skip
        return Failed(
            f"{shown} could not be rendered: {refusal.reason.value}: {refusal.detail}",
            diagnostic=f"{shown}: {refusal.diagnostic}" if refusal.diagnostic else "",
        )


@dataclasses.dataclass(frozen=True)
class Rendered:
    """A submission's pages: the first paper's in the store, and each job's own."""

    key: str
    pages: int
    warnings: list[str]
    jobs: dict[int, JobRender]


@dataclasses.dataclass(frozen=True)
class Failed:
    """A render that ended without pages: the sender's reason, the operator's diagnostic."""

    reason: str
    diagnostic: str = ""


class _Covers:
    """Cover pages of one submission, falling back to Default when the operator's is broken."""

    def __init__(
        self,
        pool: RenderPool,
        submission_id: int,
        work: Path,
        options: RenderOptions,
        warnings: list[str],
    ) -> None:
        self._pool = pool
        self._submission = submission_id
        self._work = work
        self._options = options
        self._warnings = warnings
        self._broken: set[str] = set()

    def render(self, sheet: CoverSheet, job_id: int, paper: Paper, template: str) -> Path:
        """The cover page of one job on its paper."""
        path = self._work / f"cover-{job_id}.tif"
        options = dataclasses.replace(self._options, paper=paper)
        if template not in self._broken:
            try:
                _render_cover(self._pool, sheet, path, options, template)
                return path
            except RenderError as exc:
                if template == "Default":
                    raise
                # The operator's template is broken: the operator's error, not the sender's.
                # Said loudly in the log (and by faxout check); the fax goes out with the
                # Default cover and a note.
                log.error(
                    "cover page %r is broken; sending the Default cover page instead: %s",
                    template,
                    exc,
                    extra={"fields": {"submission": self._submission}},
                )
                self._broken.add(template)
                self._warnings.append(
                    f"the cover page {template!r} could not be used, so the Default "
                    "cover page was sent instead"
                )
        _render_cover(self._pool, sheet, path, options, "Default")
        return path
