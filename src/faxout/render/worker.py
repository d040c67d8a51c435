"""The render worker process: runs jailed, answers render jobs over one socket.

Started by :class:`faxout.render.pool.RenderPool` as ``python -m faxout.render.worker FD``
inside a jail (:mod:`faxout.sandbox.jail`) that holds the worker's own ``/job/in``
(read-only: the current job's documents), ``/job/out`` (its results) and ``/job/work``
(scratch and the LibreOffice profile's pristine copy), and nothing of the data directory.
The renderers load once, here, and stay warm.
"""

from __future__ import annotations

import os
import sys
import tempfile
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from faxout.sandbox.worker import serve as serve_jobs

WARM_UP_ENV = "FAXOUT_WORKER_WARM_UP"  # "cover", "cover,office" or empty: what to warm


def warm_cover() -> None:
    """Render a cover page and throw it away: the first loads the HTML engine and its fonts
    (about 2 s), which the first fax would otherwise wait for."""
    from faxout.render.cover import CoverSheet, render_cover

    with tempfile.TemporaryDirectory(prefix="faxout-warm-") as work:
        render_cover(CoverSheet(sender_name="faxout", pages=1), Path(work) / "cover.tif")


def warm_office() -> None:
    """Start this worker's soffice (``WarmOffice`` is thread-safe: a job converting an
    office document meanwhile waits for it rather than starting a second one)."""
    from faxout.render import office_warm

    office = office_warm.instance()
    if office is not None:
        office.warm()


def serve(conn: Connection) -> None:
    """Answer ``(name, args, kwargs)`` jobs with ``("ok", result)`` or ``("error", text)``.

    With ``FAXOUT_WORKER_WARM_UP`` set, a thread warms the renderers while the worker is
    already answering: ``ping`` at once, a render job once the cover renderer is warm (the
    job would have done that work itself), an office document once soffice is up."""
    from faxout.render.cover import render_cover
    from faxout.render.document import render_submission

    functions: dict[str, Callable[..., Any]] = {
        "submission": render_submission,
        "cover": render_cover,
    }
    ready = threading.Lock()
    what = {w for w in os.environ.get(WARM_UP_ENV, "").split(",") if w}
    if what:

        def warming() -> None:
            try:
                if "cover" in what:
                    warm_cover()
            except Exception as exc:  # a job will meet the same trouble and report it
                print(f"warm-up failed: {type(exc).__name__}: {exc}", file=sys.stderr)
            finally:
                ready.release()  # a plain Lock: taken below, given back by this thread
            try:
                if "office" in what:
                    warm_office()  # jobs go on meanwhile: only an office document waits
            except Exception as exc:
                print(f"office warm-up failed: {type(exc).__name__}: {exc}", file=sys.stderr)

        ready.acquire()
        threading.Thread(target=warming, name="faxout-warm-up", daemon=True).start()

    serve_jobs(conn, functions, lambda: ready)


def main() -> None:
    """Entry point: the socket's file descriptor is the only argument."""
    serve(Connection(int(sys.argv[1])))


if __name__ == "__main__":
    main()
