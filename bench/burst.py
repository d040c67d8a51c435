"""Burst benchmark (issue 14, item 5): ONE broadcast to 10 000 recipients, on the embedded default
or on the distributed topology.

    .venv/bin/python bench/burst.py                     # 10 000 recipients, embedded default
    .venv/bin/python bench/burst.py --quick             # 500 recipients
    .venv/bin/python bench/burst.py --distributed       # PostgreSQL + Redis, 2 workers
    .venv/bin/python bench/burst.py --recipients 2000 [--json] [--keep DIR]
    .venv/bin/python bench/burst.py --drain-for 600     # send for 10 min, cancel the rest

At ~220 faxes/min on 4 simulated lines, 10 000 faxes take ~45 min to drain; ``--drain-for S``
measures S seconds of the backlog (the whole 10 000-job backlog is there throughout) and then
cancels what still waits (``faxout jobs cancel --submission``).

The servers are started as bench/pipeline.py starts them (its ``embedded`` and ``distributed``
topologies are imported, not copied): embedded is one ``faxout serve`` (SQLite, SqliteHuey
consumer threads, the simulated line over audio, 4 lines); ``--distributed`` is a private
PostgreSQL (tests/pgserver.py), a private Redis, ``serve --no-workers``, one ``faxout dispatch``
and ``--workers`` (2) ``faxout worker`` processes. Every process is stopped by its PID.

Method:

0. Limits probe (an API-only ``faxout serve --no-workers`` on SQLite, with only
   ``FAXOUT_LIMITS__MAX_RECIPIENTS=N`` raised): one FaxOut POST and one ``POST /api/v1/faxes``
   with N recipients; their answers and the server's log reason are reported as they came.
   Each recipient is one multipart part, so the FaxOut endpoint also needs
   ``FAXOUT_LIMITS__MAX_PARTS`` (default 1000) raised; the main run raises both.
1. The burst: one FaxOut POST (raw HTTP/1.1 on one connection) of a one-page US-letter PDF
   (``letter_usletter.pdf``) to N distinct numbers ``+1555010xxxx`` and ``+1555011xxxx`` that
   answer normally, ``Coverpage=None``. Timed from the first byte sent to the answer ``0``.
   While it runs, a thread reads ``VmRSS`` of ``/proc/PID/status`` of the intake process
   (``serve``) and all its descendants every 50 ms: before (just before the POST), peak (during
   the POST), after (right after the answer) and the growth (peak − before).
2. Rendered once: ``submissions.render_count`` of the submission, and the number of "rendered …
   submission=N" lines in the logs of the processes that render.
3. Line utilisation while work waits, from the ``attempts`` table once every job is final: a
   line is in use from ``claimed_at`` (the lease is taken in the same transaction) to
   ``finished_at`` (released in the same transaction). The window runs from the first claim to
   the last claim: after the last claim no job waits for a line any more. Utilisation = the
   line-seconds in use within the window / (lines × window). Per line, the gap from a release
   to that line's next claim (median, p95, max). Faxes/min over first claim → last release,
   and over the POST → last release; the line ceiling is lines × 60 / mean hold.
   The simulated call is timed too: claimed → dialing (pages fetched, header, tiffcp),
   dialing → finished (the spandsp call, fast-forwarded), and the simulated line-seconds.
4. The status API at scale: after the backlog is drained, one ``POST /api/v1/faxes`` (JSON,
   the PDF in base64) to N other numbers, ``send_at`` a day ahead so none is sent; its answer,
   time and the intake tree's RSS as above; then it is cancelled.

Targets: render count 1; RSS growth during intake under 100 MB (flat-ish); utilisation ≥ 95 %.
The POST time has no target; it is reported. ``uptime`` is printed before and after.
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import itertools
import json
import re
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psutil

sys.path.insert(0, str(Path(__file__).parent))
from hylafax_ref import percentile
from intake import USER
from pipeline import (
    ONE_PAGE_PDF,
    ROOT,
    Topology,
    _child_env,
    _interrupted,
    _ts,
    body,
    distributed,
    embedded,
    run_cli,
    start_api,
    wait_done,
)

RSS_TARGET_MB = 100.0
UTILISATION_TARGET = 0.95
SAMPLE_S = 0.05
RENDERED_SUB = re.compile(r"faxout\.render: rendered .*submission=(\d+)")


def numbers(n: int, block: int = 0) -> list[str]:
    """N distinct numbers that answer normally (``+1555010xxxx``, ``+1555011xxxx``, …)."""
    return [f"+155501{block + i // 10_000}{i % 10_000:04d}" for i in range(n)]


def uptime() -> str:
    return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout.strip()


# -- HTTP ----------------------------------------------------------------------------------


def exchange(port: int, request: bytes, timeout: float = 600) -> tuple[int, bytes, float]:
    """Send one raw HTTP/1.1 request; (status, body, seconds from first byte to full answer)."""
    for attempt in range(20):  # a server that just said healthy may not accept yet
        try:
            sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
            break
        except ConnectionRefusedError:
            if attempt == 19:
                raise
            time.sleep(0.25)
    with sock:
        t0 = time.perf_counter()
        sock.sendall(request)
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = sock.recv(65536)
            if not chunk:
                raise ConnectionError(f"server closed the connection; got {data[:300]!r}")
            data += chunk
        head, rest = data.split(b"\r\n\r\n", 1)
        status = int(head.split(b" ", 2)[1])
        m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
        length = int(m.group(1)) if m else None
        while length is None or len(rest) < length:
            chunk = sock.recv(65536)
            if not chunk:
                break
            rest += chunk
        return status, rest if length is None else rest[:length], time.perf_counter() - t0


def api_request(method: str, path: str, token: str, payload: dict[str, Any] | None = None) -> bytes:
    data = json.dumps(payload).encode() if payload is not None else b""
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + data


def api_fax(pdf: bytes, to: list[str], send_at: datetime | None) -> dict[str, Any]:
    fax: dict[str, Any] = {
        "to": [{"number": n} for n in to],
        "documents": [
            {
                "filename": "letter.pdf",
                "content_type": "application/pdf",
                "content_base64": base64.b64encode(pdf).decode(),
            }
        ],
        "cover_page": "None",
    }
    if send_at is not None:
        fax["send_at"] = send_at.isoformat().replace("+00:00", "Z")
    return fax


def env_of(pid: int) -> dict[str, str]:
    """The environment a process was started with (to run the CLI against the same setup)."""
    raw = Path(f"/proc/{pid}/environ").read_bytes()
    pairs = (item.split(b"=", 1) for item in raw.split(b"\0") if b"=" in item)
    return {k.decode(): v.decode() for k, v in pairs}


def make_token(env: dict[str, str]) -> str:
    return run_cli(env, "token", "create", USER).strip().splitlines()[-1].split()[-1]


def log_reason(log: Path, since: int) -> str:
    """The reason of the last request log line (FaxOut) or the last problem, after offset."""
    text = log.read_bytes()[since:].decode(errors="replace")
    hits = re.findall(r"faxout request.*", text)
    return hits[-1][:400] if hits else text.strip().splitlines()[-1][:400] if text.strip() else ""


# -- memory ----------------------------------------------------------------------------------


def vmrss_kb(pid: int) -> int:
    with contextlib.suppress(OSError):
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def tree_rss_mb(pid: int) -> float:
    """VmRSS of a process and all its descendants, in MB."""
    pids = [pid]
    with contextlib.suppress(psutil.NoSuchProcess):
        pids += [c.pid for c in psutil.Process(pid).children(recursive=True)]
    return sum(vmrss_kb(p) for p in pids) / 1024


def settle_rss(pid: int, quiet_mb: float = 5.0, span: float = 2.0, limit: float = 90.0) -> float:
    """Wait until the tree's RSS moves less than ``quiet_mb`` over ``span`` s (converter and
    stamper workers warming up after start); seconds waited."""
    t0 = time.monotonic()
    window: list[float] = []
    while time.monotonic() - t0 < limit:
        window.append(tree_rss_mb(pid))
        window = window[-int(span / 0.25) - 1 :]
        if len(window) > span / 0.25 and max(window) - min(window) < quiet_mb:
            break
        time.sleep(0.25)
    return time.monotonic() - t0


class RssWatch:
    """Samples VmRSS of the process alone and of its tree every 50 ms in a thread, around one
    action."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.own: list[float] = []
        self.tree: list[float] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.own.append(vmrss_kb(self.pid) / 1024)
            self.tree.append(tree_rss_mb(self.pid))
            self._stop.wait(SAMPLE_S)

    def measure(self, action: Callable[[], tuple[int, bytes, float]]) -> dict[str, Any]:
        settled = settle_rss(self.pid)
        own0, tree0 = vmrss_kb(self.pid) / 1024, tree_rss_mb(self.pid)
        self._thread.start()
        try:
            status, answer, seconds = action()
        finally:
            self._stop.set()
            self._thread.join()
        own1, tree1 = vmrss_kb(self.pid) / 1024, tree_rss_mb(self.pid)
        own_peak = max([own0, own1, *self.own])
        tree_peak = max([tree0, tree1, *self.tree])
        return {
            "status": status,
            "answer": answer[:300].decode(errors="replace"),
            "seconds": seconds,
            "settle_s": settled,
            "rss_before_mb": tree0,
            "rss_peak_mb": tree_peak,
            "rss_after_mb": tree1,
            "rss_growth_mb": tree_peak - tree0,
            "own_before_mb": own0,
            "own_peak_mb": own_peak,
            "own_after_mb": own1,
            "own_growth_mb": own_peak - own0,
            "rss_samples": len(self.tree),
        }


# -- the limits probe --------------------------------------------------------------------------


def probe_limits(work: Path, pdf: bytes, n: int) -> dict[str, Any]:
    """What the FaxOut endpoint and the API answer N recipients with only max_recipients raised."""
    data = work / "probe"
    data.mkdir(parents=True, exist_ok=True)
    env = _child_env(FAXOUT_DATA_DIR=str(data), FAXOUT_LIMITS__MAX_RECIPIENTS=str(n))
    node, port = start_api(env, data, api_only=True)
    out: dict[str, Any] = {"env": "FAXOUT_LIMITS__MAX_RECIPIENTS=" + str(n)}
    try:
        mark = node.log.stat().st_size
        status, answer, secs = exchange(port, body(pdf, numbers(n), 1))
        out["faxout"] = {
            "status": status,
            "answer": answer.decode(errors="replace"),
            "seconds": secs,
            "log": log_reason(node.log, mark),
        }
        token = make_token(env)
        fax = api_fax(pdf, numbers(n, 2), datetime.now(UTC) + timedelta(days=1))
        status, answer, secs = exchange(port, api_request("POST", "/api/v1/faxes", token, fax))
        short = answer.decode(errors="replace")
        with contextlib.suppress(ValueError):
            doc = json.loads(answer)
            short = json.dumps(
                {k: doc.get(k) for k in ("id", "state", "title", "detail", "status") if k in doc}
            )
        out["api"] = {"status": status, "answer": short[:400], "seconds": secs}
    finally:
        node.stop()
    return out


# -- the analysis ----------------------------------------------------------------------------


def utilisation(connect: Callable[[], Any]) -> dict[str, Any]:
    conn = connect()
    try:
        rows = conn.execute(
            "SELECT line_no, claimed_at, dialing_at, finished_at, outcome, line_seconds, "
            "wall_seconds FROM attempts ORDER BY claimed_at"
        ).fetchall()
        n_lines = int(conn.execute("SELECT COUNT(*) FROM lines").fetchone()[0])
        states = dict(conn.execute("SELECT state, COUNT(*) FROM jobs GROUP BY state").fetchall())
        subs = conn.execute(
            "SELECT id, created_at, render_count, pages, state FROM submissions ORDER BY id"
        ).fetchall()
    finally:
        conn.close()
    att = [
        (int(ln), _ts(c) or 0.0, _ts(d), _ts(f), o, ls, ws)
        for ln, c, d, f, o, ls, ws in rows
        if ln is not None
    ]
    if not att:
        return {"attempts": 0}
    start = min(a[1] for a in att)
    end = max(a[1] for a in att)  # the last claim: from then on no job waits for a line
    last_release = max(a[3] for a in att if a[3] is not None)
    window = end - start
    per_line: dict[int, list[tuple[float, float]]] = {}
    for ln, c, _d, f, *_ in att:
        per_line.setdefault(ln, []).append((c, f if f is not None else last_release))
    used = 0.0
    gaps: list[float] = []
    line_use: dict[int, float] = {}
    for ln, spans in per_line.items():
        spans.sort()
        busy = 0.0
        for c, f in spans:
            busy += max(0.0, min(f, end) - max(c, start))
        line_use[ln] = busy / window if window > 0 else float("nan")
        used += busy
        for (_c0, f0), (c1, _f1) in itertools.pairwise(spans):
            if c1 <= end:
                gaps.append(c1 - f0)
    hold = [f - c for _ln, c, _d, f, *_ in att if f is not None]
    prep = [d - c for _ln, c, d, f, *_ in att if d is not None]
    call = [f - d for _ln, _c, d, f, *_ in att if d is not None and f is not None]
    line_s = [float(a[5]) for a in att if a[5] is not None]
    wall_s = [float(a[6]) for a in att if a[6] is not None]
    done = int(states.get("done", 0))
    mean_hold = sum(hold) / len(hold) if hold else float("nan")
    first_accepted = min(_ts(s[1]) or 0.0 for s in subs)
    busy_span = last_release - start
    return {
        "attempts": len(att),
        "outcomes": dict(Counter(a[4] or "unfinished" for a in att)),
        "job_states": states,
        "lines": n_lines,
        "lines_used": len(per_line),
        "window_s": window,
        "utilisation": used / (n_lines * window) if n_lines and window > 0 else float("nan"),
        "per_line_utilisation": dict(sorted(line_use.items())),
        "gaps": len(gaps),
        "gap_p50_ms": percentile(gaps, 50) * 1000 if gaps else float("nan"),
        "gap_p95_ms": percentile(gaps, 95) * 1000 if gaps else float("nan"),
        "gap_max_ms": max(gaps) * 1000 if gaps else float("nan"),
        "gap_mean_ms": sum(gaps) / len(gaps) * 1000 if gaps else float("nan"),
        "hold_mean_ms": mean_hold * 1000,
        "hold_p50_ms": percentile(hold, 50) * 1000 if hold else float("nan"),
        "prep_p50_ms": percentile(prep, 50) * 1000 if prep else float("nan"),
        "call_p50_ms": percentile(call, 50) * 1000 if call else float("nan"),
        "call_line_s_mean": sum(line_s) / len(line_s) if line_s else float("nan"),
        "call_wall_s_mean": sum(wall_s) / len(wall_s) if wall_s else float("nan"),
        "accepted_to_first_claim_s": start - first_accepted,
        "faxes_per_min": done / busy_span * 60 if busy_span > 0 else float("nan"),
        "faxes_per_min_end_to_end": done / (last_release - first_accepted) * 60,
        "line_ceiling_per_min": n_lines * 60 / mean_hold if hold else float("nan"),
        "done": done,
        "submissions": [
            {"id": int(s[0]), "render_count": int(s[2]), "pages": s[3], "state": s[4]} for s in subs
        ],
    }


def render_log_count(logs: list[Path], submission: int) -> int:
    hits = 0
    for log in logs:
        if log.is_file():
            for line in log.read_text(errors="replace").splitlines():
                m = RENDERED_SUB.search(line)
                if m and int(m.group(1)) == submission:
                    hits += 1
    return hits


# -- one run --------------------------------------------------------------------------------


def submission_id(connect: Callable[[], Any]) -> int:
    conn = connect()
    try:
        return int(conn.execute("SELECT MAX(id) FROM submissions").fetchone()[0])
    finally:
        conn.close()


def run(
    top: Topology, pdf: bytes, n: int, timeout: float, with_api: bool, drain_for: float | None
) -> dict[str, Any]:
    serve = top.nodes[0]
    out: dict[str, Any] = {"topology": top.description, "uptime_before": uptime()}
    print(f"  {out['uptime_before']}", file=sys.stderr)
    request = body(pdf, numbers(n), 0)
    out["post_bytes"] = len(request)
    # No warm-up POST (it would add a submission): the burst includes the first login (argon2).
    mark = serve.log.stat().st_size
    print(
        f"  posting one broadcast to {n} recipients ({len(request) / 1e6:.1f} MB)…", file=sys.stderr
    )
    out["intake"] = RssWatch(serve.proc.pid).measure(lambda: exchange(top.port, request))
    intake = out["intake"]
    print(
        f"  answered {intake['status']} {intake['answer']!r} in {intake['seconds']:.2f} s; "
        f"RSS {intake['rss_before_mb']:.0f} → peak {intake['rss_peak_mb']:.0f} MB",
        file=sys.stderr,
    )
    if intake["answer"] != "0":
        out["error"] = f"FaxOut answered {intake['answer']!r}: {log_reason(serve.log, mark)}"
        return out
    t0 = time.monotonic()
    if drain_for:
        out["canceled_after_s"] = drain_for
        with contextlib.suppress(TimeoutError):
            wait_done(top.connect, n, drain_for)
        sid = submission_id(top.connect)
        print(f"  after {drain_for:.0f} s: cancelling what still waits", file=sys.stderr)
        # It exits 1 when some jobs were not cancelled (done, or dialling): expected here.
        done = subprocess.run(
            [sys.executable, "-m", "faxout", "jobs", "cancel", "--submission", str(sid)],
            env=env_of(serve.proc.pid),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        said = (done.stdout + done.stderr).splitlines()
        out["cancel_cli"] = {
            "rc": done.returncode,
            "canceled_lines": sum("not canceled" not in x for x in said),
            "not_canceled_lines": sum("not canceled" in x for x in said),
        }
    wait_done(top.connect, n, timeout)
    out["drain_wall_s"] = time.monotonic() - t0
    out |= utilisation(top.connect)
    subs = out["submissions"]
    out["render_log_lines"] = render_log_count(top.logs, subs[0]["id"]) if subs else 0
    out["uptime_after_burst"] = uptime()
    if with_api:
        out["api"] = api_burst(top, pdf, n)
    out["uptime_after"] = uptime()
    return out


def api_burst(top: Topology, pdf: bytes, n: int) -> dict[str, Any]:
    """The status API with N recipients (sent a day ahead, then cancelled)."""
    serve = top.nodes[0]
    env = env_of(serve.proc.pid)
    token = make_token(env)
    fax = api_fax(pdf, numbers(n, 4), datetime.now(UTC) + timedelta(days=1))
    req = api_request("POST", "/api/v1/faxes", token, fax)
    print(f"  status API: POST /api/v1/faxes to {n} recipients…", file=sys.stderr)
    res = RssWatch(serve.proc.pid).measure(lambda: exchange(top.port, req))
    res["post_bytes"] = len(req)
    fax_id = None
    if res["status"] == 201:
        conn = top.connect()
        try:
            row = conn.execute("SELECT MAX(id) FROM submissions").fetchone()
            fax_id = int(row[0])
            res["jobs_created"] = int(
                conn.execute(
                    f"SELECT COUNT(*) FROM jobs WHERE submission_id = {fax_id}"
                ).fetchone()[0]
            )
        finally:
            conn.close()
        status, _answer, secs = exchange(
            top.port, api_request("POST", f"/api/v1/faxes/{fax_id}/cancel", token)
        )
        res["cancel"] = {"status": status, "seconds": secs}
    res["fax_id"] = fax_id
    return res


# -- the report -----------------------------------------------------------------------------


def yes(ok: bool) -> str:
    return "met" if ok else "MISSED"


def report(r: dict[str, Any], probe: dict[str, Any] | None) -> None:
    print(f"\n== {r['topology']}")
    print(f"  {r['uptime_before']}")
    if probe:
        f, a = probe["faxout"], probe["api"]
        print(f"  limits probe ({probe['env']} only, api-only server on SQLite):")
        print(
            f"    FaxOut POST: HTTP {f['status']} {f['answer']!r} in {f['seconds']:.2f} s; {f['log']}"
        )
        print(f"    POST /api/v1/faxes: HTTP {a['status']} in {a['seconds']:.2f} s: {a['answer']}")
    if "error" in r:
        print(f"  BURST REFUSED: {r['error']}")
        return
    i = r["intake"]
    sub = r["submissions"][0]
    print(f"  jobs: {r['job_states']}; attempts {r['attempts']} {r['outcomes']}")
    if "canceled_after_s" in r:
        print(
            f"  (--drain-for: jobs still waiting {r['canceled_after_s']:.0f} s after the POST "
            f"were cancelled; the window ends at the last claim before that)"
        )
    rows = [
        (
            "render_count of the submission",
            f"{sub['render_count']} ({sub['pages']} page)",
            "= 1",
            sub["render_count"] == 1,
        ),
        ("'rendered' log lines", str(r["render_log_lines"]), "= 1", r["render_log_lines"] == 1),
        ("POST → answer 0", f"{i['seconds']:.2f} s ({r['post_bytes'] / 1e6:.1f} MB)", "-", None),
        (
            "serve tree RSS before / peak / after",
            f"{i['rss_before_mb']:.0f} / {i['rss_peak_mb']:.0f} / {i['rss_after_mb']:.0f} MB",
            "-",
            None,
        ),
        (
            "serve tree RSS growth (peak − before)",
            f"{i['rss_growth_mb']:.1f} MB",
            f"< {RSS_TARGET_MB:.0f} MB",
            i["rss_growth_mb"] < RSS_TARGET_MB,
        ),
        (
            "serve process alone before / peak / after",
            f"{i['own_before_mb']:.0f} / {i['own_peak_mb']:.0f} / {i['own_after_mb']:.0f} MB "
            f"(+{i['own_growth_mb']:.1f})",
            f"< {RSS_TARGET_MB:.0f} MB",
            i["own_growth_mb"] < RSS_TARGET_MB,
        ),
        (
            "line utilisation (first → last claim)",
            f"{r['utilisation'] * 100:.1f} % of {r['lines']} lines × {r['window_s']:.0f} s",
            f"≥ {UTILISATION_TARGET * 100:.0f} %",
            r["utilisation"] >= UTILISATION_TARGET,
        ),
        (
            "release → next claim p50 / p95 / max",
            f"{r['gap_p50_ms']:.0f} / {r['gap_p95_ms']:.0f} / {r['gap_max_ms']:.0f} ms "
            f"(mean {r['gap_mean_ms']:.0f})",
            "-",
            None,
        ),
        (
            "line held (claim → release) mean",
            f"{r['hold_mean_ms']:.0f} ms (prep p50 {r['prep_p50_ms']:.0f}, call p50 "
            f"{r['call_p50_ms']:.0f})",
            "-",
            None,
        ),
        (
            "simulated call",
            f"{r['call_line_s_mean']:.1f} line-s in {r['call_wall_s_mean'] * 1000:.0f} ms wall",
            "-",
            None,
        ),
        (
            "faxes/min (first claim → last release)",
            f"{r['faxes_per_min']:.0f} (line ceiling {r['line_ceiling_per_min']:.0f})",
            "-",
            None,
        ),
        ("faxes/min (POST → last release)", f"{r['faxes_per_min_end_to_end']:.0f}", "-", None),
        ("accepted → first claim", f"{r['accepted_to_first_claim_s']:.1f} s", "-", None),
    ]
    if "api" in r:
        a = r["api"]
        rows.append(
            (
                f"POST /api/v1/faxes ({r['recipients']} recipients)",
                f"HTTP {a['status']} in {a['seconds']:.2f} s, {a.get('jobs_created', 0)} jobs",
                "201",
                a["status"] == 201,
            )
        )
        rows.append(
            (
                "  its serve tree RSS before / peak / growth",
                f"{a['rss_before_mb']:.0f} / {a['rss_peak_mb']:.0f} / {a['rss_growth_mb']:.1f} MB "
                f"(process alone +{a['own_growth_mb']:.1f})",
                f"< {RSS_TARGET_MB:.0f} MB",
                a["rss_growth_mb"] < RSS_TARGET_MB,
            )
        )
        if a["status"] != 201:
            rows.append(("  its answer", a["answer"][:120], "", None))
    w = max(len(x[0]) for x in rows)
    v = max(len(x[1]) for x in rows)
    print(f"  {'figure':<{w}}  {'value':<{v}}  {'target':<9} result")
    for name, value, target, ok in rows:
        print(f"  {name:<{w}}  {value:<{v}}  {target:<9} {'' if ok is None else yes(ok)}")
    per = ", ".join(f"{k}: {u * 100:.1f} %" for k, u in r["per_line_utilisation"].items())
    print(f"  per line: {per}")
    print(f"  {r['uptime_after']}")


def main(argv: list[str] | None = None) -> int:
    import signal

    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--recipients", type=int, default=10_000, help="recipients (default 10000)")
    ap.add_argument("--quick", action="store_true", help="500 recipients")
    ap.add_argument("--distributed", action="store_true", help="PostgreSQL + Redis, 2 workers")
    ap.add_argument("--workers", type=int, default=2, help="faxout worker processes (distributed)")
    ap.add_argument("--no-probe", action="store_true", help="skip the limits probe")
    ap.add_argument("--no-api", action="store_true", help="skip the status API burst")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds to wait for the backlog")
    ap.add_argument(
        "--drain-for",
        type=float,
        help="measure the backlog for this many seconds after the POST, then cancel the rest "
        "(faxout jobs cancel --submission); the window still ends at the last claim",
    )
    ap.add_argument("--keep", type=Path, help="keep the data directories under this path")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    n = 500 if args.quick else args.recipients
    pdf = ONE_PAGE_PDF.read_bytes()
    env = {
        "FAXOUT_LIMITS__MAX_RECIPIENTS": str(n),
        # One multipart part per recipient, plus Username, Password, Coverpage and the file.
        "FAXOUT_LIMITS__MAX_PARTS": str(max(1000, n + 10)),
        "FAXOUT_API__RATE_PER_SECOND": "0",
        "FAXOUT_API__ACCOUNT_RATE_PER_SECOND": "0",
    }
    signal.signal(signal.SIGINT, _interrupted)
    signal.signal(signal.SIGTERM, _interrupted)
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory(prefix="faxout-burst-"))
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        probe = None
        if not args.no_probe:
            print("limits probe…", file=sys.stderr)
            probe = probe_limits(work, pdf, n)
        if args.distributed:
            sys.path.insert(0, str(ROOT))
            from tests.pgserver import PgServer

            print("starting a private PostgreSQL…", file=sys.stderr)
            pg = PgServer.start()
            stack.callback(pg.stop)
            topology = distributed(work / "burst", env, pg, "dir", args.workers)
        else:
            topology = embedded(work / "burst", env)
        print("starting faxout…", file=sys.stderr)
        with topology as top:
            result = run(top, pdf, n, args.timeout, not args.no_api, args.drain_for)
    result["recipients"] = n
    result["env"] = env
    result["probe"] = probe
    if args.json:
        print(json.dumps(result, indent=2, default=str))
    else:
        print(
            f"Burst: one broadcast of a 1-page PDF to {n} recipients, simline audio, Coverpage=None"
        )
        print("env: " + " ".join(f"{k}={v}" for k, v in env.items()))
        report(result, probe)
    return 0


if __name__ == "__main__":
    try:
        raise SystemExit(main())
    except KeyboardInterrupt:
        print("interrupted: every process started here was stopped", file=sys.stderr)
        raise SystemExit(130) from None
