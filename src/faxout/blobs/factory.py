"""Choosing the document store from ``FAXOUT_STORE_URL``.

===========================================================  =====================================
URL                                                          store
===========================================================  =====================================
*(empty)*                                                    local: ``<data_dir>/documents``,
                                                             spool ``<data_dir>/spool``
``file:///shared/dir``                                       local, in a directory every node
                                                             mounts: documents under
                                                             ``/shared/dir/sha256/…``, spool
                                                             ``/shared/dir/spool/<hostname>``
``s3://bucket/prefix?endpoint_url=http://h:9000&region=r``   S3-compatible, spool
                                                             ``<data_dir>/spool``
===========================================================  =====================================

A shared directory keeps its spool inside itself because a document is renamed from the spool
into place, which only works on one filesystem; each host gets its own spool subdirectory so that
one node cleaning up after a crash never removes another node's upload in progress.

S3 query parameters: ``endpoint_url`` (for MinIO, Ceph, moto…; ``http`` or ``https``),
``region``, ``addressing_style`` (``path``, ``virtual`` or ``auto``; ``path`` by default when
``endpoint_url`` is given, as most self-hosted servers need it). Credentials never go in the URL:
boto3 reads ``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` (or ``AWS_PROFILE``, or a role).
"""

from __future__ import annotations

import re
import socket
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

from faxout.blobs.local import LocalBlobStore
from faxout.blobs.s3 import AddressingStyle, S3BlobStore
from faxout.blobs.store import BlobStore
from faxout.errors import ConfigError
from faxout.redact import shown_url

_S3_PARAMS = ("endpoint_url", "region", "addressing_style")
_ADDRESSING: dict[str, AddressingStyle] = {"auto": "auto", "path": "path", "virtual": "virtual"}
_BUCKET = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
_REGION = re.compile(r"[a-z0-9-]+")


def open_store(url: str, data_dir: Path) -> BlobStore:
    """The document store ``url`` names (see the module docstring); ``ConfigError`` if bad."""
    url = url.strip()
    if not url:
        return LocalBlobStore(data_dir / "documents", data_dir / "spool")
    try:
        parts = urlsplit(url)
        scheme = parts.scheme.lower()
    except ValueError as exc:
        raise ConfigError(f"store URL is not a URL: {exc}") from exc
    if scheme == "file":
        return _shared_directory(url)
    if scheme == "s3":
        return _s3(url, data_dir)
    if not scheme:
        raise ConfigError(
            f"store URL {shown_url(url)!r} has no scheme: use file:///shared/dir or "
            "s3://bucket/prefix"
        )
    raise ConfigError(
        f"store URL scheme {scheme!r} is not supported: use file:///shared/dir or s3://bucket/prefix"
    )


def _shared_directory(url: str) -> LocalBlobStore:
    parts = urlsplit(url)
    if parts.netloc not in {"", "localhost"}:
        raise ConfigError(
            f"store URL {shown_url(url)!r} names host {parts.hostname!r}: a file URL needs an "
            "absolute path and three slashes, e.g. file:///shared/dir"
        )
    if parts.query or parts.fragment:
        raise ConfigError(f"store URL {shown_url(url)!r}: a file URL takes no query or fragment")
    path = unquote(parts.path)
    if not path.startswith("/") or path.rstrip("/") == "":
        raise ConfigError(
            f"store URL {shown_url(url)!r} needs an absolute directory, e.g. file:///shared/dir"
        )
    root = Path(path)
    if any(part == ".." for part in root.parts):
        raise ConfigError(f"store URL {shown_url(url)!r}: the directory must not contain '..'")
    host = re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname()) or "host"
    return LocalBlobStore(root, root / "spool" / host)


def _s3(url: str, data_dir: Path) -> S3BlobStore:
    parts = urlsplit(url)
    if "@" in parts.netloc:
        # Do not echo the URL: it probably holds a secret.
        raise ConfigError(
            "s3 store URL must not contain credentials: set AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY (or AWS_PROFILE) instead"
        )
    bucket = parts.netloc
    if not bucket:
        raise ConfigError("s3 store URL names no bucket: use s3://bucket/prefix")
    if _BUCKET.fullmatch(bucket) is None or ".." in bucket:
        raise ConfigError(
            f"s3 store URL: {bucket!r} is not a valid bucket name "
            "(3-63 lowercase letters, digits, '.' and '-')"
        )
    if parts.fragment:
        raise ConfigError("s3 store URL: an s3 URL takes no fragment")
    prefix = unquote(parts.path).strip("/")
    if any(seg in {"", ".", ".."} for seg in prefix.split("/")) and prefix:
        raise ConfigError(f"s3 store URL: the prefix {prefix!r} has an empty or dot segment")
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError as exc:
        raise ConfigError(
            "s3 store URL: malformed query (expected name=value pairs joined by '&')"
        ) from exc
    for name, values in query.items():
        if name not in _S3_PARAMS:
            raise ConfigError(
                f"s3 store URL: unknown parameter {name!r} (known: {', '.join(_S3_PARAMS)})"
            )
        if len(values) != 1 or not values[0]:
            raise ConfigError(f"s3 store URL: parameter {name!r} needs exactly one value")
    endpoint_url = query.get("endpoint_url", [None])[0]
    if endpoint_url is not None:
        endpoint = urlsplit(endpoint_url)
        if endpoint.scheme not in {"http", "https"} or not endpoint.hostname:
            raise ConfigError(
                f"s3 store URL: endpoint_url {shown_url(endpoint_url)!r} must be an http:// or "
                "https:// URL with a host"
            )
        try:
            _ = endpoint.port
        except ValueError as exc:
            raise ConfigError(f"s3 store URL: endpoint_url has a bad port: {exc}") from exc
    region = query.get("region", [None])[0]
    if region is not None and _REGION.fullmatch(region) is None:
        raise ConfigError(f"s3 store URL: {region!r} is not a region name")
    style_name = query.get("addressing_style", ["path" if endpoint_url else "auto"])[0]
    style = _ADDRESSING.get(style_name)
    if style is None:
        raise ConfigError(
            f"s3 store URL: addressing_style {style_name!r} must be path, virtual or auto"
        )
    return S3BlobStore(
        bucket,
        spool=data_dir / "spool",
        prefix=prefix,
        endpoint_url=endpoint_url,
        region=region,
        addressing_style=style,
    )
