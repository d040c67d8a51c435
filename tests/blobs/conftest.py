"""Fixtures for the document-store tests: a moto S3 server and one harness per backend."""

from __future__ import annotations

import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

import boto3
import pytest
from moto.server import ThreadedMotoServer

from faxout.blobs.factory import open_store
from faxout.blobs.local import LocalBlobStore
from faxout.blobs.memory import MemoryBlobStore
from faxout.blobs.s3 import S3BlobStore
from faxout.blobs.store import BlobStore

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

REGION = "us-east-1"


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    """An S3 endpoint served by moto on a free port of 127.0.0.1, for the whole session."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials from the standard variables; no ~/.aws files, no instance metadata."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


def s3_client(endpoint: str) -> S3Client:
    """A plain client on the moto server, to look behind the store's back."""
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )


@pytest.fixture
def bucket(moto_endpoint: str, aws_env: None) -> str:
    """A fresh, empty bucket on the moto server."""
    name = f"faxout-{uuid.uuid4().hex[:12]}"
    s3_client(moto_endpoint).create_bucket(Bucket=name)
    return name


def object_keys(client: S3Client, bucket: str, prefix: str = "") -> list[str]:
    """Every object key in ``bucket`` under ``prefix`` (prefix removed)."""
    keys: list[str] = []
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        keys.extend(obj["Key"][len(prefix) :] for obj in page.get("Contents", []))
    return keys


@dataclass
class Backend:
    """One document store under test, with ways to look at and break it from outside."""

    name: str
    store: BlobStore
    stored: Callable[[], list[str]]
    """Keys of the stored documents, read behind the store's back."""
    spooled: Callable[[], list[Path]]
    """Files left in the spool directory."""
    break_writes: Callable[[], None]
    """Make the store unable to take a write."""
    check_error: str
    """A regex the ``StorageError`` of ``check()`` matches once writes are broken."""
    url: str = ""
    data_dir: Path = field(default_factory=Path)
    """``open_store(url, data_dir)`` reopens the store (spooling backends only)."""


def _memory() -> Backend:
    store = MemoryBlobStore()

    def break_writes() -> None:
        store.fail_writes = True

    return Backend("memory", store, lambda: sorted(store.blobs), list, break_writes, "refuses")


def _local(data_dir: Path) -> Backend:
    store = open_store("", data_dir)
    assert isinstance(store, LocalBlobStore)
    spool = store.spool

    def stored() -> list[str]:
        root = store.root
        return sorted(p.relative_to(root).as_posix() for p in root.rglob("*") if p.is_file())

    def break_writes() -> None:
        if os.geteuid() != 0:
            spool.chmod(0o500)
        else:
            # Root ignores permission bits: the spool's mount goes away instead.
            shutil.rmtree(spool)
            spool.symlink_to(data_dir / "unmounted")

    def spooled() -> list[Path]:
        return sorted(spool.iterdir())

    return Backend(
        "local", store, stored, spooled, break_writes, "cannot write", url="", data_dir=data_dir
    )


def _s3(data_dir: Path, endpoint: str, bucket: str) -> Backend:
    url = f"s3://{bucket}/faxout/docs?endpoint_url={endpoint}&region={REGION}"
    store = open_store(url, data_dir)
    assert isinstance(store, S3BlobStore)
    client = s3_client(endpoint)

    def break_writes() -> None:
        client.delete_bucket(Bucket=bucket)

    def spooled() -> list[Path]:
        return sorted(store.spool.iterdir())

    return Backend(
        "s3",
        store,
        lambda: sorted(object_keys(client, bucket, "faxout/docs/")),
        spooled,
        break_writes,
        f"bucket '{bucket}' does not exist",
        url=url,
        data_dir=data_dir,
    )


@pytest.fixture(params=["memory", "local", "s3"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """Every document store."""
    return _make(request, tmp_path)


@pytest.fixture(params=["local", "s3"])
def spooling_backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    """The stores that stream uploads through a spool file (all but the in-memory one)."""
    return _make(request, tmp_path)


def _make(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    kind: str = request.param
    if kind == "memory":
        return _memory()
    if kind == "local":
        return _local(tmp_path / "var")
    endpoint: str = request.getfixturevalue("moto_endpoint")
    return _s3(tmp_path / "var", endpoint, request.getfixturevalue("bucket"))
