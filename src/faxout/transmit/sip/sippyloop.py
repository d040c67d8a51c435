"""sippy's event thread: one per process, the only thread that touches sippy state.

sippy runs every transaction on its own loop (``ED2``). It is imported on a thread of our own
that then runs the loop; everything else reaches it through ``on_loop`` (wait for a result) or
``post`` (fire and forget), which use ``ED2.callFromThread``.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from faxout.errors import TransportError

wire_log = logging.getLogger("faxout.transmit.sip.wire")

_loop_lock = threading.Lock()
_loop_ready = threading.Event()
_sippy: Modules | None = None  # the imported sippy modules, once the loop has started


def start_loop() -> Modules:
    """Import sippy on a thread of its own and run its event loop there, once per process."""
    global _sippy
    with _loop_lock:
        if _sippy is not None:
            return _sippy
        failure: list[BaseException] = []

        def run() -> None:
            global _sippy
            try:
                # sippy names its modules after their classes.
                import sippy.CCEvents as cc  # noqa: N813
                import sippy.MsgBody as body  # noqa: N813
                import sippy.SipContact as contact  # noqa: N813
                import sippy.SipRegistrationAgent as reg  # noqa: N813
                import sippy.SipRequest as request  # noqa: N813
                import sippy.SipTransactionManager as tm  # noqa: N813
                import sippy.SipURL as url  # noqa: N813
                import sippy.Time.Timeout as timeout  # noqa: N813
                import sippy.UA as ua  # noqa: N811
                from sippy.Core.EventDispatcher import ED2

                # Timers must be armed on the loop's thread; sippy notes the thread that first
                # imported it, which may not be this one.
                ED2.my_ident = threading.get_ident()
                _sippy = Modules(cc, body, contact, reg, request, tm, url, ua, timeout, ED2)
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                _loop_ready.set()
                return
            _loop_ready.set()
            ED2.loop()

        threading.Thread(target=run, name="sippy-loop", daemon=True).start()
        _loop_ready.wait(30)
        if failure or _sippy is None:
            raise TransportError(f"the SIP stack (sippy) could not start: {failure or 'timeout'}")
        return _sippy


@dataclass(frozen=True)
class Modules:
    """The sippy modules faxout uses, imported on the loop's thread."""

    cc: Any
    body: Any
    contact: Any
    reg: Any
    request: Any
    tm: Any
    url: Any
    ua: Any
    timeout: Any
    ed2: Any


def on_loop(fn: Callable[[], Any], timeout: float = 10.0) -> Any:
    """Run ``fn`` on sippy's thread and return its result."""
    mods = start_loop()
    done: queue.Queue[tuple[Any, BaseException | None]] = queue.Queue()

    def call() -> None:
        try:
            done.put((fn(), None))
        except BaseException as exc:  # handed back to the caller
            done.put((None, exc))

    mods.ed2.callFromThread(call)
    try:
        value, exc = done.get(timeout=timeout)
    except queue.Empty:
        raise TransportError("the SIP stack did not respond within 10 s") from None
    if exc is not None:
        raise exc
    return value


def post(fn: Callable[[], None]) -> None:
    """Run ``fn`` on sippy's thread, without waiting."""
    start_loop().ed2.callFromThread(fn)


class WireLog:
    """sippy's logger interface, routed to Python logging (DEBUG: every SIP message)."""

    def write(self, *args: Any, **kwargs: Any) -> None:
        if wire_log.isEnabledFor(logging.DEBUG):
            wire_log.debug("".join(str(a) for a in args).rstrip())
