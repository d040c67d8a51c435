"""Several calls at once, off the event loop: on worker threads or in worker processes.

A call is CPU-bound C work in short foreign calls. ctypes releases the GIL during each, but the
Python glue between them still serialises on the GIL, so threads mainly keep the event loop free;
processes (one per core) add throughput. Either way each call creates, uses and frees its spandsp
state on one worker thread: no state object ever crosses threads. Progress is relayed to the
event loop's thread.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from multiprocessing.queues import SimpleQueue
from types import TracebackType

from faxout.errors import TransportError
from faxout.transmit.result import CallProgress, CallResult, FaxCall
from faxout.transmit.transport import FaxTransport, ProgressSink


class CallPool:
    """Runs ``transport.send`` for up to ``workers`` calls at a time on threads."""

    def __init__(self, transport: FaxTransport, workers: int = 4) -> None:
        self._transport = transport
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="faxcall")

    async def send(self, call: FaxCall, progress: ProgressSink) -> CallResult:
        """Send one fax on a worker thread; ``progress`` runs on the event loop's thread."""
        loop = asyncio.get_running_loop()

        def relay(event: CallProgress) -> None:
            """Runs on the worker thread: hand the event to the loop's thread."""
            loop.call_soon_threadsafe(progress, event)

        return await loop.run_in_executor(self._executor, self._transport.send, call, relay)

    def close(self) -> None:
        """Wait for running calls and stop the workers."""
        self._executor.shutdown(wait=True)

    def __enter__(self) -> CallPool:
        return self

    def __exit__(
        self,
        _t: type[BaseException] | None,
        _e: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.close()


# --- process pool -----------------------------------------------------------------------------

# Queue items: (call id, event) from workers; (call id, None) when a call's events are all sent;
# None to stop the relay.
_Item = tuple[str, CallProgress | None] | None

_worker_transport: FaxTransport | None = None
_worker_events: SimpleQueue[_Item] | None = None


def _init_worker(factory: Callable[[], FaxTransport], events: SimpleQueue[_Item]) -> None:
    global _worker_transport, _worker_events  # one transport per worker process
    _worker_transport = factory()
    _worker_events = events


def _send_in_worker(call: FaxCall) -> CallResult:
    transport, events = _worker_transport, _worker_events
    if transport is None or events is None:
        raise RuntimeError("process pool worker used before its initialiser ran")
    try:
        return transport.send(call, lambda event: events.put((call.call_id, event)))
    finally:
        events.put((call.call_id, None))


class ProcessCallPool:
    """Runs calls in ``workers`` processes, each with a transport made by ``factory``.

    ``factory`` must be picklable (a module-level function or ``functools.partial``), e.g.
    ``partial(SimLineTransport, SimLineConfig(data_dir))``. Call ids must be unique among the
    calls in flight: progress is routed back by call id.
    """

    def __init__(self, factory: Callable[[], FaxTransport], workers: int = 2) -> None:
        # spawn: never fork a process that may be running an event loop and other threads.
        context = multiprocessing.get_context("spawn")
        self._events: SimpleQueue[_Item] = context.SimpleQueue()
        self._executor = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(factory, self._events),
        )
        self._routes: dict[
            str, tuple[asyncio.AbstractEventLoop, ProgressSink, asyncio.Future[None]]
        ]
        self._routes = {}
        self._lock = threading.Lock()
        self._reader = threading.Thread(target=self._relay, name="faxcall-progress", daemon=True)
        self._reader.start()

    async def send(self, call: FaxCall, progress: ProgressSink) -> CallResult:
        """Send one fax in a worker process; ``progress`` runs on the event loop's thread, and
        every event of the call has been delivered when this returns."""
        loop = asyncio.get_running_loop()
        drained: asyncio.Future[None] = loop.create_future()
        with self._lock:
            self._routes[call.call_id] = (loop, progress, drained)
        try:
            future = self._executor.submit(_send_in_worker, call)
            result = await asyncio.wrap_future(future)
            await drained
            return result
        except BrokenProcessPool as exc:
            raise TransportError(f"the call process for {call.call_id} died: {exc}") from exc
        finally:
            with self._lock:
                self._routes.pop(call.call_id, None)

    def _relay(self) -> None:
        while True:
            item = self._events.get()
            if item is None:
                return
            call_id, event = item
            with self._lock:
                route = self._routes.get(call_id)
            if route is None:
                continue
            loop, progress, drained = route
            # call_soon_threadsafe keeps order: the events run before `drained` resolves.
            if event is None:
                loop.call_soon_threadsafe(_resolve, drained)
            else:
                loop.call_soon_threadsafe(progress, event)

    def close(self) -> None:
        """Wait for running calls, stop the workers and the progress relay."""
        self._executor.shutdown(wait=True)
        self._events.put(None)
        self._reader.join()

    def __enter__(self) -> ProcessCallPool:
        return self

    def __exit__(
        self,
        _t: type[BaseException] | None,
        _e: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.close()


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)
