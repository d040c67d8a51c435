"""The local-directory document store (the embedded default).

Durability: an upload is written to a temporary file in the store's spool directory (same
filesystem), then ``fsync``-ed, renamed to its content-addressed path, and the directory is
``fsync``-ed so the rename itself survives a crash. A crash before ``commit`` leaves only a
temporary file, removed at the next start.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import BinaryIO

from faxout.blobs.spool import SpoolUpload, clean_orphans
from faxout.errors import StorageError
from faxout.files import private_dir


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class LocalUpload(SpoolUpload):
    """An upload streaming into a spool file, renamed into the store at ``commit``."""

    def __init__(self, store: LocalBlobStore) -> None:
        super().__init__(store.spool)
        self._store_root = store

    def _store(self, key: str) -> None:
        target = self._store_root.path_for(key)
        try:
            if target.exists():
                return  # the same bytes are already stored (and durable): keep that copy
            private_dir(target.parent)
            self.spool_path.rename(target)
            _fsync_dir(target.parent)
        except OSError as exc:
            raise StorageError(f"cannot store document {key}: {exc}") from exc


class LocalBlobStore:
    """Documents as files under ``root``; uploads spool in ``spool`` (same filesystem)."""

    def __init__(self, root: Path, spool: Path) -> None:
        self.root = root
        self.spool = spool
        try:
            # Directories 0700; spool files are 0600 (mkstemp) and keep that mode when renamed.
            private_dir(root)
            private_dir(spool)
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
