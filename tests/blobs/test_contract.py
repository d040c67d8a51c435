"""The ``BlobStore`` contract, run against the memory, local-directory and S3 stores."""

from __future__ import annotations

import hashlib
import random
import re
import subprocess
import sys
import tracemalloc
from collections.abc import Iterator

import pytest

from faxout.blobs.store import BlobStore, key_for
from faxout.errors import StorageError
from tests.blobs.conftest import Backend

KEY_LAYOUT = re.compile(r"sha256/([0-9a-f]{2})/([0-9a-f]{2})/(\1\2[0-9a-f]{60})")


def store_bytes(store: BlobStore, data: bytes, piece: int = 1000) -> str:
    upload = store.new_upload()
    for start in range(0, len(data), piece):
        upload.write(data[start : start + piece])
    assert upload.size == len(data)
    return upload.commit()


def read_all(store: BlobStore, key: str) -> bytes:
    with store.open(key) as fh:
        return fh.read()


def chunks(seed: int, count: int, size: int) -> Iterator[bytes]:
    rng = random.Random(seed)
    for _ in range(count):
        yield rng.randbytes(size)


class TestBlobStoreContract:
    def test_same_bytes_give_the_sha256_key(self, backend: Backend) -> None:
        data = b"%PDF-1.4 one page\n" * 500
        key = store_bytes(backend.store, data)
        assert key == key_for(hashlib.sha256(data).hexdigest())
        assert KEY_LAYOUT.fullmatch(key), key
        assert key == store_bytes(backend.store, data, piece=7)
        assert backend.stored() == [key]

    def test_commit_twice_returns_the_same_key(self, backend: Backend) -> None:
        upload = backend.store.new_upload()
        upload.write(b"abc")
        key = upload.commit()
        assert upload.commit() == key
        upload.discard()  # after commit: a no-op
        assert read_all(backend.store, key) == b"abc"

    def test_open_returns_the_bytes(self, backend: Backend) -> None:
        data = random.Random(1).randbytes(300_000)
        key = store_bytes(backend.store, data, piece=65_536)
        assert read_all(backend.store, key) == data
        with backend.store.open(key) as fh:
            assert fh.read(10) == data[:10]
            assert fh.read() == data[10:]

    def test_empty_document(self, backend: Backend) -> None:
        key = backend.store.new_upload().commit()
        assert key == key_for(hashlib.sha256(b"").hexdigest())
        assert read_all(backend.store, key) == b""

    def test_discard_leaves_nothing(self, backend: Backend) -> None:
        upload = backend.store.new_upload()
        upload.write(b"never mind" * 1000)
        upload.discard()
        upload.discard()
        assert backend.stored() == []
        assert backend.spooled() == []

    def test_commit_leaves_no_spool_file(self, backend: Backend) -> None:
        store_bytes(backend.store, b"x" * 10_000)
        assert backend.spooled() == []

    def test_dedupe(self, backend: Backend) -> None:
        first = store_bytes(backend.store, b"same document")
        other = store_bytes(backend.store, b"another document")
        second = store_bytes(backend.store, b"same document")
        assert first == second != other
        assert backend.stored() == sorted([first, other])
        assert backend.spooled() == []

    def test_exists_and_delete(self, backend: Backend) -> None:
        key = key_for(hashlib.sha256(b"to delete").hexdigest())
        assert not backend.store.exists(key)
        backend.store.delete(key)  # absent: no error
        assert store_bytes(backend.store, b"to delete") == key
        assert backend.store.exists(key)
        backend.store.delete(key)
        assert not backend.store.exists(key)
        assert backend.stored() == []
        backend.store.delete(key)
        with pytest.raises(StorageError):
            backend.store.open(key)

    def test_open_missing_is_a_storage_error(self, backend: Backend) -> None:
        with pytest.raises(StorageError):
            backend.store.open(key_for(hashlib.sha256(b"never stored").hexdigest()))

    def test_check_fails_clearly_when_writes_are_impossible(self, backend: Backend) -> None:
        backend.store.check()
        backend.break_writes()
        with pytest.raises(StorageError, match=backend.check_error):
            backend.store.check()

    def test_20_mb_upload_streams_without_holding_it_in_memory(
        self, spooling_backend: Backend
    ) -> None:
        store = spooling_backend.store
        size, count = 256 * 1024, 80  # 20 MiB
        digest = hashlib.sha256()
        tracemalloc.start()
        try:
            upload = store.new_upload()
            for chunk in chunks(20, count, size):
                upload.write(chunk)
                digest.update(chunk)
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        assert upload.size == size * count
        assert peak < 4 * size, f"peak {peak} bytes while writing 20 MiB"
        (spool_file,) = spooling_backend.spooled()
        assert spool_file.stat().st_size == size * count  # on disk, not in memory

        key = upload.commit()
        assert key == key_for(digest.hexdigest())
        assert spooling_backend.spooled() == []
        assert store.exists(key)
        read_back = hashlib.sha256()
        with store.open(key) as fh:
            while block := fh.read(1024 * 1024):
                read_back.update(block)
        assert read_back.hexdigest() == digest.hexdigest()

    def test_crash_leftovers_are_cleaned_at_the_next_start(self, spooling_backend: Backend) -> None:
        store = spooling_backend.store
        kept = store_bytes(store, b"committed before the crash")
        crash = (
            "import os, sys\n"
            "from pathlib import Path\n"
            "from faxout.blobs.factory import open_store\n"
            "upload = open_store(sys.argv[1], Path(sys.argv[2])).new_upload()\n"
            # more than an upload keeps in memory (SpoolUpload.SPILL_BYTES): on disk by now
            "upload.write(b'half a document' * 40000)\n"
            "os._exit(9)\n"
        )
        result = subprocess.run(
            [sys.executable, "-c", crash, spooling_backend.url, str(spooling_backend.data_dir)],
            capture_output=True,
            timeout=60,
            check=False,
        )
        assert result.returncode == 9, result.stderr.decode()
        (leftover,) = spooling_backend.spooled()
        assert leftover.name.startswith("upload-")

        from faxout.blobs.factory import open_store

        restarted = open_store(spooling_backend.url, spooling_backend.data_dir)
        assert restarted.clean_spool() == 1
        assert spooling_backend.spooled() == []
        assert spooling_backend.stored() == [kept]
        assert read_all(restarted, kept) == b"committed before the crash"
