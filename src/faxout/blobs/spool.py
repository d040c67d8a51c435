"""Spool files: uploads on their way into a store, named after the process writing them.

A crash leaves its half-written uploads behind; the next start removes those of processes that
are gone, and only those: another process on this host (a worker, a second ``serve``) may be
writing its own uploads into the same spool at that moment.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

PREFIX = "upload-"
STALE_SECONDS = 24 * 3600  # spool files without a readable owner are removed after this


def upload_prefix() -> str:
    """The name prefix of this process's spool files."""
    return f"{PREFIX}{os.getpid()}-"


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def clean_orphans(spool: Path, now: float | None = None) -> int:
    """Remove uploads whose writing process is gone; returns how many."""
    now = time.time() if now is None else now
    removed = 0
    for path in spool.glob(f"{PREFIX}*"):
        owner = path.name[len(PREFIX) :].split("-", 1)[0]
        if owner.isdigit():
            if int(owner) == os.getpid() or _alive(int(owner)):
                continue
        else:
            try:
                if now - path.stat().st_mtime < STALE_SECONDS:
                    continue
            except FileNotFoundError:
                continue
        path.unlink(missing_ok=True)
        removed += 1
    return removed
