"""``/api/v1`` requests per second: the token buckets on a frozen clock, then 429 through the
app (in this process, no server)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from starlette.testclient import TestClient

from faxout.clock import FrozenClock
from faxout.intake.api.ratelimit import RateLimiter
from faxout.intake.settings import ApiLimits
from tests.intake.apiapp import PASSWORD, USER, InProcess, in_process

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # TestClient on httpx


def limiter(**cfg: float) -> tuple[RateLimiter, FrozenClock]:
    clock = FrozenClock()
    fields = {"account_rate_per_second": 0, "account_burst": 0, **cfg}
    return RateLimiter(ApiLimits.model_validate(fields), clock), clock


def test_a_burst_passes_then_one_per_interval() -> None:
    lim, clock = limiter(rate_per_second=2, burst=3)
    passed = [lim.check(1, 1) for _ in range(3)]
    assert all(v is not None and v.allowed for v in passed)
    assert [v.remaining for v in passed if v] == [2, 1, 0]
    refused = lim.check(1, 1)
    assert refused is not None and not refused.allowed
    assert refused.retry_after == 1 and refused.headers()["Retry-After"] == "1"
    clock.advance(0.5)  # half a second at 2/s: one request back
    assert (v := lim.check(1, 1)) is not None and v.allowed
    assert (v := lim.check(1, 1)) is not None and not v.allowed


def test_retry_after_is_whole_seconds_and_at_least_one() -> None:
    lim, clock = limiter(rate_per_second=0.1, burst=1)  # one request per 10 s
    assert (v := lim.check(1, 1)) is not None and v.allowed
    clock.advance(2.5)
    refused = lim.check(1, 1)
    assert refused is not None and refused.retry_after == 8  # 7.5 s, rounded up
    lim, _ = limiter(rate_per_second=1000, burst=1)
    assert lim.check(1, 1) is not None
    assert (v := lim.check(1, 1)) is not None and v.retry_after == 1  # 1 ms: still 1 s


def test_a_refused_request_takes_nothing() -> None:
    lim, clock = limiter(rate_per_second=1, burst=1)
    lim.check(1, 1)
    for _ in range(50):  # knocking does not push recovery further away
        assert (v := lim.check(1, 1)) is not None and not v.allowed
    clock.advance(1)
    assert (v := lim.check(1, 1)) is not None and v.allowed


def test_tokens_are_apart_but_an_account_is_one() -> None:
    lim, _ = limiter(rate_per_second=1, burst=2, account_rate_per_second=1, account_burst=3)
    assert all((v := lim.check(1, 7)) is not None and v.allowed for _ in range(2))
    assert (v := lim.check(1, 7)) is not None and not v.allowed  # token 1 is empty
    assert (v := lim.check(2, 7)) is not None and v.allowed  # token 2 is not; the account: 0
    refused = lim.check(3, 7)  # a fresh token of the same account
    assert refused is not None and not refused.allowed and refused.limit == 3
    assert (v := lim.check(4, 8)) is not None and v.allowed  # another account


def test_zero_turns_a_limit_off() -> None:
    lim, _ = limiter(rate_per_second=0, burst=40)
    assert not lim.enabled and lim.check(1, 1) is None
    lim, _ = limiter(rate_per_second=0, burst=0, account_rate_per_second=1, account_burst=1)
    assert (v := lim.check(1, 1)) is not None and v.allowed
    assert (v := lim.check(2, 1)) is not None and not v.allowed  # only the account's counts


def test_memory_is_bounded_by_dropping_idle_buckets() -> None:
    lim, clock = limiter(rate_per_second=10, burst=10, max_buckets=100)
    for token_id in range(1000):
        lim.check(token_id, 1)
    assert len(lim.tokens) <= 100  # the least recently used went first
    assert (v := lim.check(999, 1)) is not None and v.remaining == 8  # the newest was kept
    clock.advance(5)  # long enough to refill any bucket: idle ones are the same as none
    for token_id in range(2000, 2000 + 256):
        lim.check(token_id, 1)
    assert len(lim.tokens) <= 100 and all(k >= 2000 for k in lim.tokens._state)


# -- through the app -------------------------------------------------------------------------


@pytest.fixture
def app(tmp_path: Path) -> Iterator[tuple[InProcess, TestClient]]:
    made = in_process(tmp_path, ApiLimits(rate_per_second=1, burst=3, account_rate_per_second=0))
    with TestClient(made.app) as client:
        yield made, client


def test_over_the_burst_is_a_429_problem_with_retry_after(
    app: tuple[InProcess, TestClient],
) -> None:
    made, client = app
    answers = [client.get("/api/v1/faxes", headers=made.auth) for _ in range(3)]
    assert [a.status_code for a in answers] == [200] * 3
    assert [a.headers["RateLimit-Remaining"] for a in answers] == ["2", "1", "0"]
    assert answers[0].headers["RateLimit-Limit"] == "3"
    refused = client.get("/api/v1/faxes/1", headers=made.auth)
    assert refused.status_code == 429
    assert refused.headers["content-type"] == "application/problem+json"
    assert refused.headers["Retry-After"] == "1"
    assert refused.headers["RateLimit-Remaining"] == "0"
    body = refused.json()
    assert body["status"] == 429 and body["title"] == "Too Many Requests"
    assert body["instance"] == "/api/v1/faxes/1"
    other = made.token("read")  # another token has its own bucket (no account limit here)
    assert client.get("/api/v1/faxes", headers={"Authorization": f"Bearer {other}"}).is_success
    made.clock.advance(1)
    assert client.get("/api/v1/faxes", headers=made.auth).status_code == 200


def test_unauthenticated_requests_and_the_faxout_endpoint_are_not_counted(
    app: tuple[InProcess, TestClient],
) -> None:
    made, client = app
    for _ in range(5):
        assert client.get("/api/v1/faxes").status_code == 401  # no token: nothing to count
    reply = client.post(
        "/faxapi.asp",
        data={"Username": USER, "Password": PASSWORD, "Recipient": "+15550123456"},
        files=[("Attachment", ("a.txt", b"hello", "text/plain"))],
    )
    assert reply.text == "0" and "RateLimit-Limit" not in reply.headers
    assert client.get("/api/v1/faxes", headers=made.auth).headers["RateLimit-Remaining"] == "2"
