"""An in-memory document store for unit tests."""

from __future__ import annotations

import hashlib
import io
from typing import BinaryIO

from faxout.blobs.store import key_for
from faxout.errors import StorageError


class MemoryUpload:
    """An upload into a ``MemoryBlobStore``."""

    def __init__(self, store: MemoryBlobStore) -> None:
        self._store = store
        self._buf = bytearray()
        self._key: str | None = None

    @property
    def size(self) -> int:
        return len(self._buf)

    def write(self, data: bytes) -> None:
        if self._store.fail_writes:
            raise StorageError("memory store refuses writes (test switch)")
        self._buf += data

    def commit(self) -> str:
        if self._key is None:
            self._key = key_for(hashlib.sha256(self._buf).hexdigest())
            self._store.blobs[self._key] = bytes(self._buf)
        return self._key

    def discard(self) -> None:
        if self._key is None:
            self._buf.clear()


class MemoryBlobStore:
    """Documents in a dict; ``fail_writes`` simulates a full disk."""

    def __init__(self) -> None:
        self.blobs: dict[str, bytes] = {}
        self.fail_writes = False

    def new_upload(self) -> MemoryUpload:
        return MemoryUpload(self)

    def open(self, key: str) -> BinaryIO:
        try:
            return io.BytesIO(self.blobs[key])
        except KeyError as exc:
            raise StorageError(f"no document {key}") from exc

    def exists(self, key: str) -> bool:
        return key in self.blobs

    def delete(self, key: str) -> None:
        self.blobs.pop(key, None)

    def check(self) -> None:
        if self.fail_writes:
            raise StorageError("memory store refuses writes (test switch)")

    def clean_spool(self) -> int:
        return 0  # nothing is spooled: an upload lives in memory until committed
