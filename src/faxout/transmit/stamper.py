"""Warm jailed processes that prepare each call's pages (:mod:`faxout.transmit.pages`).

The header step runs before every attempt, between the line being taken and the number being
dialled. In a fresh Python it cost 0.25–0.8 s (starting the interpreter, importing numpy and
Pillow) for a few tens of milliseconds of work; here it goes to one of a few long-lived
workers that have those loaded.

**Isolation** is that of the render workers (:mod:`faxout.sandbox.worker`): each worker is
jailed, sees one call's pages at a time (its directories are emptied after every call), is
replaced after ``max_jobs`` calls, and is killed when a call's pages take longer than the time
limit. A worker a crafted file could subvert could already write a crafted result for its own
call in a fresh process; what a warm one adds is the calls after it until it is recycled, the
same exposure the render workers accept for the documents after a hostile one.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from faxout.errors import TransportError
from faxout.sandbox import jail, workspace
from faxout.sandbox.worker import JailedWorker

TIMEOUT_S = 120.0  # a call's pages: a few ms per page; this only bounds a stuck worker
MAX_JOBS = 500  # calls per worker before it is replaced
_MIB = 1024 * 1024


class Stamper:
    """Up to ``size`` warm stamping workers, started on first use or by :meth:`start`.

    Thread-safe: a call takes an idle worker or starts one, and waits only when ``size``
    are busy. :meth:`close` stops them all; the stamper starts new ones if used again.
    """

    def __init__(self, size: int = 2, *, max_jobs: int = MAX_JOBS) -> None:
        self.size = size
        self.max_jobs = max_jobs
        self._idle: queue.LifoQueue[JailedWorker] = queue.LifoQueue()  # the warmest first
        self._count = 0  # workers alive or being started, idle or busy
        self._all: list[JailedWorker] = []
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start one worker now if none is running, so the first call does not wait."""
        worker = self._reserved_new(only_if_none=True)
        if worker is not None:
            self._idle.put(worker)

    def _reserved_new(self, *, only_if_none: bool = False) -> JailedWorker | None:
        """A new worker in a slot reserved for it (given back if it does not start); None when
        there is no slot (all ``size`` taken or, ``only_if_none``, any)."""
        with self._lock:
            if self._count >= (1 if only_if_none else self.size):
                return None
            self._count += 1
        try:
            return self._new()
        except BaseException:
            with self._lock:
                self._count -= 1
            raise

    def _new(self) -> JailedWorker:
        if problem := jail.problem():
            raise TransportError(f"could not prepare the pages: {problem}")
        worker = JailedWorker(
            workspace.current().new_dir("stamp-"),
            "faxout.transmit.pages",
            budget=jail.Budget(memory_bytes=1024 * _MIB, resident_bytes=1024 * _MIB, cpu_seconds=0),
            error=TransportError,
            what="the page stamper",
        )
        with self._lock:
            self._all.append(worker)
        return worker

    def _take(self) -> JailedWorker:
        while True:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                made = self._reserved_new()
                if made is not None:
                    return made
                worker = self._idle.get()
            if worker.alive():
                return worker
            self._drop(worker, kill=True)  # died while idle: its successor takes the call

    def _drop(self, worker: JailedWorker, *, kill: bool) -> None:
        with self._lock:
            self._count -= 1
            self._all.remove(worker)
        worker.stop(kill=kill)

    def worker_pids(self) -> list[int]:
        """Host process ids of the workers' Python processes (for monitoring and tests)."""
        with self._lock:
            return [w.pid for w in self._all]

    def call(
        self,
        files: list[Path],
        job: Callable[[list[Path], Path], tuple[str, dict[str, Any]]],
        out: Path,
    ) -> Any:
        """Run in a worker that sees ``files`` the job ``job(their paths, its out
        directory)`` gives (a function name and keyword arguments); the file ``out.name`` it
        writes there moves to ``out``. Returns what the function returned."""
        worker = self._take()
        settled = False
        try:
            name, kwargs = job(worker.take_in(files), worker.view_out)
            answered, reply = worker.call((name, (), kwargs), TIMEOUT_S)
            if reply is None:
                settled = True
                self._drop(worker, kill=True)
                why = f"took longer than {TIMEOUT_S:g} s" if not answered else "crashed"
                raise TransportError(f"could not prepare the pages: the stamper {why}")
            status, value = reply
            if status == "ok":
                worker.take_out(out.name, out)
            worker.clear()
            worker.jobs += 1
            settled = True
            if worker.jobs >= self.max_jobs:
                self._drop(worker, kill=False)
            else:
                self._idle.put(worker)
            if status != "ok":
                raise TransportError(f"could not prepare the pages: {value}")
            return value
        except BaseException:
            if not settled:
                self._drop(worker, kill=True)
            raise

    def close(self) -> None:
        """Stop the idle workers (a busy one is stopped when its call returns it)."""
        while True:
            try:
                worker = self._idle.get_nowait()
            except queue.Empty:
                return
            self._drop(worker, kill=False)


_shared: Stamper | None = None
_shared_lock = threading.Lock()


def shared() -> Stamper:
    """The process's stamper (every caller of :func:`faxout.transmit.pages.prepare`)."""
    global _shared
    with _shared_lock:
        if _shared is None:
            _shared = Stamper()
        return _shared
