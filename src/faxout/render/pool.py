"""Warm worker processes, each in a jail of its own, restarted after N submissions.

A fresh Python process costs about 0.22 s of imports before the first page (Ghostscript
starts in 0.05 s), so documents go to long-lived workers that have numpy, Pillow and PDFium
loaded. Processes, not threads: each worker renders on its own core, and a document that
crashes PDFium, loops forever or leaks memory takes down only its worker, which the pool
replaces. A worker that does not answer within the job's time limit (plus a grace period) is
killed and the submission is refused with "time limit exceeded"; one that dies gives
"corrupt". Workers are recycled every ``max_documents`` submissions so a slow leak in a
native library never grows without bound.

**Isolation.** Each worker runs in a jail (:mod:`faxout.sandbox.jail`): as ``nobody``, no
network, rlimits, and a filesystem of the operating system read-only plus three directories
of its own: ``/job/in`` (read-only; the pool copies the current job's documents there),
``/job/out`` (where it writes the result, which the pool moves out) and ``/job/work``
(scratch). Both job directories are emptied after every job, so a worker sees one job's
documents at a time and never the data directory, another worker or the LibreOffice profile
of another. Ghostscript and LibreOffice run in jails nested inside it (see ghostscript.py and
office_warm.py), each seeing only its own files.
"""

from __future__ import annotations

import dataclasses
import os
import queue
import shutil
import threading
from collections.abc import Sequence
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from faxout.errors import RenderError
from faxout.render import office_warm
from faxout.render.options import RenderOptions
from faxout.render.result import Refusal, RefusalReason, RenderResult
from faxout.sandbox import jail, workspace
from faxout.sandbox.worker import JailedWorker, Job, seen_as

if TYPE_CHECKING:
    from faxout.render.cover import CoverSheet

GRACE_S = 5.0  # beyond the job's time limit, for process start and file flushing
_MIB = 1024 * 1024


@dataclasses.dataclass(frozen=True)
class WorkerLimits:
    """What one render worker (and each converter it starts) may use."""

    memory_mb: int = 2048  # address space of the worker process
    converter_memory_mb: int = 2048  # of each Ghostscript or LibreOffice process
    file_mb: int = 1024  # the largest file any of them may write


def _worker(
    home: Path, pristine: Path, covers: Path | None, limits: WorkerLimits, warm_up: str
) -> JailedWorker:
    """A render worker: the covers and LibreOffice's pristine profile mounted read-only
    beside its job directories, and room for the converters it starts in nested jails."""
    return JailedWorker(
        home,
        "faxout.render.worker",
        budget=jail.Budget(
            memory_bytes=limits.memory_mb * _MIB,
            # The whole tree: the worker and the converters it starts inside its jail.
            resident_bytes=(limits.memory_mb + limits.converter_memory_mb) * _MIB,
            cpu_seconds=0,
            file_bytes=limits.file_mb * _MIB,
        ),
        mounts=[(pristine, "lo-pristine"), *([(covers, "covers")] if covers else [])],
        env={
            "FAXOUT_LO_PRISTINE": str(seen_as(pristine, "lo-pristine")),
            "FAXOUT_CONVERTER_MEMORY_MB": str(limits.converter_memory_mb),
            "FAXOUT_CONVERTER_FILE_MB": str(limits.file_mb),
            "FAXOUT_WORKER_WARM_UP": warm_up,
        },
        nested=True,
        error=RenderError,
        what="a render worker",
    )


class RenderPool:
    """A fixed set of warm, jailed render workers. Thread-safe; use as a context manager.

    ``render_submission`` blocks until a worker is free and has finished the job. Cover pages
    may use templates from ``covers_dir`` only (it is mounted into every worker).
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        max_documents: int = 200,
        grace_s: float = GRACE_S,
        covers_dir: Path | None = None,
        limits: WorkerLimits | None = None,
        warm_up: tuple[str, ...] = (),
    ) -> None:
        self.size = workers or os.cpu_count() or 1
        # what each worker warms as it starts ("cover", "office": faxout.render.worker)
        self.warm_up = ",".join(warm_up)
        self.max_documents = max_documents
        self.grace_s = grace_s
        self.covers_dir = covers_dir.resolve() if covers_dir else None
        self.limits = limits or WorkerLimits()
        if problem := jail.problem():
            raise RenderError(problem)
        self._space = workspace.current()
        # The operator's cover pages are 0600 in a 0700 data directory; the workers read a
        # copy faxout keeps readable, refreshed before each cover page (they are small).
        self._covers = self._space.new_dir("covers-") if self.covers_dir else None
        self._covers_lock = threading.Lock()
        self._sync_covers()
        # The LibreOffice profile every worker's soffice starts from: written once by faxout,
        # read-only to every jail, copied afresh whenever a soffice starts.
        self._pristine = office_warm.pristine_profile()
        self._idle: queue.Queue[JailedWorker] = queue.Queue()
        self._all: list[JailedWorker] = []
        self._lock = threading.Lock()
        self._closed = False
        try:
            for _ in range(self.size):
                self._add_worker()
        except BaseException:
            self.close()
            raise

    def _sync_covers(self) -> None:
        if self._covers is None or self.covers_dir is None:
            return
        with self._covers_lock:
            self._covers.chmod(0o755)
            given = self.covers_dir
            wanted = {p.name: p for p in given.iterdir() if p.is_file()} if given.is_dir() else {}
            for old in self._covers.iterdir():
                if old.name not in wanted:
                    old.unlink()
            for name, source in wanted.items():
                copy = self._covers / name
                if not copy.exists() or copy.stat().st_mtime != source.stat().st_mtime:
                    shutil.copy2(source, copy)
                    copy.chmod(0o644)

    def _add_worker(self) -> JailedWorker:
        home = self._space.new_dir("w-")
        worker = _worker(home, self._pristine, self._covers, self.limits, self.warm_up)
        with self._lock:
            self._all.append(worker)
        self._idle.put(worker)
        return worker

    def _retire(self, worker: JailedWorker, *, kill: bool) -> None:
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
        limit = min(options.timeout_s * max(1, len(documents)), options.submission_timeout_s)
        limit += self.grace_s
        return self._run("submission", (), {}, list(documents), out_path, options, limit)

    def render_cover(
        self,
        sheet: CoverSheet,
        out_path: Path,
        options: RenderOptions | None = None,
        *,
        template: str = "Default",
        template_dir: Path | None = None,
    ) -> RenderResult:
        """Like :func:`faxout.render.render_cover`, run in a warm worker.

        ``template_dir`` must be the pool's ``covers_dir`` (or None for the shipped ones).
        """
        options = options or RenderOptions()
        if template_dir is not None and (
            self.covers_dir is None or template_dir.resolve() != self.covers_dir
        ):
            raise RenderError(f"this render pool serves cover pages from {self.covers_dir}")
        kwargs = {"template": template}
        self._sync_covers()
        return self._run("cover", (sheet,), kwargs, [], out_path, options,
                         options.timeout_s + self.grace_s)  # fmt: skip

    def _run(
        self,
        name: str,
        head: tuple[Any, ...],
        kwargs: dict[str, Any],
        documents: list[Path],
        out_path: Path,
        options: RenderOptions,
        limit: float,
    ) -> RenderResult:
        if self._closed:
            raise RenderError("render pool is closed")
        worker = self._idle.get()
        settled = False  # the worker was handed back or retired
        try:
            seen = worker.take_in(documents)
            view_out = worker.view_out / "result.tif"
            if name == "cover":
                args: tuple[Any, ...] = (*head, view_out, options)
                covers = seen_as(self._covers, "covers") if self._covers else None
                kwargs = {**kwargs, "template_dir": covers}
            else:
                args = (seen, view_out, options)
            job: Job = (name, args, kwargs)
            answered, reply = worker.call(job, limit)
            if reply is None:
                settled = True
                self._retire(worker, kill=True)
                out_path.unlink(missing_ok=True)
                if not answered:
                    detail = f"rendering took longer than {options.timeout_s:g} s"
                    return RenderResult(None, refusal=Refusal(RefusalReason.TIME_LIMIT, detail))
                detail = "the renderer crashed on this document (or ran out of memory)"
                return RenderResult(None, refusal=Refusal(RefusalReason.CORRUPT, detail))
            status, value = reply
            if status != "ok":
                settled = True
                self._recycle(worker)
                raise RenderError(f"render worker failed: {value}")
            result: RenderResult = value
            if result.path is not None:
                worker.take_out("result.tif", out_path)
                result.path = out_path
            settled = True
            self._recycle(worker)
            return result
        except BaseException:
            if not settled:
                self._retire(worker, kill=True)
            raise

    def _recycle(self, worker: JailedWorker) -> None:
        worker.clear()
        worker.jobs += 1
        if worker.jobs >= self.max_documents:
            self._retire(worker, kill=False)
        else:
            self._idle.put(worker)

    def worker_pids(self) -> list[int]:
        """Host process ids of the current workers' Python processes (for monitoring)."""
        with self._lock:
            return [w.pid for w in self._all]

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
