"""The transport seam: how one fax attempt goes out, whatever carries it."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable
from typing import Protocol

from faxout.errors import TransportError
from faxout.transmit.result import CallProgress, CallResult, FaxCall

ProgressSink = Callable[[CallProgress], None]


class FaxTransport(Protocol):
    """Sends one document to one number and says how it went.

    ``send`` blocks until the call is over and returns the outcome as a value: busy, no answer
    and refusals are results, not exceptions. It raises ``faxout.errors.TransportError`` only
    when the transport itself breaks.

    ``progress`` is called on the thread running ``send``, as the call goes (``CallProgress``):
    ``sending`` when a page's image data starts, ``page`` when the far end answers it (MCF
    confirms it). It must return at once: the call's timing depends on it, so a sink that
    records anything hands it to another thread (``faxout.transmit.live``).
    """

    def send(self, call: FaxCall, progress: ProgressSink) -> CallResult:
        """Place the call and transmit ``call.document``."""
        ...


class ScriptedTransport:
    """A test transport: hands out prepared results in order, no fax engine involved.

    Each result is copied with the call's page count unchanged; ``calls`` records what was sent.
    """

    def __init__(self, results: Iterable[CallResult]) -> None:
        self._results = list(results)
        self.calls: list[FaxCall] = []

    def send(self, call: FaxCall, progress: ProgressSink) -> CallResult:
        """Return the next scripted result, reporting its pages as progress."""
        if not self._results:
            raise TransportError(f"ScriptedTransport has no result left for {call.call_id}")
        result = self._results.pop(0)
        self.calls.append(call)
        progress(CallProgress("dialing", 0.0, detail=call.number))
        for page in result.pages:
            progress(CallProgress("sending", 0.0, page=page.number, pages=result.pages_in_document))
            progress(
                CallProgress(
                    "page",
                    result.line_seconds,
                    page=page.number,
                    pages=result.pages_in_document,
                    verdict=page.verdict,
                )
            )
        progress(CallProgress("hangup", result.line_seconds, detail=result.t30_text))
        return dataclasses.replace(result)
