"""Pipeline benchmark: FaxOut POST → render → simulated line → done on the embedded default (issue 5).

    .venv/bin/python bench/pipeline.py [--n 1000] [--concurrency 8] [--lines 4] [--json]
    .venv/bin/python bench/pipeline.py --n 50          # a quick run

Starts `faxout serve` (production defaults: argon2id at OWASP's baseline, SQLite WAL with
synchronous=FULL, SqliteHuey consumer threads in the server process, the simulated line over
audio) in a fresh temporary data directory, then runs two cases against it, each in its own
server:

* one-page: N submissions of a 1-page US-letter PDF, one recipient each (``+1555010xxxx``,
  numbers that answer normally), ``Coverpage=None`` so every fax is exactly one page;
* broadcast: one 3-page document (pages 1–3 of ``report_50p_letter.pdf``) to N recipients, as
  N/100 POSTs of 100 recipients (the API's default cap), ``Coverpage=None``; each submission
  must be rendered exactly once (``submissions.render_count``).

Posts come from concurrent keep-alive clients as fast as the server accepts them; the script
then polls the database until every job is final. All figures come from the database
timestamps of the server's own clock:

* faxes/min: done jobs / (first ``submissions.created_at`` → last ``jobs.finished_at``);
* accepted→done per job: ``jobs.finished_at − submissions.created_at`` (p50, p99);
* stage shares, summed over jobs (the submission's times are shared by its jobs):
  accepted→rendered (``submissions.created_at`` → the render stage's "rendered … submission=N"
  log line of the server; the database keeps no rendered time of its own, and
  ``submissions.updated_at`` moves on when the submission is done), ready→claimed (→ ``attempts.claimed_at`` of
  the first attempt: dispatcher, task queue, waiting for a free line), claimed→dialing (pages
  fetched and assembled with tiffcp), dialing→finished (the call over the simulated line), and
  the rest (earlier attempts when a call is retried, and anything after the last call).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sqlite3
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).parent))
from hylafax_ref import percentile
from intake import BOUNDARY, PASSWORD, USER, Faxout, _load

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT.parent / "shared" / "corpus" / "generated"
ONE_PAGE_PDF = CORPUS / "letter_usletter.pdf"
MULTI_PAGE_PDF = CORPUS / "report_50p_letter.pdf"
FINAL = ("done", "failed", "interrupted", "canceled", "render_failed")
STAGES = (
    "accepted→rendered",
    "ready→claimed",
    "claimed→dialing",
    "dialing→finished",
    "retries, after call",
)


def three_page_pdf(out: Path) -> Path:
    """Pages 1–3 of the 50-page letter report as a new PDF."""
    import pypdfium2 as pdfium

    src = pdfium.PdfDocument(str(MULTI_PAGE_PDF))
    doc = pdfium.PdfDocument.new()
    doc.import_pages(src, [0, 1, 2])
    doc.save(str(out))
    return out


def body(pdf: bytes, recipients: list[str], seq: int) -> bytes:
    """One raw HTTP/1.1 FaxOut POST: a PDF (made unique by a trailer comment) to recipients."""
    fields = [("Username", USER), ("Password", PASSWORD), ("Coverpage", "None")]
    fields += [("Recipient", r) for r in recipients]
    out = bytearray()
    for name, value in fields:
        out += (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n{value}\r\n'
        ).encode()
    out += (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="Attachment"; '
        f'filename="doc.pdf"\r\nContent-Type: application/pdf\r\n\r\n'
    ).encode()
    out += pdf + f"\n% bench pipeline {seq}\n\r\n--{BOUNDARY}--\r\n".encode()
    head = (
        f"POST /faxapi.asp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; "
        f"boundary={BOUNDARY}\r\nContent-Length: {len(out)}\r\n\r\n"
    ).encode()
    return head + bytes(out)


def _ts(value: str | None) -> float | None:
    """A UTC timestamp as SQLite stores it (naive ISO text) → epoch seconds."""
    if value is None:
        return None
    return datetime.fromisoformat(value).replace(tzinfo=UTC).timestamp()


def wait_done(db: Path, expected_jobs: int, timeout: float) -> float:
    """Poll until every expected job is final; wall seconds waited."""
    t0 = time.monotonic()
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    marks = ",".join("?" * len(FINAL))
    last_report = t0
    try:
        while True:
            total, final = conn.execute(
                f"SELECT COUNT(*), SUM(state IN ({marks})) FROM jobs", FINAL
            ).fetchone()
            if total >= expected_jobs and (final or 0) >= expected_jobs:
                return time.monotonic() - t0
            now = time.monotonic()
            if now - t0 > timeout:
                raise TimeoutError(f"{final}/{expected_jobs} jobs final after {timeout:.0f} s")
            if now - last_report > 15:
                print(f"  … {final or 0}/{expected_jobs} jobs final", file=sys.stderr)
                last_report = now
            time.sleep(0.5)
    finally:
        conn.close()


RENDERED = re.compile(r"^(\S+) .*faxout\.render: rendered .*submission=(\d+)")


def rendered_times(log: Path | None) -> dict[int, float]:
    """When each submission was rendered, from the server's log (text format)."""
    out: dict[int, float] = {}
    if log is None or not log.is_file():
        return out
    with log.open(encoding="utf-8", errors="replace") as f:
        for line in f:
            m = RENDERED.match(line)
            if m:
                out[int(m.group(2))] = datetime.fromisoformat(m.group(1)).timestamp()
    return out


def analyse(db: Path, log: Path | None = None) -> dict[str, Any]:
    """Throughput, latency and stage shares from the database timestamps (and the log's
    rendered times; without them, ``updated_at`` of submissions still ``ready``)."""
    rendered = rendered_times(log)
    conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30)
    try:
        subs = {
            sid: (
                _ts(created),
                rendered.get(sid, _ts(updated) if state == "ready" else None),
                state,
                count,
                pages,
            )
            for sid, created, updated, state, count, pages in conn.execute(
                "SELECT id, created_at, updated_at, state, render_count, pages FROM submissions"
            )
        }
        attempts: dict[int, list[tuple[float, float | None, float | None, str | None]]] = {}
        for job_id, claimed, dialing, finished, outcome in conn.execute(
            "SELECT job_id, claimed_at, dialing_at, finished_at, outcome FROM attempts "
            "ORDER BY job_id, attempt_no"
        ):
            attempts.setdefault(job_id, []).append(
                (_ts(claimed) or 0.0, _ts(dialing), _ts(finished), outcome)
            )
        jobs = conn.execute("SELECT id, submission_id, state, finished_at FROM jobs").fetchall()
        line_s = conn.execute(
            "SELECT AVG(line_seconds), AVG(wall_seconds) FROM attempts WHERE outcome = 'ok'"
        ).fetchone()
        n_lines = conn.execute("SELECT COUNT(*) FROM lines").fetchone()[0]
    finally:
        conn.close()

    states = Counter(state for _, _, state, _ in jobs)
    totals = dict.fromkeys(STAGES, 0.0)
    per_stage: dict[str, list[float]] = {s: [] for s in STAGES}
    latencies: list[float] = []
    for job_id, sid, state, finished in jobs:
        created, ready, *_ = subs[sid]
        done = _ts(finished)
        tries = attempts.get(job_id, [])
        if state != "done" or done is None or created is None:
            continue
        latencies.append(done - created)
        if ready is None or not tries or tries[-1][1] is None or tries[-1][2] is None:
            continue  # no split into stages for this one (counted in "stage_jobs")
        first, last = tries[0], tries[-1]
        parts = [
            ready - created,
            first[0] - ready,
            last[1] - last[0],
            last[2] - last[1],
        ]
        # Earlier attempts (retries) and the gaps between them, and anything after the last
        # call ended; with numbers that answer normally this is ~0.
        parts.append((done - created) - sum(parts))
        for stage, seconds in zip(STAGES, parts, strict=True):
            totals[stage] += seconds
            per_stage[stage].append(seconds)

    first_accepted = min(s[0] for s in subs.values() if s[0] is not None)
    finished_all = [_ts(f) for _, _, _, f in jobs if f is not None]
    last_done = max(t for t in finished_all if t is not None)
    span = last_done - first_accepted
    grand = sum(totals.values()) or 1.0
    accepted_span = max(s[0] for s in subs.values() if s[0] is not None) - first_accepted
    # A line is held from the claim to the end of the call.
    held = sum(t[2] - t[0] for v in attempts.values() for t in v if t[2] is not None)
    return {
        "jobs": len(jobs),
        "states": dict(states),
        "submissions": len(subs),
        "attempts": sum(len(v) for v in attempts.values()),
        "attempt_outcomes": dict(
            Counter(t[3] or "unfinished" for v in attempts.values() for t in v)
        ),
        "render_counts": dict(Counter(s[3] for s in subs.values())),
        "pages_per_submission": dict(Counter(s[4] for s in subs.values())),
        "accept_span_s": accepted_span,
        "span_s": span,
        "faxes_per_min": states.get("done", 0) / span * 60 if span > 0 else float("nan"),
        "latency_p50_s": percentile(latencies, 50) if latencies else float("nan"),
        "latency_p99_s": percentile(latencies, 99) if latencies else float("nan"),
        "stage_jobs": len(per_stage[STAGES[0]]),
        "stage_share": {s: totals[s] / grand for s in STAGES},
        "stage_p50_s": {s: percentile(v, 50) for s, v in per_stage.items() if v},
        "stage_p99_s": {s: percentile(v, 99) for s, v in per_stage.items() if v},
        "call_line_s_mean": line_s[0],
        "call_wall_s_mean": line_s[1],
        "lines": n_lines,
        "line_occupancy": held / (n_lines * span) if n_lines and span > 0 else float("nan"),
    }


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process, its live descendants and its reaped children."""
    proc = psutil.Process(pid)
    t = proc.cpu_times()
    total = t.user + t.system + t.children_user + t.children_system
    for child in proc.children(recursive=True):
        try:
            c = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += c.user + c.system
    return total


def run_case(
    name: str,
    requests: list[bytes],
    expected_jobs: int,
    work: Path,
    env: dict[str, str],
    concurrency: int,
    timeout: float,
) -> dict[str, Any]:
    data = work / name
    print(f"[{name}] starting faxout serve in {data}", file=sys.stderr)
    server = Faxout(data, **env)
    load_before = os.getloadavg()
    try:
        cpu_before = tree_cpu(server.proc.pid)
        print(f"[{name}] posting {len(requests)} submission(s)…", file=sys.stderr)
        lat, post_wall = asyncio.run(_load(server.port, requests, concurrency))
        print(
            f"[{name}] accepted in {post_wall:.1f} s; waiting for {expected_jobs} jobs…",
            file=sys.stderr,
        )
        wait_done(data / "faxout.db", expected_jobs, timeout)
        cpu = tree_cpu(server.proc.pid) - cpu_before
        load_after = os.getloadavg()
    finally:
        server.stop()
    result = analyse(data / "faxout.db", Path(server.log.name))
    result |= {
        "posts": len(requests),
        "post_wall_s": post_wall,
        "post_p50_ms": percentile(lat, 50) * 1000,
        "post_p99_ms": percentile(lat, 99) * 1000,
        "server_cpu_s": cpu,
        "server_cpu_ms_per_fax": cpu / expected_jobs * 1000,
        "loadavg_before": load_before,
        "loadavg_after": load_after,
    }
    return result


def report(name: str, r: dict[str, Any]) -> None:
    print(f"\n== {name}: {r['jobs']} jobs in {r['submissions']} submission(s), {r['posts']} POSTs")
    print(f"  final states: {r['states']}; attempts: {r['attempts']} {r['attempt_outcomes']}")
    print(
        f"  render_count per submission: {r['render_counts']} (value: submissions); "
        f"pages: {r['pages_per_submission']}"
    )
    print(
        f"  POSTs accepted in {r['post_wall_s']:.1f} s (p50 {r['post_p50_ms']:.0f} ms, "
        f"p99 {r['post_p99_ms']:.0f} ms)"
    )
    print(f"  first accepted → last done: {r['span_s']:.1f} s → {r['faxes_per_min']:.0f} faxes/min")
    print(
        f"  accepted → done per fax: p50 {r['latency_p50_s']:.1f} s, p99 {r['latency_p99_s']:.1f} s"
    )
    mean_line = r["call_line_s_mean"] or 0.0
    mean_wall = r["call_wall_s_mean"] or 0.0
    print(f"  per call: {mean_line:.1f} simulated line s, {mean_wall * 1000:.0f} ms wall (mean)")
    print(
        f"  lines: {r['lines']}, held (claim → call end) {r['line_occupancy'] * 100:.0f}% of "
        f"lines × span"
    )
    print(
        f"  server CPU (process tree, from first POST to last done): {r['server_cpu_s']:.0f} s, "
        f"{r['server_cpu_ms_per_fax']:.0f} ms per fax, {r['server_cpu_s'] / r['span_s']:.2f} "
        f"cores on average"
    )
    print(
        f"  {'stage (' + str(r['stage_jobs']) + ' jobs)':<20} {'share':>6} {'p50 s':>8} {'p99 s':>8}"
    )
    for stage in STAGES:
        share = r["stage_share"][stage]
        p50 = r["stage_p50_s"].get(stage, float("nan"))
        p99 = r["stage_p99_s"].get(stage, float("nan"))
        print(f"  {stage:<20} {share * 100:>5.1f}% {p50:>8.2f} {p99:>8.2f}")
    b, a = r["loadavg_before"], r["loadavg_after"]
    print(
        f"  load average before {b[0]:.2f} {b[1]:.2f} {b[2]:.2f}, after {a[0]:.2f} {a[1]:.2f} "
        f"{a[2]:.2f} ({os.cpu_count()} CPUs)"
    )


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--n", type=int, default=1000, help="faxes per case (default 1000)")
    ap.add_argument("--concurrency", type=int, default=8, help="HTTP clients")
    ap.add_argument(
        "--lines", type=int, help="FAXOUT_TRANSMIT__LINES (default: the server's default, 4)"
    )
    ap.add_argument(
        "--per-post",
        type=int,
        default=100,
        help="recipients per broadcast POST (over 100 sets FAXOUT_LIMITS__MAX_RECIPIENTS)",
    )
    ap.add_argument(
        "--cases", nargs="+", default=["one-page", "broadcast"], choices=["one-page", "broadcast"]
    )
    ap.add_argument("--timeout", type=float, default=3600, help="seconds to wait per case")
    ap.add_argument("--keep", type=Path, help="keep the data directories under this path")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)

    env: dict[str, str] = {}
    if args.lines:
        env["FAXOUT_TRANSMIT__LINES"] = str(args.lines)
    if args.per_post > 100:
        env["FAXOUT_LIMITS__MAX_RECIPIENTS"] = str(args.per_post)
    results: dict[str, Any] = {"n": args.n, "env": env, "cases": {}}
    with tempfile.TemporaryDirectory(prefix="faxout-pipeline-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        if "one-page" in args.cases:
            pdf = ONE_PAGE_PDF.read_bytes()
            reqs = [body(pdf, [f"+1555010{i % 10_000:04d}"], i) for i in range(args.n)]
            results["cases"]["one-page"] = run_case(
                "one-page", reqs, args.n, work, env, args.concurrency, args.timeout
            )
        if "broadcast" in args.cases:
            pdf = three_page_pdf(work / "three-pages.pdf").read_bytes()
            numbers = [f"+1555010{i % 10_000:04d}" for i in range(args.n)]
            chunks = [numbers[i : i + args.per_post] for i in range(0, args.n, args.per_post)]
            reqs = [body(pdf, chunk, 0) for chunk in chunks]  # one document, the same bytes
            results["cases"]["broadcast"] = run_case(
                "broadcast", reqs, args.n, work, env, args.concurrency, args.timeout
            )

    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    lines = env.get("FAXOUT_TRANSMIT__LINES", "4 (default)")
    print(
        f"Pipeline on the embedded default: faxout serve, SQLite + SqliteHuey, simline audio, "
        f"{lines} lines, production argon2, Coverpage=None"
    )
    for name, r in results["cases"].items():
        report(name, r)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
