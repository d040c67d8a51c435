"""The document store seam.

Documents are content-addressed: the key is the SHA-256 of the bytes (``sha256/ab/cd/<hex>``),
so a document uploaded twice is stored once and a key always names the same bytes. An upload
streams into the store through ``Upload.write`` and becomes durable at ``Upload.commit``: when
``commit`` returns, the bytes survive a crash or power loss. Only then may a database row name
the key (write order: blob first, then the row).
"""

from __future__ import annotations

from typing import BinaryIO, Protocol


class Upload(Protocol):
    """A document being streamed into the store."""

    @property
    def size(self) -> int:
        """Bytes written so far."""
        ...

    def write(self, data: bytes) -> None:
        """Append bytes."""
        ...

    def commit(self) -> str:
        """Make the bytes durable and return their key."""
        ...

    def discard(self) -> None:
        """Forget the bytes (safe to call after commit, then a no-op)."""
        ...


class BlobStore(Protocol):
    """Where documents live."""

    def new_upload(self) -> Upload:
        """Start streaming a new document into the store."""
        ...

    def open(self, key: str) -> BinaryIO:
        """Read a stored document."""
        ...

    def exists(self, key: str) -> bool:
        """Whether ``key`` is stored."""
        ...

    def delete(self, key: str) -> None:
        """Remove ``key`` (no error when it is not there)."""
        ...

    def check(self) -> None:
        """Raise ``StorageError`` when the store cannot take a write right now."""
        ...

    def clean_spool(self) -> int:
        """Remove the uploads that crashed processes left behind (called once at start);
        returns how many. A store that spools nothing returns 0."""
        ...


def key_for(hexdigest: str) -> str:
    """The key of a document whose SHA-256 is ``hexdigest``."""
    return f"sha256/{hexdigest[:2]}/{hexdigest[2:4]}/{hexdigest}"
