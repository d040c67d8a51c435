"""What the audio and the T.38 terminal share: one spandsp state, owned by one thread."""

from __future__ import annotations

import threading
from collections.abc import Callable
from types import TracebackType
from typing import Self

from faxout.errors import TransportError


class Terminal:
    """Holds a spandsp terminal's state pointer; ``free`` releases it on ``close``.

    spandsp state is not thread-safe: a terminal is created, used and closed on one thread,
    and ``_live`` refuses any other (and any use after close), naming ``kind``.
    """

    kind = "fax terminal"

    def __init__(self, ptr: int, free: Callable[[int], object]) -> None:
        self._ptr: int | None = ptr
        self._free = free
        self._owner = threading.get_ident()

    def close(self) -> None:
        """Free the spandsp state. Idempotent."""
        if self._ptr is not None:
            self._free(self._ptr)
            self._ptr = None

    def _live(self) -> int:
        if self._ptr is None:
            raise TransportError(f"{self.kind} used after close")
        if threading.get_ident() != self._owner:
            # spandsp state is not thread-safe: one call, one thread, start to finish.
            raise TransportError(f"{self.kind} used from a thread other than its own")
        return self._ptr

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        _t: type[BaseException] | None,
        _e: BaseException | None,
        _tb: TracebackType | None,
    ) -> None:
        self.close()
