"""What only the S3 store does: multipart, skipped re-uploads, integrity, translated errors."""

from __future__ import annotations

import hashlib
import random
import socket
from pathlib import Path

import pytest

from faxout.blobs.s3 import MiB, S3BlobStore
from faxout.blobs.store import key_for
from faxout.errors import StorageError
from tests.blobs.conftest import REGION, object_keys, s3_client


def make_store(endpoint: str, bucket: str, tmp_path: Path, **kwargs: object) -> S3BlobStore:
    return S3BlobStore(
        bucket,
        spool=tmp_path / "spool",
        prefix="p",
        endpoint_url=endpoint,
        region=REGION,
        addressing_style="path",
        **kwargs,  # type: ignore[arg-type]
    )


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def test_large_upload_goes_multipart(moto_endpoint: str, bucket: str, tmp_path: Path) -> None:
    store = make_store(
        moto_endpoint, bucket, tmp_path, multipart_threshold=5 * MiB, multipart_chunksize=5 * MiB
    )
    data = random.Random(3).randbytes(12 * MiB)
    upload = store.new_upload()
    for start in range(0, len(data), MiB):
        upload.write(data[start : start + MiB])
    key = upload.commit()
    head = s3_client(moto_endpoint).head_object(Bucket=bucket, Key=f"p/{key}")
    assert head["ETag"].strip('"').endswith("-3")  # three parts
    assert head["ContentLength"] == len(data)
    with store.open(key) as fh:
        assert fh.read() == data


def test_commit_skips_the_upload_when_the_object_exists(
    moto_endpoint: str, bucket: str, tmp_path: Path
) -> None:
    store = make_store(moto_endpoint, bucket, tmp_path)
    data = b"already there"
    key = key_for(hashlib.sha256(data).hexdigest())
    client = s3_client(moto_endpoint)
    client.put_object(Bucket=bucket, Key=f"p/{key}", Body=data, Metadata={"marker": "original"})
    upload = store.new_upload()
    upload.write(data)
    assert upload.commit() == key
    assert client.head_object(Bucket=bucket, Key=f"p/{key}")["Metadata"] == {"marker": "original"}
    assert list((tmp_path / "spool").iterdir()) == []


def test_prefix_is_used(moto_endpoint: str, bucket: str, tmp_path: Path) -> None:
    store = make_store(moto_endpoint, bucket, tmp_path)
    upload = store.new_upload()
    upload.write(b"prefixed")
    key = upload.commit()
    assert object_keys(s3_client(moto_endpoint), bucket) == [f"p/{key}"]


def test_open_refuses_corrupt_bytes(moto_endpoint: str, bucket: str, tmp_path: Path) -> None:
    store = make_store(moto_endpoint, bucket, tmp_path)
    key = key_for(hashlib.sha256(b"the real bytes").hexdigest())
    s3_client(moto_endpoint).put_object(Bucket=bucket, Key=f"p/{key}", Body=b"other bytes")
    with pytest.raises(StorageError, match="corrupt"):
        store.open(key)


def test_not_a_key_is_refused(moto_endpoint: str, bucket: str, tmp_path: Path) -> None:
    store = make_store(moto_endpoint, bucket, tmp_path)
    for bad in ("../etc/passwd", "sha256/ab/cd/xyz", "sha256/AB/CD/" + "A" * 64):
        with pytest.raises(StorageError, match="not a document key"):
            store.exists(bad)


def test_missing_bucket_on_commit(moto_endpoint: str, tmp_path: Path) -> None:
    store = make_store(moto_endpoint, "no-such-bucket-here", tmp_path)
    upload = store.new_upload()
    upload.write(b"orphan")
    with pytest.raises(StorageError, match="bucket 'no-such-bucket-here' does not exist"):
        upload.commit()
    assert list((tmp_path / "spool").iterdir()) == []


def test_unreachable_endpoint(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{closed_port()}"
    store = make_store(endpoint, "bucket", tmp_path, max_attempts=1, connect_timeout=2.0)
    with pytest.raises(StorageError, match="cannot reach the endpoint") as info:
        store.check()
    assert "s3://bucket/p/" in str(info.value)
    key = key_for(hashlib.sha256(b"x").hexdigest())
    with pytest.raises(StorageError, match="cannot reach"):
        store.exists(key)
    with pytest.raises(StorageError, match="cannot reach"):
        store.open(key)
    with pytest.raises(StorageError, match="cannot reach"):
        store.delete(key)
    upload = store.new_upload()
    upload.write(b"x")
    with pytest.raises(StorageError, match="cannot reach"):
        upload.commit()
    assert list((tmp_path / "spool").iterdir()) == []


def test_no_credentials(
    moto_endpoint: str, bucket: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    store = make_store(moto_endpoint, bucket, tmp_path)
    with pytest.raises(StorageError, match="no credentials"):
        store.check()


def test_check_fails_when_the_spool_is_not_writable(
    moto_endpoint: str, bucket: str, tmp_path: Path
) -> None:
    store = make_store(moto_endpoint, bucket, tmp_path)
    store.check()
    (tmp_path / "spool").rmdir()
    (tmp_path / "spool").symlink_to(tmp_path / "unmounted")
    with pytest.raises(StorageError, match="spool"):
        store.check()
    with pytest.raises(StorageError, match="spool"):
        store.new_upload()


def test_check_leaves_no_probe_object(moto_endpoint: str, bucket: str, tmp_path: Path) -> None:
    make_store(moto_endpoint, bucket, tmp_path).check()
    assert object_keys(s3_client(moto_endpoint), bucket) == []
