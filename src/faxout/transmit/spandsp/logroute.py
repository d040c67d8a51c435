"""Route spandsp's log lines into Python ``logging``, one closure per call.

spandsp 0.0.6's message handler is ``void (*)(int level, const char *text)`` with no user data,
so the only way to know which call a line belongs to is a separate C trampoline per session.
"""

from __future__ import annotations

import ctypes
import logging

from faxout.transmit.spandsp import constants as k
from faxout.transmit.spandsp._lib import MessageHandler, library

# spandsp reports routine events of a healthy call ("ECM carrier not found" at the end of every
# ECM call) as warnings, so its levels are taken one step down.
_LEVELS = {
    k.SPAN_LOG_ERROR: logging.WARNING,
    k.SPAN_LOG_WARNING: logging.INFO,
    k.SPAN_LOG_PROTOCOL_ERROR: logging.INFO,
    k.SPAN_LOG_PROTOCOL_WARNING: logging.INFO,
}


class LogRoute:
    """Sends the lines of one or more spandsp ``logging_state_t`` to ``logger``.

    Tracing is synchronous inside ``fax_rx()`` and costs a lot, so spandsp only produces
    flow-level lines when the logger would keep DEBUG records; otherwise warnings only.
    The object keeps the trampoline and the tag buffer alive: spandsp stores both pointers
    without copying.
    """

    def __init__(self, logger: logging.Logger | logging.LoggerAdapter[logging.Logger], tag: str):
        self._logger = logger
        self._tag = ctypes.create_string_buffer(tag.encode("ascii", "replace")[:40])
        self._handler = MessageHandler(self._on_message)
        if logger.isEnabledFor(logging.DEBUG):
            level = k.SPAN_LOG_FLOW
        elif logger.isEnabledFor(logging.INFO):
            level = k.SPAN_LOG_PROTOCOL_WARNING
        else:
            level = k.SPAN_LOG_ERROR
        self._level = level | k.SPAN_LOG_SHOW_TAG

    def attach(self, logging_state: int | None) -> None:
        """Route the lines of this ``logging_state_t*`` through this route."""
        if not logging_state:
            return
        lib = library()
        lib.span_log_set_message_handler(logging_state, self._handler)
        lib.span_log_set_tag(logging_state, self._tag)
        lib.span_log_set_level(logging_state, self._level)

    def _on_message(self, level: int, text: bytes | None) -> None:
        # Called from C: never let anything escape, it would be printed and lost.
        try:
            message = (text or b"").decode("utf-8", "replace").rstrip("\n")
            self._logger.log(_LEVELS.get(level & 0xFF, logging.DEBUG), "%s", message)
        except Exception:  # noqa: S110 - a log line is not worth crashing a call
            pass
