"""The ``TaskQueue`` seam: named tasks that carry one integer id, and an in-process double.

The database is the source of truth; a task only says "look at row N". Handlers load the row
and move it with compare-and-set, so a duplicate or stale message does nothing and a lost one
is healed by the reconciler. Hence the seam is tiny: register handlers, enqueue ids, start and
stop the consumers. Delays (send times, domain retries) live in SQL, not in the broker.

Handlers must be registered under the same names in every process that enqueues or consumes.
"""

from __future__ import annotations

import collections
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from faxout.errors import FaxoutError

log = logging.getLogger("faxout.taskqueue")

Handler = Callable[[int], None]


class TaskQueueError(FaxoutError):
    """The queue's broker (SQLite file, Redis) failed or could not be reached."""


class UnknownTaskError(TaskQueueError, LookupError):
    """A task name was enqueued that no handler was registered for."""


@dataclass(frozen=True)
class TaskSpec:
    """A registered handler and its infrastructure retries (not domain retries)."""

    name: str
    fn: Handler
    retries: int = 0
    retry_delay: float = 0.0


class TaskQueue(Protocol):
    """Where work ids go to be picked up by consumer threads (here or in other processes)."""

    def register(
        self, name: str, fn: Handler, *, retries: int = 0, retry_delay: float = 0.0
    ) -> None:
        """Bind ``name`` to ``fn(item_id)``. ``retries`` re-run ``fn`` after it raised (for
        transient infrastructure failures only), ``retry_delay`` seconds later. Register
        before ``start``."""
        ...

    def enqueue(self, name: str, item_id: int) -> None:
        """Ask for ``name``'s handler to run once with ``item_id``. Durable in the broker when
        this returns; runs when a consumer is started (here or elsewhere)."""
        ...

    def start(self, workers: int = 1) -> None:
        """Start ``workers`` consumer threads in this process."""
        ...

    def stop(self, timeout: float | None = None) -> bool:
        """Stop consuming: running handlers finish, then the threads end. Waits at most
        ``timeout`` seconds (None: until they finish); True when every thread ended."""
        ...

    def close(self) -> None:
        """Release the broker connection (after ``stop``)."""
        ...


def check_item_id(item_id: int) -> int:
    """Reject what is not a plain int id (a bool, a str) before it reaches a broker."""
    if type(item_id) is not int:
        raise TypeError(f"task ids are ints, not {type(item_id).__name__}")
    return item_id


def run_logged(spec: TaskSpec, item_id: int) -> None:
    """Run a handler, logging a failure with its task name and id, then re-raising it so the
    queue can count the failure and retry if the task allows it."""
    try:
        spec.fn(item_id)
    except Exception:
        log.exception("task %s(%d) raised", spec.name, item_id)
        raise


class InlineTaskQueue:
    """A ``TaskQueue`` for unit tests: no broker, no threads.

    ``eager=True`` (default): while started, ``enqueue`` runs the handler before returning
    (in the caller's thread; a handler that enqueues more work has it run after it returns,
    not nested). ``eager=False``: items wait until ``drain()``. Items enqueued while stopped
    wait for ``start`` (eager) or ``drain``. Handler failures are logged, retried up to the
    task's ``retries`` at once (delays are skipped), and kept in ``failures``.
    """

    def __init__(self, *, eager: bool = True) -> None:
        self.eager = eager
        self.failures: list[tuple[str, int, Exception]] = []
        self._specs: dict[str, TaskSpec] = {}
        self._pending: collections.deque[tuple[str, int]] = collections.deque()
        self._lock = threading.Lock()
        # One drainer at a time keeps handler order deterministic, like a one-thread consumer.
        self._drain_lock = threading.RLock()
        self._local = threading.local()
        self._started = False

    def register(
        self, name: str, fn: Handler, *, retries: int = 0, retry_delay: float = 0.0
    ) -> None:
        """Bind ``name`` to ``fn`` (see ``TaskQueue.register``)."""
        if retries < 0 or retry_delay < 0:
            raise ValueError("retries and retry_delay must not be negative")
        self._specs[name] = TaskSpec(name, fn, retries, retry_delay)

    def enqueue(self, name: str, item_id: int) -> None:
        """Queue ``name(item_id)``; run it now when eager and started."""
        check_item_id(item_id)
        if name not in self._specs:
            raise UnknownTaskError(name)
        with self._lock:
            self._pending.append((name, item_id))
        if self.eager and self._started and not getattr(self._local, "draining", False):
            self._drain(until_stopped=True)

    def start(self, workers: int = 1) -> None:
        """Accept work; when eager, run what was queued while stopped. ``workers`` is
        ignored: handlers run in the caller's thread."""
        self._started = True
        if self.eager:
            self._drain(until_stopped=True)

    def stop(self, timeout: float | None = None) -> bool:
        """Stop running work on enqueue; a drain in progress (another thread's handler)
        finishes first, as a consumer thread would. False if it outlasted ``timeout``."""
        self._started = False
        if not self._drain_lock.acquire(timeout=-1 if timeout is None else timeout):
            return False
        self._drain_lock.release()
        return True

    def close(self) -> None:
        """Nothing to release."""

    @property
    def pending(self) -> list[tuple[str, int]]:
        """What is queued and not yet run, oldest first."""
        with self._lock:
            return list(self._pending)

    def drain(self) -> int:
        """Run queued items, including ones their handlers enqueue, until none is left.
        Returns how many handler runs there were (retries included)."""
        return self._drain(until_stopped=False)

    def _drain(self, *, until_stopped: bool) -> int:
        runs = 0
        with self._drain_lock:
            outer = getattr(self._local, "draining", False)
            self._local.draining = True
            try:
                while True:
                    with self._lock:
                        # After stop(), eager draining leaves the rest for the next start.
                        if not self._pending or (until_stopped and not self._started):
                            return runs
                        name, item_id = self._pending.popleft()
                    runs += self._run(self._specs[name], item_id)
            finally:
                self._local.draining = outer

    def _run(self, spec: TaskSpec, item_id: int) -> int:
        for attempt in range(spec.retries + 1):
            try:
                run_logged(spec, item_id)
            except Exception as exc:
                self.failures.append((spec.name, item_id, exc))
            else:
                return attempt + 1
        return spec.retries + 1
