"""Warm-up benchmark: how long the first fax after `faxout serve` waits, against a warm server.

    .venv/bin/python bench/warmup.py [--runs 3] [--json]

Each run starts `faxout serve` (embedded defaults: SQLite, the simulated line, the jailed
render pool) in a fresh data directory with an account made beforehand, and POSTs a one-page
PDF to /faxapi.asp the moment /healthz first answers. It reads from the database when the
submission was accepted (``submissions.created_at``) and when its first call began dialling
(``attempts.dialing_at``). Then, on the same server once it is idle, it sends the same fax
again: that second figure is what a warm server does, the reference the first must match
(issue 14: accepted → dialing ≤ 1.5 s from a cold start).

Printed per run: seconds from start to /healthz, cold accepted → dialing, warm accepted →
dialing, and their ratio.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
CORPUS_PDF = ROOT.parent / "shared" / "corpus" / "generated" / "letter_usletter.pdf"
USER, PASSWORD = "15559990000", "bench-password-1"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _env(data_dir: Path, port: int) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAXOUT_")}
    env.update(
        {"FAXOUT_DATA_DIR": str(data_dir), "FAXOUT_DEMO_ACCOUNT": "false", "FAXOUT_PORT": str(port)}
    )
    return env


def _when(text: str) -> datetime:
    return datetime.fromisoformat(text)


def _dialing_delay(db: Path, submission: int, timeout: float = 60.0) -> float:
    """Seconds from the submission's acceptance to its first call's dialling."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with contextlib.closing(sqlite3.connect(db, timeout=10)) as conn:
            row = conn.execute(
                "SELECT s.created_at, a.dialing_at FROM submissions s JOIN jobs j ON "
                "j.submission_id = s.id JOIN attempts a ON a.job_id = j.id WHERE s.id = ? "
                "AND a.dialing_at IS NOT NULL ORDER BY a.id LIMIT 1",
                (submission,),
            ).fetchone()
        if row:
            return (_when(row[1]) - _when(row[0])).total_seconds()
        time.sleep(0.02)
    raise RuntimeError(f"submission {submission} never dialled")


def _send(client: httpx.Client, port: int, pdf: bytes) -> None:
    answer = client.post(
        f"http://127.0.0.1:{port}/faxapi.asp",
        data={"Username": USER, "Password": PASSWORD, "Recipient": "+15550123456|Bench"},
        files={"Attachment": ("letter.pdf", pdf, "application/pdf")},
    )
    if answer.text != "0":
        raise RuntimeError(f"the fax was refused: {answer.status_code} {answer.text!r}")


def one_run(work: Path) -> dict[str, float]:
    data_dir = work / "data"
    port = _free_port()
    env = _env(data_dir, port)
    faxout = [sys.executable, "-m", "faxout"]
    subprocess.run([*faxout, "migrate"], env=env, check=True, capture_output=True)
    subprocess.run(
        [*faxout, "user", "add", USER, "--email", "b@example.com", "--password-stdin"],
        input=PASSWORD + "\n",
        text=True,
        env=env,
        check=True,
        capture_output=True,
    )
    pdf = CORPUS_PDF.read_bytes()
    log = (work / "serve.log").open("wb")
    started = time.monotonic()
    proc = subprocess.Popen([*faxout, "serve"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        with httpx.Client(timeout=60) as client:
            while True:
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(f"http://127.0.0.1:{port}/healthz").status_code == 200:
                        break
                if time.monotonic() - started > 120:
                    raise RuntimeError("faxout did not start")
                time.sleep(0.01)
            up = time.monotonic() - started
            _send(client, port, pdf)
            cold = _dialing_delay(data_dir / "faxout.db", 1)
            time.sleep(3.0)  # the first call ends; the server is idle again
            _send(client, port, pdf + b"\n% second\n")
            warm = _dialing_delay(data_dir / "faxout.db", 2)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
        log.close()
    return {"up_s": up, "cold_s": cold, "warm_s": warm}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    results = []
    for n in range(args.runs):
        with tempfile.TemporaryDirectory(prefix="faxout-warmup-") as tmp:
            print(f"run {n + 1}/{args.runs}: cold start…", file=sys.stderr)
            results.append(one_run(Path(tmp)))
    if args.json:
        print(json.dumps(results))
        return
    print(f"load average: {os.getloadavg()[0]:.1f}")
    print("run  start→healthz s  cold accepted→dialing s  warm accepted→dialing s  cold/warm")
    for n, r in enumerate(results, 1):
        ratio = r["cold_s"] / r["warm_s"] if r["warm_s"] else float("inf")
        print(f"{n:3}  {r['up_s']:15.2f}  {r['cold_s']:23.2f}  {r['warm_s']:23.2f}  {ratio:9.1f}x")


if __name__ == "__main__":
    main()
