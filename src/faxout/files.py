"""Files and directories faxout creates are private to the user it runs as.

The data directory holds the database (password hashes, numbers, names), every document sent,
every fax received and every report mailed: nothing in it is for other local users. Directories
are created 0700 and files 0600 here; ``secure_data_dir`` also sets the process umask to 077, so
files that libraries create on their own (SQLite's ``-wal``/``-shm``, the TIFF spandsp writes for
a received fax) are private too, and tightens a data directory left open by an older version.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path
from typing import BinaryIO

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
PRIVATE_UMASK = 0o077
_OTHERS = 0o077  # group and other permission bits

log = logging.getLogger("faxout.files")


def private_dir(path: Path) -> Path:
    """Create ``path`` and its missing parents as 0700 directories; ``path`` itself.

    Directories that exist already are left as they are (``Path.mkdir(parents=True)`` would
    create the parents with the default mode, so it is not used).
    """
    try:
        path.mkdir(PRIVATE_DIR)
    except FileNotFoundError:
        if path.parent == path:
            raise
        private_dir(path.parent)
        private_dir(path)
    except FileExistsError:
        if not path.is_dir():
            raise
    return path


def create_private(path: Path) -> None:
    """Create ``path`` as an empty 0600 file unless it exists (an existing file is untouched).

    Made before SQLite opens a database: SQLite gives its journal files the database file's
    mode, so all three are private.
    """
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, PRIVATE_FILE))


def open_private(path: Path) -> BinaryIO:
    """Open ``path`` for writing (created 0600, or truncated) as a binary file."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_CLOEXEC, PRIVATE_FILE)
    return os.fdopen(fd, "wb")


def write_private(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path``, a 0600 file."""
    with open_private(path) as out:
        out.write(data)


def make_private(path: Path) -> None:
    """Take the group and other bits off a file written by a library that ignores our modes."""
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & _OTHERS:
        path.chmod(mode & ~_OTHERS)


def secure_data_dir(path: Path, shared: Path | None = None) -> int:
    """Make this process and the data directory ``path`` private; how many paths were tightened.

    Sets the umask to 077 for everything this process (and its children) creates, creates
    ``path`` 0700, and, when an existing ``path`` is open to other users, takes the group and
    other bits off it and off everything below it (symbolic links are not followed), with a
    warning in the log. A directory that is already private is not walked: nobody else can
    reach what is inside. ``shared`` (the cover-page directory) is left as it is: the operator
    installs those templates, and the render sandbox, another uid, reads them.
    """
    os.umask(PRIVATE_UMASK)
    private_dir(path)
    mode = stat.S_IMODE(path.stat().st_mode)
    if not mode & _OTHERS:
        return 0
    try:
        path.chmod(mode & ~_OTHERS)
    except OSError as exc:
        log.warning("data directory %s is open to other users (mode %03o): %s", path, mode, exc)
        return 0
    changed, failed = _tighten(path, shared)
    log.warning(
        "data directory %s was open to other users (mode %03o): took group and other access "
        "off it and %d path(s) in it%s",
        path,
        mode,
        changed,
        f"; {failed} could not be changed" if failed else "",
    )
    return changed + 1


def _tighten(root: Path, skip: Path | None) -> tuple[int, int]:
    """Take the group and other bits off everything below ``root`` but ``skip``:
    (changed, failed)."""
    changed = failed = 0
    skipped = skip.resolve() if skip is not None else None
    for top, dirs, files in os.walk(root):  # Path.walk is 3.12
        dirs[:] = [d for d in dirs if Path(top, d).resolve() != skipped]
        for name in (*dirs, *files):
            entry = Path(top, name)
            try:
                st = entry.lstat()
                if stat.S_ISLNK(st.st_mode) or not st.st_mode & _OTHERS:
                    continue
                entry.chmod(stat.S_IMODE(st.st_mode) & ~_OTHERS)
                changed += 1
            except OSError:
                failed += 1
    return changed, failed
