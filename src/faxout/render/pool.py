"""Warm worker processes: one per core, each restarted after N submissions.

A fresh Python process costs about 0.22 s of imports before the first page (Ghostscript
starts in 0.05 s), so documents go to long-lived workers that have numpy, Pillow and PDFium
loaded. Processes, not threads: each worker renders on its own core, and a document that
crashes PDFium, loops forever or leaks memory takes down only its worker, which the pool
replaces. A worker that does not answer within the submission's time limit (plus a grace
period) is killed and the submission is refused with "time limit exceeded"; one that dies
gives "corrupt". Workers are recycled every ``max_documents`` submissions so a slow leak in a
native library never grows without bound.
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import queue
import shutil
import threading
from collections.abc import Callable, Sequence
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from faxout.errors import RenderError
from faxout.render import office_warm
from faxout.render.options import RenderOptions
from faxout.render.result import Refusal, RefusalReason, RenderResult

if TYPE_CHECKING:
    from faxout.render.cover import CoverSheet

GRACE_S = 5.0  # beyond the per-document limit, for process start and file flushing
_Job = tuple[str, tuple[Any, ...], dict[str, Any]]  # function name, args, keyword args


def _worker_main(conn: Connection) -> None:
    # Imported in the worker: the renderers load here, once, and stay warm.
    from faxout.render.cover import render_cover
    from faxout.render.document import render_submission

    functions: dict[str, Callable[..., RenderResult]] = {
        "submission": render_submission,
        "cover": render_cover,
    }
    while True:
        try:
            job: _Job | None = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        name, args, kwargs = job
        try:
            conn.send(("ok", functions[name](*args, **kwargs)))
        except Exception as exc:  # report breakage to the parent instead of dying silently
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


class _Worker:
    def __init__(self, context: multiprocessing.context.BaseContext) -> None:
        parent, child = multiprocessing.Pipe()
        self.conn = parent
        self.process: BaseProcess = context.Process(  # type: ignore[attr-defined]
            target=_worker_main, args=(child,), daemon=True, name="faxout-render"
        )
        self.process.start()
        child.close()
        self.jobs = 0

    def stop(self, *, kill: bool = False) -> None:
        if kill:
            self.process.kill()
        else:
            with contextlib.suppress(OSError):
                self.conn.send(None)
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.kill()
            self.process.join()
        self.conn.close()
        if self.process.exitcode != 0 and self.process.pid is not None:
            # A killed worker ran no exit handlers: remove its LibreOffice profile for it.
            shutil.rmtree(office_warm.profile_dir(self.process.pid), ignore_errors=True)


class RenderPool:
    """A fixed set of warm render workers. Thread-safe; use as a context manager.

    ``render_submission`` blocks until a worker is free and has finished the job.
    """

    def __init__(
        self, workers: int | None = None, *, max_documents: int = 200, grace_s: float = GRACE_S
    ) -> None:
        self.size = workers or os.cpu_count() or 1
        self.max_documents = max_documents
        self.grace_s = grace_s
        # spawn, not fork: PDFium and LibreOffice helpers must not inherit a forked state.
        self._context = multiprocessing.get_context("spawn")
        self._idle: queue.Queue[_Worker] = queue.Queue()
        self._all: list[_Worker] = []
        self._lock = threading.Lock()
        self._closed = False
        for _ in range(self.size):
            self._add_worker()

    def _add_worker(self) -> _Worker:
        worker = _Worker(self._context)
        with self._lock:
            self._all.append(worker)
        self._idle.put(worker)
        return worker

    def _retire(self, worker: _Worker, *, kill: bool) -> None:
        with self._lock:
            if worker in self._all:
                self._all.remove(worker)
        worker.stop(kill=kill)
        if not self._closed:
            self._add_worker()

    def render_submission(
        self, documents: Sequence[Path], out_path: Path, options: RenderOptions | None = None
    ) -> RenderResult:
        """Like :func:`faxout.render.render_submission`, run in a warm worker."""
        options = options or RenderOptions()
        limit = options.timeout_s * max(1, len(documents)) + self.grace_s
        job: _Job = ("submission", (list(documents), out_path, options), {})
        return self._run(job, out_path, options, limit)

    def render_cover(
        self,
        sheet: CoverSheet,
        out_path: Path,
        options: RenderOptions | None = None,
        *,
        template: str = "Default",
        template_dir: Path | None = None,
    ) -> RenderResult:
        """Like :func:`faxout.render.render_cover`, run in a warm worker."""
        options = options or RenderOptions()
        kwargs = {"template": template, "template_dir": template_dir}
        job: _Job = ("cover", (sheet, out_path, options), kwargs)
        return self._run(job, out_path, options, options.timeout_s + self.grace_s)

    def _run(self, job: _Job, out_path: Path, options: RenderOptions, limit: float) -> RenderResult:
        if self._closed:
            raise RenderError("render pool is closed")
        worker = self._idle.get()
        try:
            worker.conn.send(job)
            answered = worker.conn.poll(limit)
            reply = worker.conn.recv() if answered else None
        except (EOFError, OSError):
            answered, reply = True, None  # the worker died mid-job
        if reply is None:
            self._retire(worker, kill=True)
            out_path.unlink(missing_ok=True)
            if not answered:
                detail = f"rendering took longer than {options.timeout_s:g} s"
                return RenderResult(None, refusal=Refusal(RefusalReason.TIME_LIMIT, detail))
            detail = "the renderer crashed on this document"
            return RenderResult(None, refusal=Refusal(RefusalReason.CORRUPT, detail))
        worker.jobs += 1
        if worker.jobs >= self.max_documents:
            self._retire(worker, kill=False)
        else:
            self._idle.put(worker)
        status, value = reply
        if status != "ok":
            raise RenderError(f"render worker failed: {value}")
        result: RenderResult = value
        return result

    def worker_pids(self) -> list[int]:
        """Process ids of the current workers (for monitoring and tests)."""
        with self._lock:
            return [w.process.pid for w in self._all if w.process.pid is not None]

    def close(self) -> None:
        """Stop every worker; call once no submission is running."""
        self._closed = True
        with self._lock:
            workers = list(self._all)
            self._all.clear()
        for worker in workers:
            worker.stop()

    def __enter__(self) -> RenderPool:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
