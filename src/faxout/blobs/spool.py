"""Spool files: uploads on their way into a store, named after the process writing them.

A crash leaves its half-written uploads behind; the next start removes those of processes that
are gone, and only those: another process on this host (a worker, a second ``serve``) may be
writing its own uploads into the same spool at that moment.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
import time
from pathlib import Path
from typing import BinaryIO

from faxout.blobs.store import key_for
from faxout.errors import StorageError

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


class SpoolUpload:
    """An upload streaming into a spool file while its SHA-256 is computed.

    Stores subclass it and implement ``_store(key)``: make the spool file's bytes durable under
    ``key`` (the file is closed by then). ``commit`` returns the key only after that.

    The first ``SPILL_BYTES`` stay in memory and the spool file is made only when more come or
    at ``commit``: parsers write from the server's event loop, and creating a file in a
    directory that other threads are fsyncing waits for the filesystem's journal (0.7 ms per
    request, measured), while ``commit`` runs in a worker thread. Memory per upload stays
    bounded by ``SPILL_BYTES``; a 50 MB upload streams to disk as before.
    """

    SPILL_BYTES = 192 * 1024

    def __init__(self, spool: Path) -> None:
        self._hash = hashlib.sha256()
        self._size = 0
        self._key: str | None = None
        if not (spool.is_dir() and os.access(spool, os.W_OK)):  # a stat, not a file made
            raise StorageError(f"cannot create a spool file in {spool}: not a writable directory")
        self._spool = spool
        self._held: bytearray | None = bytearray()  # None once spilled (or discarded)
        self._path: Path | None = None
        self._file: BinaryIO | None = None
        self._done = False  # committed or discarded

    @property
    def size(self) -> int:
        """Bytes written so far."""
        return self._size

    def _spill(self) -> BinaryIO:
        """The spool file, made now if it is not yet, holding what was kept in memory."""
        if self._file is not None:
            return self._file
        try:
            fd, name = tempfile.mkstemp(prefix=upload_prefix(), dir=self._spool)
        except OSError as exc:
            raise StorageError(f"cannot create a spool file in {self._spool}: {exc}") from exc
        self._path = Path(name)
        self._file = os.fdopen(fd, "wb")
        held, self._held = self._held, None
        if held:
            self._file.write(held)
        return self._file

    def write(self, data: bytes) -> None:
        """Append bytes to the upload."""
        if self._done:
            raise StorageError("write after commit or discard")
        try:
            if self._held is not None and len(self._held) + len(data) <= self.SPILL_BYTES:
                self._held += data
            else:
                self._spill().write(data)
        except OSError as exc:
            self.discard()
            raise StorageError(f"cannot write spool file {self._path}: {exc}") from exc
        self._hash.update(data)
        self._size += len(data)

    def commit(self) -> str:
        """Make the bytes durable in the store; their key."""
        if self._key is not None:
            return self._key
        if self._done:
            raise StorageError("commit after discard")
        key = key_for(self._hash.hexdigest())
        try:
            try:
                file = self._spill()
                file.flush()
                os.fsync(file.fileno())
                file.close()
            except OSError as exc:
                raise StorageError(f"cannot write spool file {self._path}: {exc}") from exc
            self._file = None
            self._store(key)
        except BaseException:
            self.discard()
            raise
        self._key = key
        self._done = True
        self.spool_path.unlink(missing_ok=True)  # gone already when the store moved it
        return key

    def discard(self) -> None:
        """Forget the bytes (a no-op after commit)."""
        self._held = None
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._key is None and self._path is not None:
            self._path.unlink(missing_ok=True)
        self._done = True

    @property
    def spool_path(self) -> Path:
        """The spool file (made by ``commit`` at the latest), for ``_store``."""
        if self._path is None:
            raise StorageError("the upload has no spool file yet")
        return self._path

    def _store(self, key: str) -> None:
        raise NotImplementedError
