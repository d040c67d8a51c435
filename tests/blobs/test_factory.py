"""Choosing the document store from its URL."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from faxout.blobs.factory import open_store
from faxout.blobs.local import LocalBlobStore
from faxout.blobs.s3 import S3BlobStore
from faxout.errors import ConfigError


@pytest.mark.parametrize("url", ["", "   "])
def test_empty_url_is_the_local_store(url: str, tmp_path: Path) -> None:
    store = open_store(url, tmp_path)
    assert isinstance(store, LocalBlobStore)
    assert store.root == tmp_path / "documents"
    assert store.spool == tmp_path / "spool"
    store.check()


@pytest.mark.parametrize("host", ["", "localhost"])
def test_file_url_is_a_shared_directory(host: str, tmp_path: Path) -> None:
    shared = tmp_path / "shared dir"
    store = open_store(f"file://{host}{shared.as_posix().replace(' ', '%20')}", tmp_path / "var")
    assert isinstance(store, LocalBlobStore)
    assert store.root == shared
    host_name = re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname())
    assert store.spool == shared / "spool" / host_name  # one spool per host, same filesystem
    upload = store.new_upload()
    upload.write(b"shared")
    key = upload.commit()
    assert (shared / key).read_bytes() == b"shared"
    assert not (tmp_path / "var").exists()


def test_s3_url(tmp_path: Path) -> None:
    store = open_store(
        "s3://fax-docs/prod/documents/?endpoint_url=http://127.0.0.1:9000&region=eu-west-3",
        tmp_path,
    )
    assert isinstance(store, S3BlobStore)
    assert store.bucket == "fax-docs"
    assert store.prefix == "prod/documents/"
    assert store.endpoint_url == "http://127.0.0.1:9000"
    assert store.region == "eu-west-3"
    assert store.addressing_style == "path"  # the default with a custom endpoint
    assert store.spool == tmp_path / "spool"


def test_s3_url_defaults(tmp_path: Path) -> None:
    store = open_store("s3://fax-docs", tmp_path)
    assert isinstance(store, S3BlobStore)
    assert store.prefix == ""
    assert store.endpoint_url is None
    assert store.addressing_style == "auto"


def test_s3_url_addressing_style(tmp_path: Path) -> None:
    store = open_store("s3://fax-docs/p?addressing_style=virtual", tmp_path)
    assert isinstance(store, S3BlobStore)
    assert store.addressing_style == "virtual"


def test_s3_url_against_moto(moto_endpoint: str, bucket: str, tmp_path: Path) -> None:
    store = open_store(f"s3://{bucket}/x?endpoint_url={moto_endpoint}", tmp_path)
    store.check()
    upload = store.new_upload()
    upload.write(b"via the URL")
    key = upload.commit()
    with store.open(key) as fh:
        assert fh.read() == b"via the URL"


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("ftp://host/dir", "scheme 'ftp' is not supported"),
        ("/shared/dir", "has no scheme"),
        ("shared/dir", "has no scheme"),
        ("file://shared/dir", "names host 'shared'"),
        ("file:///", "needs an absolute directory"),
        ("file:///shared/../etc", "must not contain '..'"),
        ("file:///shared/dir?mode=x", "takes no query"),
        ("s3://", "names no bucket"),
        ("s3:///prefix", "names no bucket"),
        ("s3://Bad_Bucket/p", "'Bad_Bucket' is not a valid bucket name"),
        ("s3://ab", "'ab' is not a valid bucket name"),
        ("s3://bucket/a//b", "empty or dot segment"),
        ("s3://bucket/a/../b", "empty or dot segment"),
        ("s3://bucket/p#frag", "takes no fragment"),
        ("s3://bucket/p?endpoint=http://h", "unknown parameter 'endpoint'"),
        ("s3://bucket/p?region=a&region=b", "'region' needs exactly one value"),
        ("s3://bucket/p?region=", "'region' needs exactly one value"),
        ("s3://bucket/p?region=EU WEST", "is not a region name"),
        ("s3://bucket/p?endpoint_url=ftp://h", "must be an http:// or https:// URL"),
        ("s3://bucket/p?endpoint_url=http://", "must be an http:// or https:// URL"),
        ("s3://bucket/p?endpoint_url=http://h:99999", "bad port"),
        ("s3://bucket/p?addressing_style=dns", "addressing_style 'dns' must be"),
        ("s3://bucket/p?junk", "malformed query"),
    ],
)
def test_bad_urls(url: str, message: str, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        open_store(url, tmp_path)


def test_credentials_in_the_url_are_refused_without_echoing_them(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="AWS_ACCESS_KEY_ID") as info:
        open_store("s3://AKIAEXAMPLE:s3cr3t@bucket/p", tmp_path)
    assert "s3cr3t" not in str(info.value)
