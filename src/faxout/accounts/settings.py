"""Settings of the accounts (``auth``): password hashing and the login throttle."""

from __future__ import annotations

from pydantic import BaseModel, Field


class Auth(BaseModel):
    """Password hashing and login throttling."""

    # OWASP's argon2id baseline (19 MiB, 2 passes, 1 lane): ~50 ms a check on one core.
    argon2_time_cost: int = Field(2, ge=1)
    argon2_memory_kib: int = Field(19 * 1024, ge=8)
    argon2_parallelism: int = Field(1, ge=1)
    cache_seconds: float = Field(300.0, ge=0, description="reuse a successful verification")
    cache_entries: int = Field(10_000, ge=0)
    account_cache_seconds: float = Field(
        2.0, ge=0, description="reuse an account row; changes apply within this time"
    )
    throttle_failures: int = Field(10, ge=1, description="failures that lock a username+address")
    throttle_window_seconds: float = Field(600.0, gt=0)
    throttle_lock_seconds: float = Field(300.0, ge=0)
