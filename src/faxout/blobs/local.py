"""The local-directory document store (the embedded default).

Durability: an upload is written to a temporary file in the store's spool directory (same
filesystem), then ``fsync``-ed, renamed to its content-addressed path, and the directory is
``fsync``-ed so the rename itself survives a crash. A crash before ``commit`` leaves only a
temporary file, removed at the next start.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from faxout.blobs.spool import clean_orphans, upload_prefix
from faxout.blobs.store import key_for
from faxout.errors import StorageError


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalUpload:
    """An upload streaming into a temporary file."""

    def __init__(self, store: LocalBlobStore) -> None:
        self._store = store
        self._hash = hashlib.sha256()
        self._size = 0
        self._key: str | None = None
        try:
            fd, name = tempfile.mkstemp(prefix=upload_prefix(), dir=store.spool)
        except OSError as exc:
            raise StorageError(f"cannot create a spool file in {store.spool}: {exc}") from exc
        self._path = Path(name)
        self._file: BinaryIO | None = os.fdopen(fd, "wb")

    @property
    def size(self) -> int:
        return self._size

    def write(self, data: bytes) -> None:
        if self._file is None:
            raise StorageError("write after commit or discard")
        try:
            self._file.write(data)
        except OSError as exc:
            self.discard()
            raise StorageError(f"cannot write spool file {self._path}: {exc}") from exc
        self._hash.update(data)
        self._size += len(data)

    def commit(self) -> str:
        if self._key is not None:
            return self._key
        if self._file is None:
            raise StorageError("commit after discard")
        key = key_for(self._hash.hexdigest())
        target = self._store.path_for(key)
        try:
            self._file.flush()
            os.fsync(self._file.fileno())
            self._file.close()
            self._file = None
            if target.exists():
                # Same bytes already stored (and durable): keep that copy.
                self._path.unlink()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                self._path.rename(target)
                _fsync_dir(target.parent)
        except OSError as exc:
            self.discard()
            raise StorageError(f"cannot store document {key}: {exc}") from exc
        self._key = key
        return key

    def discard(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None
        if self._key is None:
            self._path.unlink(missing_ok=True)


class LocalBlobStore:
    """Documents as files under ``root``; uploads spool in ``spool`` (same filesystem)."""

    def __init__(self, root: Path, spool: Path) -> None:
        self.root = root
        self.spool = spool
        try:
            root.mkdir(parents=True, exist_ok=True)
            spool.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create the document store at {root}: {exc}") from exc

    def path_for(self, key: str) -> Path:
        """Where ``key`` lives on disk."""
        parts = key.split("/")
        if len(parts) != 4 or parts[0] != "sha256" or any(p in {"", ".", ".."} for p in parts):
            raise StorageError(f"not a document key: {key!r}")
        return self.root.joinpath(*parts)

    def new_upload(self) -> LocalUpload:
        return LocalUpload(self)

    def open(self, key: str) -> BinaryIO:
        try:
            return self.path_for(key).open("rb")
        except OSError as exc:
            raise StorageError(f"cannot read document {key}: {exc}") from exc

    def exists(self, key: str) -> bool:
        return self.path_for(key).is_file()

    def delete(self, key: str) -> None:
        self.path_for(key).unlink(missing_ok=True)

    def check(self) -> None:
        probe = self.spool / f"check-{os.getpid()}"
        try:
            with probe.open("wb") as fh:
                fh.write(b"faxout storage check")
                fh.flush()
                os.fsync(fh.fileno())
        except OSError as exc:
            raise StorageError(f"cannot write to the document store {self.spool}: {exc}") from exc
        finally:
            with contextlib.suppress(OSError):  # keep the StorageError above, if any
                probe.unlink(missing_ok=True)

    def clean_spool(self) -> int:
        """Remove uploads that crashed processes left in the spool; returns how many."""
        return clean_orphans(self.spool)
