"""Private work directories: 0700, unguessable names, never left behind by a crash.

Render and call directories used to be ``/tmp/faxout-render<N>-*``: predictable names in a
directory every local user and every converter could list. Now each faxout process owns one
directory ``ROOT/p<pid>-<random>/`` (``ROOT`` is ``DATA_DIR/run`` for the server, else a
fresh private directory), holds an ``flock`` on its ``.lock`` for as long as it lives, and
makes its work directories inside it with random names. A process that starts removes every
sibling whose lock it can take: their owner is dead (SIGKILL runs no cleanup), whatever its
pid has become since.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

log = logging.getLogger("faxout.sandbox")
_LOCK = ".lock"


def clean_stale(root: Path) -> int:
    """Remove the directories under ``root`` whose owning process is gone; how many."""
    removed = 0
    if not root.is_dir():
        return 0
    for entry in root.iterdir():
        if not entry.is_dir() or entry.is_symlink() or not entry.name.startswith("p"):
            continue
        try:
            fd = os.open(entry / _LOCK, os.O_RDONLY | os.O_NOFOLLOW)
        except FileNotFoundError:
            fd = -1  # a directory whose owner died before it wrote its lock
        except OSError:
            continue
        try:
            if fd >= 0:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # alive
            shutil.rmtree(entry, ignore_errors=True)
            removed += 1
        finally:
            if fd >= 0:
                os.close(fd)
    if removed:
        log.info("removed %d work director%s left by a stopped process", removed,
                 "y" if removed == 1 else "ies")  # fmt: skip
    return removed


class Workspace:
    """One process's private work area; ``temp_dir`` makes directories inside it."""

    def __init__(self, root: Path) -> None:
        root.mkdir(mode=0o700, parents=True, exist_ok=True)
        root.chmod(0o700)
        clean_stale(root)
        self.root = root
        self.path = Path(tempfile.mkdtemp(prefix=f"p{os.getpid()}-", dir=root))
        self._lock_fd = os.open(self.path / _LOCK, os.O_CREAT | os.O_RDWR | os.O_NOFOLLOW, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX)

    def new_dir(self, prefix: str) -> Path:
        """A new empty directory, 0700, with an unguessable name."""
        return Path(tempfile.mkdtemp(prefix=prefix, dir=self.path))

    @contextlib.contextmanager
    def temp_dir(self, prefix: str) -> Iterator[Path]:
        """A new directory removed (with what is in it) when the block ends."""
        path = self.new_dir(prefix)
        try:
            yield path
        finally:
            shutil.rmtree(path, ignore_errors=True)

    def close(self) -> None:
        """Remove the whole area (at a clean stop)."""
        shutil.rmtree(self.path, ignore_errors=True)
        with contextlib.suppress(OSError):
            os.close(self._lock_fd)


_current: Workspace | None = None
_current_lock = threading.Lock()


def configure(root: Path) -> Workspace:
    """Use ``root`` (the server's ``DATA_DIR/run``) for this process's work directories."""
    global _current
    with _current_lock:
        if _current is not None and _current.root == root:
            return _current
        if _current is not None:
            _current.close()
        _current = Workspace(root)
        return _current


def current() -> Workspace:
    """This process's workspace; a private one under the system temp dir if none is set."""
    global _current
    with _current_lock:
        if _current is None:
            root = Path(tempfile.mkdtemp(prefix="faxout-"))  # 0700, unguessable
            _current = Workspace(root)
            atexit.register(shutil.rmtree, root, ignore_errors=True)
        return _current
