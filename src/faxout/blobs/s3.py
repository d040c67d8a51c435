"""The S3-compatible document store (the distributed default).

An upload streams into a temporary file in a local spool directory while it is hashed, so a
50 MB document never sits in memory. ``commit`` uploads the file under its content key with
boto3's managed transfer (multipart above ``multipart_threshold``) unless the object is already
there, and returns the key only once S3 has acknowledged the object: from then on S3 holds the
bytes durably. A crash before ``commit`` returns leaves at most a spool file (removed by
``clean_spool`` at the next start) and never a partial object: S3 objects appear whole or not
at all (an unfinished multipart upload is invisible; a bucket lifecycle rule
``AbortIncompleteMultipartUpload`` reclaims its parts).

``open`` downloads the object into an anonymous temporary file in the spool directory, checks
its SHA-256 against the key and returns that file, so readers get a seekable local file and
every network error surfaces at ``open``, translated, rather than in the middle of a read.

boto3, botocore and s3transfer exceptions never leave this module: they become
``StorageError`` with a message naming the bucket, the key and what went wrong.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO, Literal

import boto3.session
from boto3.exceptions import Boto3Error
from boto3.s3.transfer import TransferConfig
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    EndpointConnectionError,
    NoCredentialsError,
)
from s3transfer.exceptions import RetriesExceededError

from faxout.blobs.spool import SpoolUpload, clean_orphans
from faxout.blobs.store import key_for
from faxout.errors import StorageError
from faxout.files import private_dir
from faxout.redact import shown_url, without_secrets

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

AddressingStyle = Literal["auto", "path", "virtual"]

MiB = 1024 * 1024

# Everything a boto3 call can raise on its own account (ClientError is not a BotoCoreError;
# s3transfer raises its own RetriesExceededError from downloads).
_AWS_ERRORS: tuple[type[BaseException], ...] = (
    BotoCoreError,
    ClientError,
    Boto3Error,
    RetriesExceededError,
)

_CLIENT_SETUP_ERRORS: tuple[type[BaseException], ...] = (*_AWS_ERRORS, ValueError)

_KEY = re.compile(r"sha256/([0-9a-f]{2})/([0-9a-f]{2})/([0-9a-f]{64})")
_NOT_FOUND = {"404", "NoSuchKey", "NotFound"}
_DENIED = {"403", "AccessDenied", "Forbidden", "AllAccessDisabled", "InvalidAccessKeyId"}


def _client_error(exc: BaseException) -> ClientError | None:
    """The ``ClientError`` behind ``exc`` (boto3 wraps some in ``S3UploadFailedError``)."""
    seen: BaseException | None = exc
    for _ in range(5):
        if seen is None:
            return None
        if isinstance(seen, ClientError):
            return seen
        seen = seen.__cause__ or seen.__context__
    return None


def _error_code(exc: BaseException) -> str | None:
    client_error = _client_error(exc)
    if client_error is None:
        return None
    return str(client_error.response.get("Error", {}).get("Code", "")) or None


class S3Upload(SpoolUpload):
    """An upload streaming into a spool file, sent to S3 at ``commit``."""

    def __init__(self, store: S3BlobStore) -> None:
        super().__init__(store.spool)
        self._s3 = store

    def _store(self, key: str) -> None:
        if not self._s3.exists(key):
            self._s3.put_file(self.spool_path, key)


class S3BlobStore:
    """Documents as objects ``<prefix>sha256/ab/cd/<hex>`` in an S3-compatible bucket.

    Credentials come from boto3's standard chain (``AWS_ACCESS_KEY_ID`` /
    ``AWS_SECRET_ACCESS_KEY`` / ``AWS_SESSION_TOKEN``, ``AWS_PROFILE``, instance roles).
    The client is thread-safe; create a store per process (not before a ``fork``).
    """

    def __init__(
        self,
        bucket: str,
        *,
        spool: Path,
        prefix: str = "",
        endpoint_url: str | None = None,
        region: str | None = None,
        addressing_style: AddressingStyle = "auto",
        multipart_threshold: int = 8 * MiB,
        multipart_chunksize: int = 8 * MiB,
        connect_timeout: float = 5.0,
        read_timeout: float = 60.0,
        max_attempts: int = 3,
    ) -> None:
        if prefix and not prefix.endswith("/"):
            prefix += "/"
        self.bucket = bucket
        self.prefix = prefix
        self.spool = spool
        self.endpoint_url = endpoint_url
        shown = shown_url(endpoint_url) if endpoint_url else ""
        where = f"s3://{bucket}/{prefix}" + (f" at {shown}" if shown else "")
        self._where = where
        try:
            private_dir(spool)
        except OSError as exc:
            raise StorageError(f"cannot create the spool directory {spool}: {exc}") from exc
        config = Config(
            connect_timeout=connect_timeout,
            read_timeout=read_timeout,
            retries={"max_attempts": max_attempts, "mode": "standard"},
            s3={"addressing_style": addressing_style},
        )
        try:
            self._client: S3Client = boto3.session.Session().client(
                "s3", endpoint_url=endpoint_url, region_name=region, config=config
            )
        except _CLIENT_SETUP_ERRORS as exc:
            said = without_secrets(str(exc), endpoint_url or "")
            raise StorageError(f"cannot set up the S3 client for {where}: {said}") from exc
        self.region: str = self._client.meta.region_name
        self.addressing_style: AddressingStyle = addressing_style
        self._transfer = TransferConfig(
            multipart_threshold=multipart_threshold,
            multipart_chunksize=multipart_chunksize,
            max_concurrency=4,
        )

    def object_key(self, key: str) -> str:
        """The S3 object key of document ``key``."""
        if _KEY.fullmatch(key) is None:
            raise StorageError(f"not a document key: {key!r}")
        return self.prefix + key

    def _error(self, action: str, exc: BaseException) -> StorageError:
        """A ``StorageError`` saying why ``action`` failed, for any boto3/botocore error."""
        code = _error_code(exc)
        if code == "NoSuchBucket":
            why = f"bucket {self.bucket!r} does not exist"
        elif code in _DENIED:
            why = f"access denied ({code}); check the credentials and the bucket policy"
        elif isinstance(exc, NoCredentialsError):
            why = "no credentials (set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
        elif isinstance(exc, EndpointConnectionError):
            why = f"cannot reach the endpoint ({exc})"
        else:
            why = str(exc)
        why = without_secrets(why, self.endpoint_url or "")  # botocore quotes the endpoint
        return StorageError(f"cannot {action} in {self._where}: {why}")

    def new_upload(self) -> S3Upload:
        return S3Upload(self)

    def put_file(self, path: Path, key: str) -> None:
        """Upload ``path`` as document ``key``; returns once S3 acknowledged the object."""
        name = self.object_key(key)
        try:
            self._client.upload_file(
                str(path),
                self.bucket,
                name,
                ExtraArgs={"ContentType": "application/octet-stream"},
                Config=self._transfer,
            )
        except _AWS_ERRORS as exc:
            raise self._error(f"store document {key}", exc) from exc
        except OSError as exc:
            raise StorageError(f"cannot read spool file {path}: {exc}") from exc

    def open(self, key: str) -> BinaryIO:
        name = self.object_key(key)
        try:
            fh = tempfile.TemporaryFile(dir=self.spool)  # noqa: SIM115 (returned to the caller)
        except OSError as exc:
            raise StorageError(f"cannot create a spool file in {self.spool}: {exc}") from exc
        try:
            try:
                self._client.download_fileobj(self.bucket, name, fh, Config=self._transfer)
            except _AWS_ERRORS as exc:
                if _error_code(exc) in _NOT_FOUND:
                    raise StorageError(f"no document {key} in {self._where}") from exc
                raise self._error(f"read document {key}", exc) from exc
            fh.seek(0)
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
            if key_for(digest) != key:
                raise StorageError(f"document {key} in {self._where} is corrupt (sha256 {digest})")
            fh.seek(0)
        except OSError as exc:
            fh.close()
            raise StorageError(f"cannot spool document {key} in {self.spool}: {exc}") from exc
        except BaseException:
            fh.close()
            raise
        return fh

    def exists(self, key: str) -> bool:
        name = self.object_key(key)
        try:
            self._client.head_object(Bucket=self.bucket, Key=name)
        except _AWS_ERRORS as exc:
            if _error_code(exc) in _NOT_FOUND:
                return False
            raise self._error(f"look up document {key}", exc) from exc
        return True

    def delete(self, key: str) -> None:
        name = self.object_key(key)
        try:
            self._client.delete_object(Bucket=self.bucket, Key=name)
        except _AWS_ERRORS as exc:
            if _error_code(exc) in _NOT_FOUND:
                return
            raise self._error(f"delete document {key}", exc) from exc

    def check(self) -> None:
        """Write and delete a probe object (and a spool file); raise ``StorageError`` if not."""
        probe = self.spool / f"check-{os.getpid()}"
        try:
            with probe.open("wb") as fh:
                fh.write(b"faxout storage check")
        except OSError as exc:
            raise StorageError(f"cannot write to the spool directory {self.spool}: {exc}") from exc
        finally:
            with contextlib.suppress(OSError):
                probe.unlink(missing_ok=True)
        name = f"{self.prefix}faxout-check/{os.getpid()}-{os.urandom(4).hex()}"
        try:
            self._client.put_object(Bucket=self.bucket, Key=name, Body=b"faxout storage check")
            self._client.delete_object(Bucket=self.bucket, Key=name)
        except _AWS_ERRORS as exc:
            raise self._error("write", exc) from exc

    def clean_spool(self) -> int:
        """Remove uploads that crashed processes left in the spool; returns how many."""
        return clean_orphans(self.spool)
