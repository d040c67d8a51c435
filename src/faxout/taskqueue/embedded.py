"""Huey consumer threads that live inside another process (``faxout serve``, ``faxout worker``).

Huey's own ``Consumer.run`` owns the process: it installs signal handlers (which only work in
the main thread) and ``exec``s itself on SIGHUP. Here the host process owns signals and
shutdown; the consumer only starts threads, supervises them, and stops cleanly: the stop flag
is set, each worker finishes the task it is running and returns.

Workers on a polling broker (SQLite) sleep with backoff when the queue is empty; an enqueue
from the same process wakes them at once through ``Wake``, so the embedded default does not
pay the polling delay between the dispatcher and the transmit task.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

from huey.consumer import Consumer, Worker

from faxout.taskqueue.port import TaskQueue

log = logging.getLogger("faxout.taskqueue")


class Wake:
    """Wakes sleeping workers of this process when work is enqueued here.

    A generation counter rather than an Event: a worker remembers the generation it last saw,
    so an enqueue that lands between its empty dequeue and its sleep is not missed.
    """

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._generation = 0

    def notify(self) -> None:
        """Something was enqueued (or the consumer is stopping): wake every sleeper."""
        with self._cond:
            self._generation += 1
            self._cond.notify_all()

    def sleep(self, seen: int, timeout: float, stop_flag: threading.Event) -> int:
        """Sleep up to ``timeout`` unless the generation moved past ``seen`` or a stop was
        requested; returns the generation to remember."""
        with self._cond:
            if self._generation == seen and not stop_flag.is_set():
                self._cond.wait(timeout)
            return self._generation


class _WakeableWorker(Worker):  # type: ignore[misc]
    """A huey worker whose idle sleep ends early on a local enqueue or a stop."""

    # Set by huey's Worker.__init__; declared because huey ships no type hints.
    delay: float
    max_delay: float
    backoff: float
    stop_flag: threading.Event

    def __init__(self, *args: Any, wake: Wake, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._wake = wake
        self._seen = -1

    def sleep(self) -> None:
        self.delay = min(self.delay, self.max_delay)
        self._seen = self._wake.sleep(self._seen, self.delay, self.stop_flag)
        self.delay *= self.backoff


class EmbeddedConsumer(Consumer):  # type: ignore[misc]
    """Huey's thread consumer without signal handlers, with a supervisor and a clean stop."""

    def __init__(
        self,
        huey: Any,
        *,
        workers: int,
        wake: Wake,
        max_delay: float = 1.0,
        health_interval: float = 10.0,
    ) -> None:
        self._wake = wake
        self._health_interval = health_interval
        super().__init__(
            huey,
            workers=workers,
            periodic=False,
            initial_delay=0.05,
            backoff=1.5,
            max_delay=max_delay,
            worker_type="thread",
            check_worker_health=True,
        )
        self._supervisor: threading.Thread | None = None

    def _create_worker(self) -> Worker:
        return _WakeableWorker(
            huey=self.huey,
            stop_flag=self.stop_flag,
            default_delay=self.default_delay,
            max_delay=self.max_delay,
            backoff=self.backoff,
            max_tasks=self.max_tasks,
            wake=self._wake,
        )

    def _set_signal_handlers(self) -> None:
        # The host process (uvicorn, the CLI) owns signals; signal.signal would also raise
        # outside the main thread.
        pass

    def start(self) -> None:
        """Start the workers, huey's scheduler (for delayed infrastructure retries) and a
        supervisor that replaces a worker thread that died."""
        super().start()
        self._supervisor = threading.Thread(
            target=self._supervise, name="taskqueue-supervisor", daemon=True
        )
        self._supervisor.start()

    def _supervise(self) -> None:
        while not self.stop_flag.wait(self._health_interval):
            try:
                self.check_worker_health()
            except Exception:  # keep supervising; a failed check is retried next round
                log.exception("worker health check failed")

    def stop_and_join(self, timeout: float | None = None) -> bool:
        """Ask every thread to stop, let running tasks finish, wait up to ``timeout``
        seconds (None: no limit). True when all threads have ended."""
        self.stop_flag.set()
        self._wake.notify()
        if self._supervisor is not None:
            # Joined first so it cannot replace workers while they are being joined.
            self._supervisor.join(timeout)
        self.shutdown_timeout = timeout
        self.stop(graceful=True)
        threads = [t for _, t in self.worker_threads] + [self.scheduler]
        return not any(t.is_alive() for t in threads)


def run_consumer(
    queue: TaskQueue, workers: int, stop_event: threading.Event, stop_timeout: float | None = None
) -> None:
    """Consume ``queue`` with ``workers`` threads until ``stop_event`` is set, then stop
    cleanly (running tasks finish; wait at most ``stop_timeout`` seconds).

    For ``faxout worker``: the CLI installs SIGTERM/SIGINT handlers in the main thread that set
    ``stop_event`` and calls this from the main thread.
    """
    queue.start(workers)
    try:
        stop_event.wait()
    finally:
        if not queue.stop(stop_timeout):
            log.warning("consumer threads still running after %ss", stop_timeout)
