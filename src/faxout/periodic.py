"""A background loop: one daemon thread that runs a step every ``interval`` seconds, or at once
when woken, until stopped. The dispatcher and the report outbox each run on one."""

from __future__ import annotations

import threading
from collections.abc import Callable


class Periodic:
    """``start`` / ``wake`` / ``stop`` around ``step``; a step that raises is handed to
    ``on_error`` and the loop goes on."""

    def __init__(
        self,
        name: str,
        step: Callable[[], None],
        interval: float,
        on_error: Callable[[Exception], None],
    ) -> None:
        self._name = name
        self._step = step
        self._interval = interval
        self._on_error = on_error
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        """Start the thread (once)."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._loop, name=self._name, daemon=True)
            self._thread.start()

    def wake(self) -> None:
        """Run the next step now rather than at the end of the interval."""
        self._wake.set()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the current step (waiting up to ``timeout`` seconds for it)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._wake.clear()
            try:
                self._step()
            except Exception as exc:
                self._on_error(exc)
            self._wake.wait(self._interval)
