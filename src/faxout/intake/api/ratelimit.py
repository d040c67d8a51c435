"""Requests per second for ``/api/v1``: a token bucket per API token and one per account.

A request takes one unit from its token's bucket and one from its account's; when either is
empty it is answered 429 with ``Retry-After`` (whole seconds, at least 1) and takes nothing, so
a client that keeps knocking does not push its own recovery further away. The account's bucket
stops an account from multiplying its rate by making more tokens.

State is in this process: each HTTP worker (``workers``) keeps its own buckets, so the limit in
force for a client spread over N workers is up to N times the configured one (docs/api.md).
Memory is bounded: a bucket that has refilled completely is the same as no bucket, so buckets
idle that long are dropped, and past ``max_buckets`` the least recently used go first.

Time comes from the injected ``Clock`` (its monotonic counter): tests move a ``FrozenClock``.
"""

from __future__ import annotations

import math
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from faxout.clock import Clock
from faxout.intake.settings import ApiLimits

# How often (in checks) the idle buckets are swept; each sweep stops at the first fresh bucket.
_SWEEP_EVERY = 256


@dataclass(frozen=True)
class Verdict:
    """What the limiter said of one request."""

    allowed: bool
    limit: int  # the bucket's size that decided (the smaller one left)
    remaining: int  # whole requests left in that bucket after this one
    reset: int  # seconds until that bucket is full again (whole, rounded up)
    retry_after: int  # when refused: whole seconds (>= 1) until a request would pass; else 0

    def headers(self) -> dict[str, str]:
        """``RateLimit-*`` informational headers (draft-ietf-httpapi-ratelimit-headers, the
        three-field form most clients read), and ``Retry-After`` when refused."""
        out = {
            "RateLimit-Limit": str(self.limit),
            "RateLimit-Remaining": str(self.remaining),
            "RateLimit-Reset": str(self.reset),
        }
        if not self.allowed:
            out["Retry-After"] = str(self.retry_after)
        return out


class _Buckets:
    """Token buckets of one kind (tokens, or accounts), least recently used first."""

    def __init__(self, rate: float, burst: int, max_buckets: int) -> None:
        self.rate, self.burst, self.max_buckets = rate, burst, max_buckets
        # key -> (units at ``at``, at); a missing key is a full bucket.
        self._state: OrderedDict[Any, tuple[float, float]] = OrderedDict()
        self._checks = 0

    @property
    def enabled(self) -> bool:
        return self.rate > 0 and self.burst > 0

    def level(self, key: Any, now: float) -> float:
        """Units in ``key``'s bucket at ``now``."""
        units, at = self._state.get(key, (float(self.burst), now))
        return min(float(self.burst), units + max(0.0, now - at) * self.rate)

    def take(self, key: Any, units: float, now: float) -> None:
        """Leave ``units`` in ``key``'s bucket as of ``now``."""
        self._state[key] = (units, now)
        self._state.move_to_end(key)
        self._checks += 1
        if self._checks % _SWEEP_EVERY == 0 or len(self._state) > self.max_buckets:
            self._sweep(now)

    def _sweep(self, now: float) -> None:
        full_after = self.burst / self.rate  # seconds of idleness that refill any bucket
        while self._state:
            key, (_, at) = next(iter(self._state.items()))
            if now - at < full_after and len(self._state) <= self.max_buckets:
                return  # the rest were used more recently still
            del self._state[key]

    def __len__(self) -> int:
        return len(self._state)

    def verdict(self, left: float, allowed: bool) -> Verdict:
        """The verdict of this bucket holding ``left`` units after the request."""
        wait = 0 if allowed else max(1, math.ceil((1.0 - left) / self.rate))
        return Verdict(
            allowed=allowed,
            limit=self.burst,
            remaining=max(0, math.floor(left)),
            reset=math.ceil((self.burst - left) / self.rate),
            retry_after=wait,
        )


class RateLimiter:
    """The buckets of one HTTP worker process. ``check`` runs on the event loop (``caller()``
    calls it between awaits), never in a worker thread, so it needs no lock."""

    def __init__(self, cfg: ApiLimits, clock: Clock) -> None:
        self.clock = clock
        self.tokens = _Buckets(cfg.rate_per_second, cfg.burst, cfg.max_buckets)
        self.accounts = _Buckets(cfg.account_rate_per_second, cfg.account_burst, cfg.max_buckets)

    @property
    def enabled(self) -> bool:
        """False when both limits are off (0)."""
        return self.tokens.enabled or self.accounts.enabled

    def check(self, token_id: int, account_id: int) -> Verdict | None:
        """Take one request from both buckets, or from neither when either is empty. None when
        no limit is configured."""
        now = self.clock.monotonic()
        pairs: list[tuple[_Buckets, int]] = [(self.tokens, token_id), (self.accounts, account_id)]
        kinds = [(bucket, key) for bucket, key in pairs if bucket.enabled]
        if not kinds:
            return None
        levels = [b.level(k, now) for b, k in kinds]
        allowed = all(level >= 1.0 for level in levels)
        verdicts: list[Verdict] = []
        for (bucket, key), level in zip(kinds, levels, strict=True):
            left = level - 1.0 if allowed else level
            if allowed:
                bucket.take(key, left, now)
            verdicts.append(bucket.verdict(left, allowed))
        if allowed:
            return min(verdicts, key=lambda v: v.remaining)
        # The answer is the empty bucket's (the one that must wait longest, if both are).
        empty = [v for v, level in zip(verdicts, levels, strict=True) if level < 1.0]
        return max(empty, key=lambda v: v.retry_after)


STATE_KEY = "faxout_ratelimit"


class RateLimitHeaders:
    """ASGI middleware: adds the ``RateLimit-*`` headers of the verdict ``caller()`` kept in the
    request's state to every ``/api/v1`` answer. The routes answer with their own responses, so
    a dependency cannot set headers on them; the FaxOut endpoint is passed through untouched."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/api/v1/"):
            await self.app(scope, receive, send)
            return

        async def sending(message: Message) -> None:
            if message["type"] == "http.response.start":
                # Request.state writes into scope["state"] (the same dict, read here late).
                verdict = scope.get("state", {}).get(STATE_KEY)
                if isinstance(verdict, Verdict):
                    headers = MutableHeaders(scope=message)
                    for name, value in verdict.headers().items():
                        if name not in headers:
                            headers[name] = value
            await send(message)

        await self.app(scope, receive, sending)


def admit(request: Request, token_id: int, account_id: int) -> Verdict | None:
    """The verdict on this request (kept for ``RateLimitHeaders``); ``None`` without limits.
    The caller answers 429 when it is not ``allowed``."""
    limiter: RateLimiter | None = getattr(request.app.state, "ratelimit", None)
    if limiter is None:
        return None
    verdict = limiter.check(token_id, account_id)
    if verdict is not None:
        setattr(request.state, STATE_KEY, verdict)
    return verdict
