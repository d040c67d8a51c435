"""API benchmark: ``POST /api/v1/faxes`` and ``GET /api/v1/faxes`` beside the FaxOut endpoint.

    .venv/bin/python bench/api.py [--n 400] [--concurrency 8] [--recipients 1 10] [--json]

One `faxout serve --no-workers` (as bench/intake.py starts it: production argon2id, SQLite WAL
with synchronous=FULL, fsync of every document) takes, from asyncio keep-alive clients:

- the FaxOut endpoint's POST (multipart, Username/Password) with a small text document,
- the API's POST (JSON, the same document in base64, Bearer token), 1 and 10 recipients,
- the API's GET of the list (``limit=50``, the default page, of the faxes just made),
- and, in this process, what one check of the rate limiter costs (the hook in ``caller()``).

Each document is unique (a sequence number), so content-addressed storage cannot deduplicate.
The rate limits are off for the throughput cases (``FAXOUT_API__*=0``): one token at several
hundred requests/s is far over the default 20/s. Prints req/s, p50, p99 and the ratios.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from hylafax_ref import summarize
from intake import BOUNDARY, PASSWORD, USER, Faxout, _load, digit_zero

NO_LIMITS = {
    "FAXOUT_API__RATE_PER_SECOND": "0",
    "FAXOUT_API__ACCOUNT_RATE_PER_SECOND": "0",
}


def document(seq: int) -> bytes:
    return f"Bench fax {seq}\nA small text document, one page once rendered.\n".encode()


def recipients_of(count: int) -> list[str]:
    return [f"+1650555{7000 + i:04d}" for i in range(count)]


def _http(method: str, path: str, headers: dict[str, str], body: bytes = b"") -> bytes:
    head = f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    head += "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    if method != "GET":
        head += f"Content-Length: {len(body)}\r\n"
    return (head + "\r\n").encode() + body


def faxout_request(seq: int, recipients: list[str]) -> bytes:
    parts = [("Username", USER), ("Password", PASSWORD)] + [("Recipient", r) for r in recipients]
    body = bytearray()
    for name, value in parts:
        body += (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()
    body += (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="Attachment"; '
        f'filename="note.txt"\r\nContent-Type: text/plain\r\n\r\n'
    ).encode()
    body += document(seq) + f"\r\n--{BOUNDARY}--\r\n".encode()
    ctype = f"multipart/form-data; boundary={BOUNDARY}"
    return _http("POST", "/faxapi.asp", {"Content-Type": ctype}, bytes(body))


def api_post(seq: int, recipients: list[str], secret: str) -> bytes:
    fax = {
        "to": [{"number": r} for r in recipients],
        "documents": [
            {
                "filename": "note.txt",
                "content_type": "text/plain",
                "content_base64": base64.b64encode(document(seq)).decode(),
            }
        ],
    }
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": "application/json"}
    return _http("POST", "/api/v1/faxes", headers, json.dumps(fax).encode())


def api_list(secret: str) -> bytes:
    return _http("GET", "/api/v1/faxes?limit=50", {"Authorization": f"Bearer {secret}"})


def load(
    port: int, requests: list[bytes], concurrency: int, ok: Callable[[int, bytes], bool]
) -> dict[str, float]:
    lat, wall = asyncio.run(_load(port, requests, concurrency, ok))
    return summarize(lat, wall)


def created(status: int, body: bytes) -> bool:
    return status == 201


def listed(status: int, body: bytes) -> bool:
    return status == 200 and body.startswith(b'{"items":[')


def make_token(server: Faxout) -> str:
    made = subprocess.run(
        [sys.executable, "-m", "faxout", "token", "create", USER],
        env=server.env,
        check=True,
        capture_output=True,
        text=True,
    )
    return made.stdout.strip().splitlines()[-1].split()[-1]


def bench(n: int, concurrency: int, counts: list[int], work: Path) -> dict[str, object]:
    results: dict[str, object] = {"n": n, "concurrency": concurrency}
    posts: list[dict[str, object]] = []
    server = Faxout(work / "api", **NO_LIMITS)
    try:
        secret = make_token(server)
        # Warm-up: the first login (argon2), the first token check, the first commits.
        load(server.port, [faxout_request(-i, ["+16505550000"]) for i in range(8)], 4, digit_zero)
        warm = [api_post(-100 - i, ["+16505550000"], secret) for i in range(8)]
        load(server.port, warm, 4, created)
        seq = 0
        for count in counts:
            to = recipients_of(count)
            print(f"[{count} recipient(s)] FaxOut POST, then API POST…", file=sys.stderr)
            legacy = [faxout_request(seq + i, to) for i in range(n)]
            seq += n
            ours = load(server.port, legacy, concurrency, digit_zero)
            api = [api_post(seq + i, to, secret) for i in range(n)]
            seq += n
            theirs = load(server.port, api, concurrency, created)
            posts.append(
                {
                    "recipients": count,
                    "faxout": ours,
                    "api": theirs,
                    "ratio": theirs["rate"] / ours["rate"],
                }
            )
        print("API GET /api/v1/faxes?limit=50…", file=sys.stderr)
        results["list"] = load(server.port, [api_list(secret)] * n, concurrency, listed)
    finally:
        server.stop()
    results["posts"] = posts
    results["limiter_us"] = limiter_cost()
    return results


def limiter_cost(checks: int = 200_000, tokens: int = 5_000) -> float:
    """Microseconds per ``RateLimiter.check`` (the hook in ``caller()``), in this process with
    the real clock: over HTTP its cost is far below the noise of a request."""
    from faxout.clock import SystemClock
    from faxout.intake.api.ratelimit import RateLimiter
    from faxout.intake.settings import ApiLimits

    limiter = RateLimiter(ApiLimits(rate_per_second=1e6, burst=10**6), SystemClock())
    t0 = time.perf_counter()
    for i in range(checks):
        limiter.check(i % tokens, i % 97)
    return (time.perf_counter() - t0) / checks * 1e6


def report(r: dict[str, object]) -> None:
    def ms(x: object) -> str:
        return f"{float(x) * 1000:>7.1f}"  # type: ignore[arg-type]

    print(
        f"\nAPI vs FaxOut endpoint, {r['n']} requests per case, {r['concurrency']} clients, "
        "1 HTTP worker, a small text document"
    )
    print(
        f"{'recipients':>10} {'FaxOut/s':>9} {'p50 ms':>7} {'p99 ms':>7} "
        f"{'API/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'API/FaxOut':>10}"
    )
    for case in r["posts"]:  # type: ignore[attr-defined]
        o, a = case["faxout"], case["api"]
        print(
            f"{case['recipients']:>10} {o['rate']:>9.1f} {ms(o['p50'])} {ms(o['p99'])} "
            f"{a['rate']:>7.1f} {ms(a['p50'])} {ms(a['p99'])} {case['ratio']:>9.2f}x"
        )
    g = r["list"]
    first = r["posts"][0]["faxout"]  # type: ignore[index]
    print(
        f"GET /api/v1/faxes?limit=50: {g['rate']:.1f}/s, p50 {ms(g['p50']).strip()} ms, "  # type: ignore[index]
        f"p99 {ms(g['p99']).strip()} ms; {g['rate'] / first['rate']:.2f}x the FaxOut POST "  # type: ignore[index]
        "(1 recipient)"
    )
    print(f"RateLimiter.check (token and account buckets): {r['limiter_us']:.2f} µs per request")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=400, help="requests per case")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--recipients", type=int, nargs="+", default=[1, 10])
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="faxout-bench-api-") as tmp:
        results = bench(args.n, args.concurrency, args.recipients, Path(tmp))
    if args.json:
        print(json.dumps(results, indent=2))
    else:
        report(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
