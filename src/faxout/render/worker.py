"""The render worker process: runs jailed, answers render jobs over one socket.

Started by :class:`faxout.render.pool.RenderPool` as ``python -m faxout.render.worker FD``
inside a jail (:mod:`faxout.sandbox.jail`) that holds the worker's own ``/job/in``
(read-only: the current job's documents), ``/job/out`` (its results) and ``/job/work``
(scratch and the LibreOffice profile's pristine copy), and nothing of the data directory.
The renderers load once, here, and stay warm.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any


def serve(conn: Connection) -> None:
    """Answer ``(name, args, kwargs)`` jobs with ``("ok", result)`` or ``("error", text)``."""
    from faxout.render.cover import render_cover
    from faxout.render.document import render_submission

    functions: dict[str, Callable[..., Any]] = {
        "submission": render_submission,
        "cover": render_cover,
        "ping": lambda: "pong",
    }
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        name, args, kwargs = job
        try:
            conn.send(("ok", functions[name](*args, **kwargs)))
        except Exception as exc:  # report breakage to the parent instead of dying silently
            conn.send(("error", f"{type(exc).__name__}: {exc}"))


def main() -> None:
    """Entry point: the socket's file descriptor is the only argument."""
    serve(Connection(int(sys.argv[1])))


if __name__ == "__main__":
    main()
