"""Pipeline benchmark: FaxOut POST → render → simulated line → done (issue 5), on the embedded
default or on the distributed topology.

    .venv/bin/python bench/pipeline.py [--n 1000] [--concurrency 8] [--lines 4] [--json]
    .venv/bin/python bench/pipeline.py --n 50          # a quick run
    .venv/bin/python bench/pipeline.py --distributed [--store dir|s3] [--workers 2]

Embedded (default): starts `faxout serve` (production defaults: argon2id at OWASP's baseline,
SQLite WAL with synchronous=FULL, SqliteHuey consumer threads in the server process, the
simulated line over audio) in a fresh temporary data directory.

Distributed (``--distributed``): a private PostgreSQL (``tests/pgserver.py``: initdb + postgres
on a free port of 127.0.0.1; the test cluster's settings, so fsync, synchronous_commit and
full_page_writes are off), a private redis-server (``tests/services.py``), the document store in
a shared directory (``FAXOUT_STORE_URL=file:///…``; ``--store s3``: a moto S3 server in this
process), ``faxout migrate``, then ``faxout serve --no-workers`` (the API node), one ``faxout
dispatch`` and ``--workers`` (2) ``faxout worker`` processes, all with the same
``FAXOUT_DATA_DIR`` and configured by environment (FAXOUT_DATABASE_URL, FAXOUT_QUEUE_URL,
FAXOUT_STORE_URL). Each case gets its own database, Redis and store; PostgreSQL is shared by the
cases. Every process is started by this script, stopped by its own PID (also on Ctrl-C) and its
files removed at the end.

Either way, two cases run, each on its own fresh server(s):

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
* CPU: of the faxout process trees (serve; dispatch and workers) and, distributed, of
  PostgreSQL and Redis (``psutil``, from the first POST to the last done);
* stage shares, summed over jobs (the submission's times are shared by its jobs):
  accepted→rendered (``submissions.created_at`` → the render stage's "rendered … submission=N"
  log line of the server or worker; the database keeps no rendered time of its own, and
  ``submissions.updated_at`` moves on when the submission is done), ready→claimed (→ ``attempts.claimed_at`` of
  the first attempt: dispatcher, task queue, waiting for a free line), claimed→dialing (pages
  fetched and assembled with tiffcp), dialing→finished (the call over the simulated line), and
  the rest (earlier attempts when a call is retried, and anything after the last call).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).parent))
from hylafax_ref import percentile
from intake import BOUNDARY, PASSWORD, USER, _load

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
Connect = Callable[[], Any]
"""Opens a DB-API connection to the faxout database (sqlite3, or psycopg in autocommit)."""


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


def _ts(value: str | datetime | None) -> float | None:
    """A UTC timestamp as SQLite stores it (naive ISO text) or as psycopg returns it (an aware
    datetime) → epoch seconds."""
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.timestamp() if value.tzinfo else value.replace(tzinfo=UTC).timestamp()
    return datetime.fromisoformat(value).replace(tzinfo=UTC).timestamp()


def wait_done(connect: Connect, expected_jobs: int, timeout: float) -> float:
    """Poll until every expected job is final; wall seconds waited."""
    t0 = time.monotonic()
    conn = connect()
    marks = ",".join(f"'{s}'" for s in FINAL)
    last_report = t0
    try:
        while True:
            total, final = conn.execute(
                f"SELECT COUNT(*), SUM(CASE WHEN state IN ({marks}) THEN 1 ELSE 0 END) FROM jobs"
            ).fetchone()
            total, final = int(total), int(final or 0)
            if total >= expected_jobs and final >= expected_jobs:
                return time.monotonic() - t0
            now = time.monotonic()
            if now - t0 > timeout:
                raise TimeoutError(f"{final}/{expected_jobs} jobs final after {timeout:.0f} s")
            if now - last_report > 15:
                print(f"  … {final}/{expected_jobs} jobs final", file=sys.stderr)
                last_report = now
            time.sleep(0.5)
    finally:
        conn.close()


RENDERED = re.compile(r"^(\S+) .*faxout\.render: rendered .*submission=(\d+)")


def rendered_times(logs: list[Path]) -> dict[int, float]:
    """When each submission was rendered, from the logs (text format) of the processes that
    render: the server (embedded) or the workers (distributed)."""
    out: dict[int, float] = {}
    for log in logs:
        if not log.is_file():
            continue
        with log.open(encoding="utf-8", errors="replace") as f:
            for line in f:
                m = RENDERED.match(line)
                if m:
                    out[int(m.group(2))] = datetime.fromisoformat(m.group(1)).timestamp()
    return out


def analyse(connect: Connect, logs: list[Path]) -> dict[str, Any]:
    """Throughput, latency and stage shares from the database timestamps (and the logs'
    rendered times; without them, ``updated_at`` of submissions still ``ready``)."""
    rendered = rendered_times(logs)
    conn = connect()
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
        n_lines = int(conn.execute("SELECT COUNT(*) FROM lines").fetchone()[0])
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
        "call_line_s_mean": None if line_s[0] is None else float(line_s[0]),
        "call_wall_s_mean": None if line_s[1] is None else float(line_s[1]),
        "lines": n_lines,
        "line_occupancy": held / (n_lines * span) if n_lines and span > 0 else float("nan"),
    }


def tree_cpu(pid: int) -> float:
    """CPU seconds of a process, its live descendants and its reaped children (0 if gone)."""
    try:
        proc = psutil.Process(pid)
        t = proc.cpu_times()
        children = proc.children(recursive=True)
    except psutil.NoSuchProcess:
        return 0.0
    total = t.user + t.system + t.children_user + t.children_system
    for child in children:
        try:
            c = child.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += c.user + c.system
    return total


def _child_env(**extra: str) -> dict[str, str]:
    """This process's environment without FAXOUT_*/AWS_* settings, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FAXOUT_", "AWS_"))}
    env.update({"FAXOUT_DEMO_ACCOUNT": "false", "PYTHONUNBUFFERED": "1", **extra})
    return env


@dataclass
class Node:
    """One ``faxout`` process, in its own session (Ctrl-C reaches only this script, which then
    stops it), its output in ``log``."""

    name: str
    proc: subprocess.Popen[bytes]
    log: Path

    @classmethod
    def spawn(cls, name: str, args: list[str], env: dict[str, str], logs: Path) -> Node:
        logs.mkdir(parents=True, exist_ok=True)
        log = logs / f"{name}.log"
        with log.open("ab") as out:
            proc = subprocess.Popen(
                [sys.executable, "-m", "faxout", *args],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env=env,
                cwd=ROOT,
                start_new_session=True,
            )
        return cls(name, proc, log)

    def wait_for(self, ready: Callable[[], bool], what: str, timeout: float = 90) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            if self.proc.poll() is not None:
                tail = self.log.read_text(errors="replace")[-3000:]
                raise RuntimeError(f"faxout {self.name} exited {self.proc.returncode}:\n{tail}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"faxout {self.name}: no {what} after {timeout:.0f} s")
            time.sleep(0.05)

    def wait_log(self, text: str) -> None:
        self.wait_for(lambda: text in self.log.read_text(errors="replace"), repr(text))

    def stop(self, grace: float = 30.0) -> None:
        """SIGTERM by PID (running calls finish), SIGKILL after ``grace``; reaped."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.proc.terminate()
            try:
                self.proc.wait(grace)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def _healthy(port: int) -> bool:
    with contextlib.suppress(httpx.HTTPError):
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    return False


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run_cli(env: dict[str, str], *args: str, stdin: str | None = None) -> str:
    done = subprocess.run(
        [sys.executable, "-m", "faxout", *args],
        input=stdin,
        text=True,
        env=env,
        cwd=ROOT,
        capture_output=True,
        timeout=300,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"faxout {' '.join(args)} failed:\n{done.stdout}{done.stderr}")
    return done.stdout


def start_api(env: dict[str, str], logs: Path, *, api_only: bool) -> tuple[Node, int]:
    """``faxout serve`` on a free port (``--no-workers`` for the API node), and the bench user."""
    port = _free_port()
    args = ["serve", "--port", str(port), *(["--no-workers"] if api_only else [])]
    node = Node.spawn("serve", args, env, logs)
    try:
        node.wait_for(lambda: _healthy(port), "/healthz")
        run_cli(
            env,
            "user",
            "add",
            USER,
            "--email",
            "b@example.com",
            "--password-stdin",
            stdin=PASSWORD + "\n",
        )
    except BaseException:
        node.stop()
        raise
    return node, port


@dataclass
class Topology:
    """What a case runs against: the API port, the database, the processes to measure."""

    port: int
    connect: Connect
    nodes: list[Node]
    service_pids: list[int] = field(default_factory=list)
    description: str = ""

    @property
    def logs(self) -> list[Path]:
        return [n.log for n in self.nodes]


@contextlib.contextmanager
def embedded(data: Path, env: dict[str, str]) -> Iterator[Topology]:
    """``faxout serve`` with its pipeline in-process, SQLite in ``data``."""
    data.mkdir(parents=True, exist_ok=True)
    node, port = start_api(_child_env(FAXOUT_DATA_DIR=str(data), **env), data, api_only=False)
    db = data / "faxout.db"
    try:
        yield Topology(
            port,
            lambda: sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=30),
            [node],
            description="embedded: faxout serve, SQLite + SqliteHuey",
        )
    finally:
        node.stop()


@contextlib.contextmanager
def distributed(
    data: Path, env: dict[str, str], pg: Any, store: str, workers: int
) -> Iterator[Topology]:
    """A database on ``pg``, a private Redis, a shared store; the API node, one dispatcher and
    ``workers`` workers."""
    import psycopg
    from tests.services import aws_test_env, create_bucket, moto_s3, redis_server

    data.mkdir(parents=True, exist_ok=True)
    shared = data / "shared"  # FAXOUT_DATA_DIR of every process
    nodes: list[Node] = []
    dbname = pg.create_database(f"bench_{data.name.replace('-', '_')}_{uuid.uuid4().hex[:6]}")
    try:
        with contextlib.ExitStack() as stack:
            queue_url = stack.enter_context(redis_server(data / "redis"))
            redis_pids = [c.pid for c in psutil.Process().children() if c.name() == "redis-server"]
            extra: dict[str, str] = {}
            if store == "s3":
                endpoint = stack.enter_context(moto_s3())
                bucket = f"faxout-{uuid.uuid4().hex[:12]}"
                create_bucket(endpoint, bucket)
                extra |= aws_test_env(data)
                store_url = f"s3://{bucket}/faxout?endpoint_url={endpoint}&region=us-east-1"
            else:
                (data / "store").mkdir()
                store_url = (data / "store").as_uri()
            penv = _child_env(
                FAXOUT_DATA_DIR=str(shared),
                FAXOUT_DATABASE_URL=pg.url(dbname),
                FAXOUT_QUEUE_URL=queue_url,
                FAXOUT_STORE_URL=store_url,
                FAXOUT_AUTO_MIGRATE="false",
                **extra,
                **env,
            )
            print(f"  {run_cli(penv, 'migrate').strip()}", file=sys.stderr)
            # Each node is stopped (last started first) before Redis, S3 and the database go.
            api, port = start_api(penv, data, api_only=True)
            stack.callback(api.stop)
            nodes.append(api)
            roles = [("dispatch", "dispatch")]
            roles += [(f"worker{i}", "worker") for i in range(1, workers + 1)]
            for name, role in roles:
                node = Node.spawn(name, [role], penv, data)
                stack.callback(node.stop)
                nodes.append(node)
            nodes[1].wait_log("faxout dispatcher running")
            for w in nodes[2:]:
                w.wait_log("faxout worker running")
            dsn = pg.dsn(dbname)
            yield Topology(
                port,
                lambda: psycopg.connect(dsn, autocommit=True),
                nodes,
                [pg.process.pid, *redis_pids],
                description=(
                    f"distributed: serve --no-workers + dispatch + {workers} workers, "
                    f"PostgreSQL + RedisHuey, store "
                    f"{'moto S3' if store == 's3' else 'shared directory (file://)'}"
                ),
            )
    finally:
        with contextlib.suppress(Exception):
            pg.drop_database(dbname)


def run_case(
    name: str,
    requests: list[bytes],
    expected_jobs: int,
    start: Callable[[Path], contextlib.AbstractContextManager[Topology]],
    work: Path,
    concurrency: int,
    timeout: float,
) -> dict[str, Any]:
    data = work / name
    print(f"[{name}] starting faxout in {data}", file=sys.stderr)
    with start(data) as top:
        load_before = os.getloadavg()
        cpu_before = sum(tree_cpu(n.proc.pid) for n in top.nodes)
        svc_before = sum(tree_cpu(pid) for pid in top.service_pids)
        print(f"[{name}] posting {len(requests)} submission(s)…", file=sys.stderr)
        lat, post_wall = asyncio.run(_load(top.port, requests, concurrency))
        print(
            f"[{name}] accepted in {post_wall:.1f} s; waiting for {expected_jobs} jobs…",
            file=sys.stderr,
        )
        wait_done(top.connect, expected_jobs, timeout)
        cpu = sum(tree_cpu(n.proc.pid) for n in top.nodes) - cpu_before
        svc = sum(tree_cpu(pid) for pid in top.service_pids) - svc_before
        load_after = os.getloadavg()
        result = analyse(top.connect, top.logs)
        topology = top.description
    result |= {
        "topology": topology,
        "posts": len(requests),
        "post_wall_s": post_wall,
        "post_p50_ms": percentile(lat, 50) * 1000,
        "post_p99_ms": percentile(lat, 99) * 1000,
        "server_cpu_s": cpu,
        "server_cpu_ms_per_fax": cpu / expected_jobs * 1000,
        "services_cpu_s": svc,
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
        f"  faxout CPU (process trees, from first POST to last done): {r['server_cpu_s']:.0f} s, "
        f"{r['server_cpu_ms_per_fax']:.0f} ms per fax, {r['server_cpu_s'] / r['span_s']:.2f} "
        f"cores on average"
    )
    if r["services_cpu_s"]:
        print(
            f"  PostgreSQL + Redis CPU: {r['services_cpu_s']:.0f} s, "
            f"{r['services_cpu_s'] / r['jobs'] * 1000:.0f} ms per fax"
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


def _interrupted(signum: int, frame: object) -> None:
    """First Ctrl-C (or SIGTERM): unwind, which stops every process started here; further
    ones are ignored so that the clean-up finishes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt


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
    ap.add_argument(
        "--distributed",
        action="store_true",
        help="PostgreSQL + Redis, serve --no-workers, dispatch and --workers worker processes",
    )
    ap.add_argument("--workers", type=int, default=2, help="faxout worker processes (distributed)")
    ap.add_argument(
        "--store",
        choices=["dir", "s3"],
        default="dir",
        help="distributed document store: a shared directory (file://) or a moto S3 server",
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
    results: dict[str, Any] = {
        "n": args.n,
        "env": env,
        "topology": "distributed" if args.distributed else "embedded",
        "cases": {},
    }
    signal.signal(signal.SIGINT, _interrupted)
    signal.signal(signal.SIGTERM, _interrupted)
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="faxout-pipeline-"))
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        start: Callable[[Path], contextlib.AbstractContextManager[Topology]]
        if args.distributed:
            sys.path.insert(0, str(ROOT))
            from tests.pgserver import PgServer

            print("starting a private PostgreSQL…", file=sys.stderr)
            pg = PgServer.start()
            stack.callback(pg.stop)

            def start(data: Path) -> contextlib.AbstractContextManager[Topology]:
                return distributed(data, env, pg, args.store, args.workers)
        else:

            def start(data: Path) -> contextlib.AbstractContextManager[Topology]:
                return embedded(data, env)

        if "one-page" in args.cases:
            pdf = ONE_PAGE_PDF.read_bytes()
            reqs = [body(pdf, [f"+1555010{i % 10_000:04d}"], i) for i in range(args.n)]
            results["cases"]["one-page"] = run_case(
                "one-page", reqs, args.n, start, work, args.concurrency, args.timeout
            )
        if "broadcast" in args.cases:
            pdf = three_page_pdf(work / "three-pages.pdf").read_bytes()
            numbers = [f"+1555010{i % 10_000:04d}" for i in range(args.n)]
            chunks = [numbers[i : i + args.per_post] for i in range(0, args.n, args.per_post)]
            reqs = [body(pdf, chunk, 0) for chunk in chunks]  # one document, the same bytes
            results["cases"]["broadcast"] = run_case(
                "broadcast", reqs, args.n, start, work, args.concurrency, args.timeout
            )

    if args.json:
        print(json.dumps(results, indent=2))
        return 0
    lines = env.get("FAXOUT_TRANSMIT__LINES", "4 (default)")
    where = (
        f"distributed: serve --no-workers + dispatch + {args.workers} workers, PostgreSQL + "
        f"RedisHuey, store {'moto S3' if args.store == 's3' else 'shared directory'}"
        if args.distributed
        else "embedded default: faxout serve, SQLite + SqliteHuey"
    )
    print(
        f"Pipeline on the {where}, simline audio, {lines} lines, production argon2, Coverpage=None"
    )
    for name, r in results["cases"].items():
        report(name, r)
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        print("interrupted: every process started here was stopped", file=sys.stderr)
        raise SystemExit(130) from None
