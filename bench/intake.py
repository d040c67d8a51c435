"""Intake benchmark: FaxOut submissions/s against the real server, side by side with HylaFAX.

    .venv/bin/python bench/intake.py [--n 400] [--concurrency 8] [--recipients 1 10] [--workers 1]
                                     [--json]

faxout: `faxout serve` with its production defaults (argon2id at OWASP's baseline, SQLite WAL with
synchronous=FULL, fsync of every document) in a fresh data directory; clients are asyncio
connections with keep-alive sending real multipart bodies, each with its own copy of a 1-page PDF
(a unique trailer comment, so content-addressed storage cannot deduplicate them).
HylaFAX: a private modem-less hfaxd + faxq (bench/hylafax_ref.py), `sendfax` per submission from
the same number of concurrent clients. Both only accept and queue: faxout runs `serve
--no-workers` (the API node of the distributed topology), HylaFAX has no modem.

Then memory: the server's RSS is sampled while 50 MB uploads stream in (limit raised to 60 MB).
Prints submissions/s, p50, p99 for both and the ratio.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).parent))
from hylafax_ref import start_private_hylafax, submit_sendfax, summarize

ROOT = Path(__file__).resolve().parent.parent
CORPUS_PDF = ROOT.parent / "shared" / "corpus" / "generated" / "letter_usletter.pdf"
USER, PASSWORD = "15559990000", "bench-password-1"
BOUNDARY = "----faxoutBench7MA4YWxkTrZu0gW"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Faxout:
    """A `faxout serve` process in its own data directory."""

    def __init__(self, data_dir: Path, **env: str) -> None:
        self.port = _free_port()
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("FAXOUT_")}
        self.env.update({"FAXOUT_DATA_DIR": str(data_dir), "FAXOUT_DEMO_ACCOUNT": "false", **env})
        self.log = (data_dir.parent / f"faxout-{self.port}.log").open("wb")
        # API only: like hfaxd without a modem, faxout here accepts and queues; rendering and
        # sending (faxout worker/dispatch) are measured by bench/pipeline.py.
        cmd = [sys.executable, "-m", "faxout", "serve", "--no-workers", "--port", str(self.port)]
        self.proc = subprocess.Popen(cmd, env=self.env, stdout=self.log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz").status_code == 200:
                    break
            time.sleep(0.05)
        else:
            raise RuntimeError("faxout did not start")
        subprocess.run(
            [
                sys.executable,
                "-m",
                "faxout",
                "user",
                "add",
                USER,
                "--email",
                "b@example.com",
                "--password-stdin",
            ],
            input=PASSWORD + "\n",
            text=True,
            env=self.env,
            check=True,
            capture_output=True,
        )

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=20)
        self.log.close()


def request_bytes(pdf: bytes, recipients: list[str], seq: int) -> bytes:
    parts = [("Username", USER), ("Password", PASSWORD)] + [("Recipient", r) for r in recipients]
    body = bytearray()
    for name, value in parts:
        body += (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()
    unique = pdf + f"\n% bench submission {seq}\n".encode()
    body += (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="Attachment"; '
        f'filename="letter.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
    ).encode()
    body += unique + f"\r\n--{BOUNDARY}--\r\n".encode()
    head = (
        f"POST /faxapi.asp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; "
        f"boundary={BOUNDARY}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    return head + bytes(body)


def digit_zero(status: int, body: bytes) -> bool:
    """A FaxOut answer that accepted the fax."""
    return status == 200 and body == b"0"


async def _client(
    port: int,
    queue: asyncio.Queue[bytes],
    latencies: list[float],
    ok: Callable[[int, bytes], bool] = digit_zero,
) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    try:
        while True:
            try:
                req = queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            t0 = time.perf_counter()
            writer.write(req)
            head = await reader.readuntil(b"\r\n\r\n")
            status = int(head.split(b" ", 2)[1])
            length = int(head.lower().split(b"content-length:")[1].split(b"\r\n")[0])
            body = await reader.readexactly(length)
            latencies.append(time.perf_counter() - t0)
            if not ok(status, body):
                raise RuntimeError(f"faxout answered {status}: {body[:300]!r}")
    finally:
        writer.close()


async def _load(
    port: int,
    requests: list[bytes],
    concurrency: int,
    ok: Callable[[int, bytes], bool] = digit_zero,
) -> tuple[list[float], float]:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    for r in requests:
        queue.put_nowait(r)
    latencies: list[float] = []
    t0 = time.perf_counter()
    await asyncio.gather(*(_client(port, queue, latencies, ok) for _ in range(concurrency)))
    return latencies, time.perf_counter() - t0


def bench_faxout(
    pdf: bytes, n: int, recipients: list[str], concurrency: int, work: Path, workers: int = 1
) -> dict[str, float]:
    server = Faxout(work / f"faxout-{len(recipients)}", FAXOUT_WORKERS=str(workers))
    try:
        # Warm-up: first login (argon2) and the first commits.
        asyncio.run(
            _load(server.port, [request_bytes(pdf, recipients, -i) for i in range(1, 9)], 4)
        )
        reqs = [request_bytes(pdf, recipients, i) for i in range(n)]
        lat, wall = asyncio.run(_load(server.port, reqs, concurrency))
        return summarize(lat, wall)
    finally:
        server.stop()


def bench_memory(work: Path, mb: int = 50) -> dict[str, float]:
    server = Faxout(work / "faxout-mem", FAXOUT_LIMITS__MAX_BODY_BYTES=str((mb + 10) * 2**20))
    try:
        proc = psutil.Process(server.proc.pid)
        baseline = proc.memory_info().rss
        peak = baseline
        stop = threading.Event()

        def watch() -> None:
            nonlocal peak
            while not stop.is_set():
                peak = max(peak, proc.memory_info().rss)
                stop.wait(0.005)

        watcher = threading.Thread(target=watch)
        watcher.start()
        chunk = os.urandom(2**20)
        prefix = request_bytes(b"", ["5551234"], 0).split(b"\r\n\r\n", 1)[1]
        prefix = prefix[: prefix.rindex(b"\n% bench")]

        def stream() -> object:
            yield prefix
            for _ in range(mb):
                yield chunk
            yield f"\r\n--{BOUNDARY}--\r\n".encode()

        t0 = time.perf_counter()
        for _ in range(3):
            resp = httpx.post(
                f"http://127.0.0.1:{server.port}/faxapi.asp",
                content=stream(),
                headers={"Content-Type": f"multipart/form-data; boundary={BOUNDARY}"},
                timeout=300,
            )
            assert resp.text == "0", resp.text
        elapsed = time.perf_counter() - t0
        stop.set()
        watcher.join()
        return {
            "upload_mb": mb,
            "uploads": 3,
            "seconds": elapsed,
            "rss_baseline_mb": baseline / 2**20,
            "rss_peak_mb": peak / 2**20,
            "rss_growth_mb": (peak - baseline) / 2**20,
        }
    finally:
        server.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=400, help="submissions per case")
    ap.add_argument("--concurrency", type=int, default=8)
    ap.add_argument("--recipients", type=int, nargs="+", default=[1, 10])
    ap.add_argument("--workers", type=int, default=1, help="HTTP worker processes (FAXOUT_WORKERS)")
    ap.add_argument("--no-hylafax", action="store_true", help="faxout only")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    pdf_path = CORPUS_PDF
    results: dict[str, object] = {
        "n": args.n,
        "concurrency": args.concurrency,
        "workers": args.workers,
        "cases": [],
    }
    with tempfile.TemporaryDirectory(prefix="faxout-bench-") as tmp:
        work = Path(tmp)
        if not pdf_path.is_file():
            from hylafax_ref import write_minimal_pdf

            pdf_path = write_minimal_pdf(work / "letter.pdf")
        pdf = pdf_path.read_bytes()
        for count in args.recipients:
            recipients = [f"555{7000 + i:04d}" for i in range(count)]
            print(
                f"[{count} recipient(s)] faxout: {args.n} submissions, {args.concurrency} clients…",
                file=sys.stderr,
            )
            ours = bench_faxout(pdf, args.n, recipients, args.concurrency, work, args.workers)
            case: dict[str, object] = {"recipients": count, "faxout": ours}
            if not args.no_hylafax:
                print(
                    f"[{count} recipient(s)] HylaFAX sendfax: {args.n} submissions…",
                    file=sys.stderr,
                )
                with start_private_hylafax(work / f"hfx-{count}") as hfx:
                    lat = submit_sendfax(hfx, pdf_path, recipients, args.n, args.concurrency)
                theirs = summarize(lat, lat.wall_s)
                case["hylafax"] = theirs
                case["ratio"] = ours["rate"] / theirs["rate"]
            results["cases"].append(case)  # type: ignore[attr-defined]
        print("memory: three 50 MB uploads…", file=sys.stderr)
        results["memory"] = bench_memory(work)

    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    print(
        f"\nIntake, {args.n} submissions of a 1-page PDF, {args.concurrency} concurrent clients, "
        f"FAXOUT_WORKERS={args.workers}"
    )
    print(
        f"{'recipients':>10} {'faxout/s':>9} {'p50 ms':>7} {'p99 ms':>7} {'HylaFAX/s':>10} {'p50 ms':>7} {'p99 ms':>7} {'ratio':>6}"
    )
    for case in results["cases"]:  # type: ignore[attr-defined]
        o, h = case["faxout"], case.get("hylafax")
        line = f"{case['recipients']:>10} {o['rate']:>9.1f} {o['p50'] * 1000:>7.1f} {o['p99'] * 1000:>7.1f}"
        if h:
            line += f" {h['rate']:>10.1f} {h['p50'] * 1000:>7.1f} {h['p99'] * 1000:>7.1f} {case['ratio']:>5.1f}x"
        print(line)
    m = results["memory"]
    print(
        f"memory: RSS {m['rss_baseline_mb']:.0f} MB before, peak {m['rss_peak_mb']:.0f} MB during "  # type: ignore[index]
        f"3 x {m['upload_mb']} MB uploads (+{m['rss_growth_mb']:.1f} MB)"
    )  # type: ignore[index]
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
