"""Settings of the HTTP intake: what one request may carry (``limits``) and what one connection
may do before a request reaches an endpoint (``http``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Limits(BaseModel):
    """What one FaxOut request may carry; anything over a limit is answered ``5``."""

    max_body_bytes: int = Field(50 * 1024 * 1024, ge=1024)
    max_recipients: int = Field(100, ge=1)
    max_attachments: int = Field(50, ge=1)
    max_cover_text_chars: int = Field(10_000, ge=0)
    max_field_bytes: int = Field(64 * 1024, ge=256, description="one non-file field")
    max_parts: int = Field(1000, ge=2, description="all parts of one multipart body")
    max_drain_bytes: int = Field(
        1024 * 1024 * 1024,
        ge=0,
        description="an oversized body is read and discarded up to this many bytes so the "
        "client can read the answer; past it the connection is closed",
    )


class Http(BaseModel):
    """What the HTTP server allows a connection before any request reaches the endpoint
    (enforced by ``faxout.intake.edge``; see docs/security.md, "Requests")."""

    max_header_bytes: int = Field(
        16 * 1024, ge=1024, le=1024 * 1024, description="request line and headers together"
    )
    max_headers: int = Field(100, ge=8, description="header fields in one request")
    header_timeout: float = Field(
        10.0, gt=0, description="seconds from connecting (or a request's first byte) to its end"
    )
    body_timeout: float = Field(
        20.0, gt=0, description="seconds a body may go without a byte, and its head start"
    )
    body_min_rate: int = Field(
        1024, ge=1, description="bytes/s a body must average beyond body_timeout's head start"
    )
    keep_alive_timeout: float = Field(5.0, gt=0, description="idle seconds between requests")
    max_connections: int = Field(1000, ge=2, description="open connections per HTTP worker")
    max_connections_per_address: int = Field(
        50, ge=0, description="per client address (IPv6: per /64) and worker; 0: no cap"
    )


class ApiLimits(BaseModel):
    """Requests per second to ``/api/v1`` (``faxout.intake.api.ratelimit``): a token bucket per
    API token and one per account, in each HTTP worker process; over either, 429 with
    ``Retry-After``. A rate or burst of 0 turns that limit off."""

    rate_per_second: float = Field(20.0, ge=0, description="per token; 0: no limit per token")
    burst: int = Field(40, ge=0, description="requests a token may make at once")
    account_rate_per_second: float = Field(
        40.0, ge=0, description="all of an account's tokens together; 0: no limit per account"
    )
    account_burst: int = Field(80, ge=0, description="requests an account may make at once")
    max_buckets: int = Field(
        10_000, ge=16, description="buckets kept per kind and worker; the idlest go first"
    )
    sync_overlap_seconds: float = Field(
        60.0,
        ge=0,
        le=3600,
        description="a sync_token also answers what changed this long before it (changes "
        "stamped by a clock a little behind, or committed late, are repeated, never skipped)",
    )
