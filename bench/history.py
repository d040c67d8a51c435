"""History benchmark: is faxout as fast with a year of finished faxes behind it as when new?

    .venv/bin/python bench/history.py [--jobs 1000000] [--quick] [--postgres] [--json]

Issue 14 item 4 ("flat with history"). One data directory per run, on SQLite (the embedded
default) or, with ``--postgres``, on a private PostgreSQL server (``tests/pgserver.py``: fsync
off, autovacuum off, so the script runs ``ANALYZE`` after the fill, as autovacuum would).
Each figure is measured twice in the same run, first on the EMPTY database (the schema, the
accounts and a token), then on the same database FILLED with the history:

(b) dispatch: `faxout serve` with the embedded defaults (the dispatcher, the render pool, the
    simulated line, the report runner) sends a one-page PDF from the corpus, one fax at a time;
    accepted → dialling is ``submissions.created_at`` → ``attempts.dialing_at`` (as
    ``bench/warmup.py`` reads it), after an unmeasured warm-up fax. Median of ``--faxes``.
(a) intake: `faxout serve --no-workers` (as ``bench/intake.py``) takes ``--n`` FaxOut POSTs of
    /faxapi.asp (1 recipient, the PDF with a unique trailer) from 8 keep-alive clients.
(d) the status API's ``GET /api/v1/faxes?limit=50`` (a Bearer token, as ``bench/api.py``; rate
    limits off) from 4 clients, on the same server.
(e) the web console's outbox (``GET /``, ``faxout.intake.console.outbox``), signed in through
    the form as ``tests/intake/console/signedin.py`` does, one client.
(c) ``faxout jobs list``, a fresh process each time: median wall time.

Between the two halves the empty half's own faxes are deleted, then the history is written
straight into the tables in big transactions (``INSERT … SELECT`` over a generated series:
``WITH RECURSIVE`` on SQLite, ``generate_series`` on PostgreSQL), shaped as the rows a real
finished fax leaves, copied from what a fax sent by the real pipeline left in the empty half:
a ``done`` submission with its document, one job per recipient (every 20th submission has
three), its attempts (the call; a busy first dial before some; twelve busy dials for a fax that
failed), and its delivery report in ``outbox`` (``final``, ``sent``, the real composed message).
Four accounts (the benchmark's own has two fifths), a year of timestamps, ascending ids; 90 %
delivered, 6 % failed after 12 busy dials, 4 % canceled before dialling. No webhooks are
configured, so no ``webhook_deliveries`` rows (a real fax leaves none then either).

Printed: each figure empty and filled, and filled/empty as a cost ratio (time per operation,
so above 1 means slower; target ≤ 1.10); then, on the filled database, the plan of every
statement behind (b)-(e) (``EXPLAIN QUERY PLAN`` / ``EXPLAIN``), captured from faxout's own
functions as they run (``JobRepo``, the dispatcher's passes, the reconciler, the report
outbox's sweep and claim, the backlog), with each one's time in this process, empty and filled.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import Engine, bindparam, create_engine, event, text

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(ROOT))
from hylafax_ref import summarize  # noqa: E402
from intake import (  # noqa: E402
    CORPUS_PDF,
    PASSWORD,
    USER,
    _free_port,
    _load,
    request_bytes,
)

OTHERS = ("15558880001", "15558880002", "15558880003")  # the history's other accounts
NO_LIMITS = {"FAXOUT_API__RATE_PER_SECOND": "0", "FAXOUT_API__ACCOUNT_RATE_PER_SECOND": "0"}
CHUNK = 100_000  # jobs per fill transaction
FAXOUT = [sys.executable, "-m", "faxout"]


def say(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# ---- the servers ---------------------------------------------------------------------------


@dataclass
class Site:
    """A data directory and the database it uses."""

    data_dir: Path
    db_url: str
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.env = {k: v for k, v in os.environ.items() if not k.startswith("FAXOUT_")}
        self.env.update(
            {
                "FAXOUT_DATA_DIR": str(self.data_dir),
                "FAXOUT_DEMO_ACCOUNT": "false",
                "FAXOUT_DATABASE_URL": self.db_url,
                "PYTHONPATH": str(ROOT / "src"),
                **NO_LIMITS,
            }
        )

    def cli(self, *args: str, stdin: str | None = None) -> str:
        done = subprocess.run(
            [*FAXOUT, *args], input=stdin, text=True, env=self.env, capture_output=True
        )
        if done.returncode:
            raise RuntimeError(f"faxout {' '.join(args)}: {done.stderr[-2000:]}")
        return done.stdout


class Server:
    """`faxout serve` (``--no-workers`` or the whole embedded pipeline) on a free port."""

    def __init__(self, site: Site, *, workers: bool) -> None:
        self.port = _free_port()
        self.log = (site.data_dir.parent / f"serve-{self.port}.log").open("wb")
        cmd = [*FAXOUT, "serve", "--port", str(self.port)] + ([] if workers else ["--no-workers"])
        started = time.monotonic()
        self.proc = subprocess.Popen(cmd, env=site.env, stdout=self.log, stderr=subprocess.STDOUT)
        while True:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(f"{self.base}/healthz").status_code == 200:
                    break
            if self.proc.poll() is not None or time.monotonic() - started > 180:
                raise RuntimeError(f"faxout serve did not start (see {self.log.name})")
            time.sleep(0.05)
        self.up_s = time.monotonic() - started

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(timeout=60)
        self.log.close()


@contextlib.contextmanager
def serving(site: Site, *, workers: bool) -> Iterator[Server]:
    server = Server(site, workers=workers)
    try:
        yield server
    finally:
        server.stop()


# ---- the measurements ----------------------------------------------------------------------


def submission_of_last(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(text("SELECT max(id) FROM submissions")).scalar_one())


def dialing_delay(engine: Engine, submission: int, timeout: float = 120.0) -> float:
    """Seconds from the submission's acceptance to its first call's dialling (bench/warmup.py's
    figure, read through SQLAlchemy so that PostgreSQL serves too)."""
    query = text(
        "SELECT s.created_at, a.dialing_at FROM submissions s JOIN jobs j ON j.submission_id = "
        "s.id JOIN attempts a ON a.job_id = j.id WHERE s.id = :s AND a.dialing_at IS NOT NULL "
        "ORDER BY a.id LIMIT 1"
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            row = conn.execute(query, {"s": submission}).first()
        if row:
            return (_dt(row[1]) - _dt(row[0])).total_seconds()
        time.sleep(0.02)
    raise RuntimeError(f"submission {submission} never dialled")


def wait_finished(engine: Engine, submission: int, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    query = text("SELECT count(*) FROM jobs WHERE submission_id = :s AND finished_at IS NULL")
    while time.monotonic() < deadline:
        with engine.connect() as conn:
            if conn.execute(query, {"s": submission}).scalar_one() == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"submission {submission} did not finish")


def _dt(value: Any) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def measure_dispatch(site: Site, engine: Engine, pdf: bytes, faxes: int) -> dict[str, Any]:
    """(b): accepted → dialing, one fax at a time, with the whole pipeline running."""
    delays: list[float] = []
    with serving(site, workers=True) as server, httpx.Client(timeout=60) as client:
        time.sleep(12.0)  # the render workers' warm-up (bench/warmup.py, docs/benchmarks.md)
        for i in range(faxes + 1):
            answer = client.post(
                f"{server.base}/faxapi.asp",
                data={"Username": USER, "Password": PASSWORD, "Recipient": "+15550123456|Bench"},
                files={
                    "Attachment": ("letter.pdf", pdf + f"\n% d{i}\n".encode(), "application/pdf")
                },
            )
            if answer.text != "0":
                raise RuntimeError(f"refused: {answer.status_code} {answer.text!r}")
            sid = submission_of_last(engine)
            delay = dialing_delay(engine, sid)
            wait_finished(engine, sid)
            time.sleep(2.0)  # the report goes out, the line is idle again
            if i:  # the first one warms the path (argon2, first render, first call)
                delays.append(delay)
        up = server.up_s
    return {"median_s": statistics.median(delays), "all_s": delays, "serve_up_s": up}


def measure_http(site: Site, pdf: bytes, n: int, token: str, gets: int) -> dict[str, Any]:
    """(a), (d), (e) on one `serve --no-workers`."""
    out: dict[str, Any] = {}
    with serving(site, workers=False) as server:
        warm = [request_bytes(pdf, ["5557000"], -i) for i in range(1, 41)]
        asyncio.run(_load(server.port, warm, 4))
        reqs = [request_bytes(pdf, ["5557000"], i) for i in range(n)]
        lat, wall = asyncio.run(_load(server.port, reqs, 8))
        out["intake"] = summarize(lat, wall)
        get = (
            f"GET /api/v1/faxes?limit=50 HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {token}\r\n\r\n"
        ).encode()

        def listed(status: int, body: bytes) -> bool:
            return status == 200 and body.startswith(b'{"items":[{')

        asyncio.run(_load(server.port, [get] * 4, 2, listed))
        lat, wall = asyncio.run(_load(server.port, [get] * gets, 4, listed))
        out["api_list"] = summarize(lat, wall)
        out["console"] = measure_console(server, gets)
    return out


def measure_console(server: Server, gets: int) -> dict[str, float]:
    """(e): the outbox page, signed in through the form."""
    import re

    csrf = re.compile(r'name="csrf" value="([^"]+)"')
    with httpx.Client(base_url=server.base, timeout=60, follow_redirects=True) as client:
        token = csrf.search(client.get("/login").text)
        assert token, "no CSRF token on /login"
        answer = client.post(
            "/login",
            data={"username": USER, "password": PASSWORD, "csrf": token.group(1)},
            headers={"Origin": server.base},
        )
        if answer.status_code != 200 or "Outbox" not in answer.text:
            raise RuntimeError(f"console sign-in failed: {answer.status_code}")
        for _ in range(3):
            client.get("/")
        lat: list[float] = []
        t0 = time.perf_counter()
        for _ in range(gets):
            t = time.perf_counter()
            page = client.get("/")
            lat.append(time.perf_counter() - t)
            if page.status_code != 200 or "<table" not in page.text:
                raise RuntimeError(f"outbox page: {page.status_code}")
        return summarize(lat, time.perf_counter() - t0)


def measure_cli(site: Site, runs: int) -> dict[str, float]:
    """(c): `faxout jobs list` wall time, a fresh process each run (one untimed first)."""
    site.cli("jobs", "list")
    times = []
    for _ in range(runs):
        t0 = time.perf_counter()
        out = site.cli("jobs", "list")
        times.append(time.perf_counter() - t0)
        assert "JOB" in out
    return {"median_s": statistics.median(times), "min_s": min(times)}


# ---- the statements behind the figures -----------------------------------------------------


@dataclass
class Captured:
    label: str
    statement: str
    params: Any
    seconds: float = 0.0


def capture(engine: Engine) -> Callable[[str, Callable[[], object]], list[Captured]]:
    """A runner that calls faxout's own function and returns the statements it executed."""
    found: list[Captured] = []

    @event.listens_for(engine, "before_cursor_execute")
    def before(conn: Any, cursor: Any, statement: str, params: Any, ctx: Any, many: bool) -> None:
        if statement.lstrip().upper().startswith(("SELECT", "UPDATE", "WITH", "DELETE")):
            found.append(Captured("", statement, params))

    def run(label: str, fn: Callable[[], object]) -> list[Captured]:
        found.clear()
        fn()
        for c in found:
            c.label = label
        return list(found)

    return run


def statements(url: str) -> list[Captured]:
    """Run the functions behind (b)-(e) in this process against ``url``; their statements."""
    from faxout.clock import SystemClock
    from faxout.db.backlog import backlog
    from faxout.db.engine import make_engine, reading
    from faxout.db.tables import outbox, webhook_deliveries
    from faxout.jobs.repo import JobRepo
    from faxout.report.outbox import Outbox
    from faxout.report.settings import Report
    from faxout.schedule import dispatcher, lines
    from faxout.schedule.reconciler import Reconciler

    engine = make_engine(url)
    run = capture(engine)
    repo = JobRepo(engine)
    now = datetime.now(UTC)
    got: list[Captured] = []
    got += run("(c) jobs list", lambda: repo.list_jobs(limit=50))
    page: list[int] = []
    got += run("(d) api list ids", lambda: page.extend(repo.submission_ids(USER, limit=51)))
    subs: list[Any] = []
    got += run("(d) api list page", lambda: subs.extend(repo.get_submissions(page[:50])))
    job_ids = [j.id for s in subs for j in s.jobs]
    got += run("(d) api list attempts", lambda: repo.attempts_of(job_ids))
    got += run("(e) console outbox ids", lambda: repo.submission_ids(USER, limit=26))
    got += run("(b) to render", lambda: dispatcher.submissions_to_render(engine))
    got += run("(b) queue due", lambda: dispatcher.queue_due(engine, now, transport="simline"))
    got += run("(b) requeue lost", lambda: dispatcher.requeue_lost(engine, now, 120.0))
    got += run("(b) expire killed", lambda: dispatcher.expire_killed(engine, now))
    got += run("(b) settle", lambda: dispatcher.settle_submissions(engine, now))
    rec = Reconciler(engine, redial_on_unknown=False)
    got += run("(b) reconciler", lambda: rec.run_once(now))
    box = Outbox(engine, None, Report(), None, clock=SystemClock())  # type: ignore[arg-type]
    got += run("(b) report sweep", lambda: box.sweep(now))
    got += run("(b) report due", lambda: box.rows.due(now, 50))

    def backlogs() -> None:
        with reading(engine) as conn:
            backlog(conn, outbox)
            backlog(conn, webhook_deliveries)
            lines.free_count(conn, "simline", now)

    got += run("(b) backlog, lines", backlogs)
    engine.dispose()
    timed(url, got)
    return got


def timed(url: str, captured: list[Captured], runs: int = 3) -> None:
    """Each SELECT's time, executed and every row fetched (best of ``runs``), on a plain
    connection: what the statement costs, without the function around it."""
    engine = create_engine(url)
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        for c in captured:
            if not c.statement.lstrip().upper().startswith(("SELECT", "WITH")):
                continue
            best = float("inf")
            for _ in range(runs):
                cur = raw.cursor()
                t0 = time.perf_counter()
                cur.execute(c.statement, c.params)
                cur.fetchall()
                best = min(best, time.perf_counter() - t0)
                cur.close()
            c.seconds = best
        raw.rollback()
    engine.dispose()


def plans(url: str, captured: list[Captured]) -> list[tuple[Captured, list[str]]]:
    """EXPLAIN QUERY PLAN (SQLite) / EXPLAIN (PostgreSQL) of each captured statement."""
    engine = create_engine(url)
    sqlite = engine.dialect.name == "sqlite"
    out = []
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection
        assert raw is not None
        seen: set[str] = set()
        for c in captured:
            if c.statement in seen:
                continue
            seen.add(c.statement)
            cur = raw.cursor()
            if sqlite:
                try:
                    cur.execute("EXPLAIN QUERY PLAN " + c.statement, c.params)
                except Exception as exc:
                    say(f"EXPLAIN failed: {c.label}: {exc!r}: {c.statement} {c.params}")
                    raise
                rows = [f"{r[0]}:{r[1]} {r[3]}" for r in cur.fetchall()]
            else:
                cur.execute("EXPLAIN " + c.statement, c.params)
                rows = [r[0] for r in cur.fetchall()]
            cur.close()
            out.append((c, rows))
        if not sqlite:
            raw.rollback()
    engine.dispose()
    return out


# ---- the history ---------------------------------------------------------------------------


class Dialect:
    """The few SQL spellings that differ."""

    def __init__(self, name: str) -> None:
        self.pg = name == "postgresql"

    def series(self, lo: int, hi: int) -> str:
        """A derived table ``g(x)`` of lo..hi."""
        if self.pg:
            return f"generate_series({lo}::bigint, {hi}::bigint) AS g(x)"
        return (
            f"(WITH RECURSIVE r(x) AS (SELECT {lo} UNION ALL SELECT x + 1 FROM r WHERE x < {hi}) "
            "SELECT x FROM r) AS g"
        )

    def ts(self, micros: str) -> str:
        """A UTC timestamp from integer microseconds since the epoch, as faxout stores it."""
        if self.pg:
            return f"to_timestamp(({micros}) / 1000000.0)"
        return (
            f"(strftime('%Y-%m-%d %H:%M:%S', ({micros}) / 1000000, 'unixepoch') || "
            f"printf('.%06d', ({micros}) % 1000000))"
        )

    def hex16(self, n: str) -> str:
        """``n`` as 16 hex digits (a request id)."""
        return f"lpad(to_hex({n}), 16, '0')" if self.pg else f"printf('%016x', {n})"

    def key(self, prefix: str, n: str) -> str:
        """A distinct content-addressed-looking key per ``n``."""
        if self.pg:
            return f"'sha256/{prefix}/' || lpad(to_hex({n}), 64, '0')"
        return f"printf('sha256/{prefix}/%064x', {n})"

    def pad4(self, n: str) -> str:
        """``n`` as four digits."""
        return f"lpad(({n})::text, 4, '0')" if self.pg else f"printf('%04d', {n})"

    def true(self, value: bool) -> str:
        return ("true" if value else "false") if self.pg else ("1" if value else "0")


# Job j (1-based, within the history) belongs to submission sub(j): 20 submissions per block
# of 22 jobs, the 20th with three recipients.
SUB = "(((x - 1) / 22) * 20 + CASE WHEN (x - 1) % 22 < 19 THEN (x - 1) % 22 + 1 ELSE 20 END)"
SEQ = "(CASE WHEN (x - 1) % 22 < 19 THEN 1 ELSE (x - 1) % 22 - 18 END)"
# A job's fate: a hash of its number, 0..999 (< 900 delivered, < 960 failed, else canceled).
FATE = "((x * 7919 + 104729) % 1000)"


def subs_of(jobs_n: int) -> int:
    x = jobs_n
    return ((x - 1) // 22) * 20 + ((x - 1) % 22 + 1 if (x - 1) % 22 < 19 else 20)


@dataclass
class Template:
    """What a real finished fax left (read from the empty half's first fax)."""

    message: bytes
    recipient: str
    doc_size: int


def template_of(engine: Engine) -> Template:
    with engine.connect() as conn:
        msg = conn.execute(
            text("SELECT message, recipient FROM outbox WHERE state = 'sent' ORDER BY id LIMIT 1")
        ).first()
        size = conn.execute(text("SELECT size FROM documents ORDER BY id LIMIT 1")).scalar_one()
    if msg is None:
        raise RuntimeError("the empty half left no sent report to copy")
    return Template(bytes(msg[0]), str(msg[1]), int(size))


def clear_faxes(engine: Engine) -> None:
    """Delete every fax (the empty half's own), keeping accounts and tokens."""
    with engine.begin() as conn:
        for table in ("outbox", "attempts", "jobs", "documents", "submission_labels"):
            conn.execute(text(f"DELETE FROM {table}"))
        conn.execute(text("DELETE FROM idempotency_keys"))
        conn.execute(text("DELETE FROM webhook_deliveries"))
        conn.execute(text("DELETE FROM submissions"))


def clear_accepted(engine: Engine) -> None:
    """Delete the faxes intake accepted (never sent: the server had no workers)."""
    with engine.begin() as conn:
        some = "(SELECT id FROM submissions WHERE state = 'accepted')"
        for table in ("outbox", "documents", "submission_labels", "webhook_deliveries"):
            conn.execute(text(f"DELETE FROM {table} WHERE submission_id IN {some}"))
        conn.execute(text(f"DELETE FROM jobs WHERE submission_id IN {some}"))
        conn.execute(text("DELETE FROM submissions WHERE state = 'accepted'"))
    engine.dispose()


def fill(engine: Engine, n_jobs: int, tpl: Template) -> dict[str, float]:
    """Write ``n_jobs`` finished jobs, their submissions, documents, attempts and reports."""
    d = Dialect(engine.dialect.name)
    with engine.connect() as conn:
        ids = dict(
            conn.execute(
                text("SELECT username, id FROM accounts WHERE username IN :u").bindparams(
                    bindparam("u", expanding=True)
                ),
                {"u": [USER, *OTHERS]},
            ).all()
        )
    acct = [ids[USER], ids[USER], *(ids[u] for u in OTHERS)]  # two fifths are the bench's
    n_subs = subs_of(n_jobs)
    now_us = int(datetime.now(UTC).timestamp() * 1e6) - 3_600 * 10**6  # an hour ago at the end
    span_us = 365 * 86_400 * 10**6
    step = span_us // max(n_subs, 1)
    t0_us = now_us - span_us
    sub_t = f"({t0_us} + s * {step} + ((s * 7877) % 60000) * 1000)"  # s: the submission number
    case_acct = "CASE s % 5 " + " ".join(f"WHEN {i} THEN {a}" for i, a in enumerate(acct)) + " END"
    started = time.perf_counter()
    stamps: dict[str, float] = {}

    def chunks(total: int) -> Iterator[tuple[int, int]]:
        for lo in range(1, total + 1, CHUNK):
            yield lo, min(total, lo + CHUNK - 1)

    f = d.ts
    # submissions and their documents and reports (one per submission)
    for lo, hi in chunks(n_subs):
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO submissions (id, account_id, state, resolution, cover_page, "
                    "cover_text, send_at, sendtime_raw, notes, request_id, client_addr, "
                    "created_at, rendered_key, pages, render_count, render_error, "
                    "render_warnings, render_diagnostic, lease_owner, lease_until, updated_at, "
                    f"purged_at) SELECT s, {case_acct}, 'done', 'high', 'default', '', "
                    f"{f(sub_t)}, NULL, '[]', {d.hex16('s')}, '127.0.0.1', {f(sub_t)}, "
                    f"{d.key('pg', 's')}, 1 + s % 3, 1, NULL, '[]', '', NULL, NULL, "
                    f"{f(sub_t + ' + 95000000')}, NULL FROM (SELECT x AS s FROM "
                    f"{d.series(lo, hi)}) AS q"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO documents (id, submission_id, seq, filename, content_type, "
                    f"blob_key, size) SELECT x, x, 1, 'letter.pdf', 'application/pdf', "
                    f"{d.key('dc', 'x')}, {tpl.doc_size} + x % 5000 FROM {d.series(lo, hi)}"
                )
            )
            conn.execute(
                text(
                    "INSERT INTO outbox (id, submission_id, kind, ref, state, message_id, "
                    "recipient, message, tries, next_at, last_error, lease_owner, lease_until, "
                    "created_at, updated_at, sent_at) SELECT s, s, 'final', '', 'sent', "
                    "'<' || s || '.final@localhost>', :rcpt, :msg, 1, NULL, '', NULL, NULL, "
                    f"{f(sub_t + ' + 95000000')}, {f(sub_t + ' + 95200000')}, "
                    f"{f(sub_t + ' + 95200000')} FROM (SELECT x AS s FROM "
                    f"{d.series(lo, hi)}) AS q"
                ),
                {"rcpt": tpl.recipient, "msg": tpl.message},
            )
        say(f"fill: submissions {hi:,}/{n_subs:,} ({time.perf_counter() - started:.0f} s)")
    stamps["submissions_s"] = time.perf_counter() - started
    # jobs: done (1 call, or a busy dial then the call), failed (12 busy dials), canceled
    dials = f"CASE WHEN {FATE} < 90 THEN 2 WHEN {FATE} < 900 THEN 1 WHEN {FATE} < 960 THEN 12 ELSE 0 END"
    job_t = f"({t0_us} + {SUB} * {step} + (({SUB} * 7877) % 60000) * 1000)"
    fin = f"CASE WHEN {FATE} < 90 THEN 185000000 WHEN {FATE} < 900 THEN 5000000 WHEN {FATE} < 960 THEN 3300000000 ELSE 60000000 END"
    for lo, hi in chunks(n_jobs):
        with engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO jobs (id, submission_id, seq, number, name, state, send_at, "
                    "next_attempt_at, dials, tries, version, created_at, updated_at, kill_at, "
                    "cover_key, resume_page, pages_confirmed, reason, queued_at, lease_owner, "
                    "lease_until, finished_at, paper, rendered_key, pages) SELECT x, "
                    f"{SUB}, {SEQ}, '+1650555' || {d.pad4('x % 10000')}, "
                    f"'Recipient ' || (x % 977), CASE WHEN {FATE} < 900 THEN 'done' "
                    f"WHEN {FATE} < 960 THEN 'failed' ELSE 'canceled' END, {f(job_t)}, NULL, "
                    f"{dials}, CASE WHEN {FATE} < 900 THEN 1 ELSE 0 END, 6, {f(job_t)}, "
                    f"{f(job_t + ' + ' + fin)}, {f(job_t + ' + 10800000000')}, "
                    f"{d.key('cv', 'x')}, 1, CASE WHEN {FATE} < 900 THEN 1 + {SUB} % 3 "
                    f"ELSE 0 END, CASE WHEN {FATE} < 900 THEN 'sent' WHEN {FATE} < 960 THEN "
                    "'max dials reached: 12 of 12 calls (busy)' ELSE 'canceled by the "
                    f"operator' END, {f(job_t + ' + 1800000')}, NULL, NULL, "
                    f"{f(job_t + ' + ' + fin)}, 'letter', NULL, NULL FROM {d.series(lo, hi)}"
                )
            )
        say(f"fill: jobs {hi:,}/{n_jobs:,} ({time.perf_counter() - started:.0f} s)")
    stamps["jobs_s"] = time.perf_counter() - started
    # attempts: attempt k of job x, k = 1..dials(x); the last of a delivered job is the call
    next_id = 0
    for lo, hi in chunks(n_jobs):
        with engine.begin() as conn:
            series = (
                f"(SELECT x, k FROM {d.series(lo, hi)} CROSS JOIN "
                f"(SELECT x AS k FROM {d.series(1, 12)}) AS kk) AS q"
            )
            ok = f"({FATE} < 900 AND k = {dials})"
            at = f"({job_t} + 2000000 + (k - 1) * 300000000)"
            conn.execute(
                text(
                    "INSERT INTO attempts (id, job_id, attempt_no, phase, worker, transport, "
                    "line_no, first_page, outcome, t30_code, t30_text, pages_sent, "
                    "pages_confirmed, pages_total, modem, bit_rate, ecm, compression, "
                    "remote_csid, line_seconds, wall_seconds, detail, claimed_at, dialing_at, "
                    f"finished_at) SELECT {next_id} + (x - {lo}) * 12 + k, x, k, 'finished', "
                    f"'vm:1000:transmit:4026531836', 'simline', 1 + x % 4, 1, CASE WHEN {ok} "
                    f"THEN 'ok' ELSE 'busy' END, CASE WHEN {ok} THEN 0 END, CASE WHEN {ok} "
                    f"THEN 'OK' END, CASE WHEN {ok} THEN 2 ELSE 0 END, CASE WHEN {ok} THEN 2 "
                    f"ELSE 0 END, 2, CASE WHEN {ok} THEN 'V.17' END, CASE WHEN {ok} THEN "
                    f"14400 END, CASE WHEN {ok} THEN {d.true(True)} END, CASE WHEN {ok} THEN "
                    f"'mmr' END, CASE WHEN {ok} THEN number END, CASE WHEN {ok} THEN 40.4 ELSE "
                    f"0.0 END, CASE WHEN {ok} THEN 0.25 ELSE 0.01 END, '', {f(at)}, "
                    f"{f(at + ' + 1500000')}, {f(at + ' + 3000000')} FROM {series} JOIN jobs "
                    f"ON jobs.id = q.x WHERE k <= {dials}"
                )
            )
        next_id += (hi - lo + 1) * 12
        say(f"fill: attempts of jobs {hi:,}/{n_jobs:,} ({time.perf_counter() - started:.0f} s)")
    stamps["attempts_s"] = time.perf_counter() - started
    with engine.begin() as conn:
        if d.pg:
            for t in ("submissions", "documents", "outbox", "jobs", "attempts"):
                conn.execute(
                    text(f"SELECT setval(pg_get_serial_sequence('{t}', 'id'), max(id)) FROM {t}")
                )
    if d.pg:  # autovacuum is off on the private server; a real one would have analysed
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
    stamps["total_s"] = time.perf_counter() - started
    return stamps


def counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            t: int(conn.execute(text(f"SELECT count(*) FROM {t}")).scalar_one())
            for t in ("submissions", "documents", "jobs", "attempts", "outbox")
        }


# ---- the run -------------------------------------------------------------------------------


def half(
    site: Site, engine: Engine, pdf: bytes, token: str, args: argparse.Namespace
) -> dict[str, Any]:
    r: dict[str, Any] = {"load": os.getloadavg()[0]}
    say("(b) dispatch: the whole pipeline, one fax at a time…")
    r["dispatch"] = measure_dispatch(site, engine, pdf, args.faxes)
    # faxout's make_engine opens and closes the SQLite file (its mode): a close drops every
    # POSIX lock this process holds on it, so no other connection of ours may be open then.
    engine.dispose()
    r["statements"] = statements(site.db_url)
    say(f"(a) intake {args.n} POSTs, (d) API list, (e) console outbox…")
    r.update(measure_http(site, pdf, args.n, token, args.gets))
    say("(c) faxout jobs list…")
    r["cli"] = measure_cli(site, args.runs)
    r["load_after"] = os.getloadavg()[0]
    return r


def bench(args: argparse.Namespace, work: Path, db_url: str) -> dict[str, Any]:
    site = Site(work / "data", db_url)
    site.data_dir.mkdir()
    site.cli("migrate")
    for user in (USER, *OTHERS):
        site.cli(
            "user", "add", user, "--email", "b@example.com", "--password-stdin", stdin=PASSWORD
        )
    token = site.cli("token", "create", USER).strip().splitlines()[-1].split()[-1]
    engine = create_engine(db_url)
    pdf = CORPUS_PDF.read_bytes()
    results: dict[str, Any] = {"jobs": args.jobs, "backend": engine.dialect.name}
    say(f"EMPTY database ({engine.dialect.name})")
    results["empty"] = half(site, engine, pdf, token, args)
    tpl = template_of(engine)
    clear_faxes(engine)
    say(f"filling {args.jobs:,} finished jobs…")
    results["fill"] = fill(engine, args.jobs, tpl)
    results["rows"] = counts(engine)
    say(f"rows: {results['rows']}")
    say("FILLED database")
    results["filled"] = half(site, engine, pdf, token, args)
    engine.dispose()
    results["plans"] = [
        {"label": c.label, "sql": c.statement, "plan": rows}
        for c, rows in plans(db_url, results["filled"]["statements"])
    ]
    if args.index:
        clear_accepted(engine)  # the intake's faxes would otherwise be sent in (b)
        with engine.begin() as conn:
            for ddl in args.index:
                say(f"by hand: {ddl}")
                conn.execute(text(ddl))
        if engine.dialect.name == "postgresql":
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text("ANALYZE"))
        say("FILLED database with the index(es) made by hand")
        results["indexed"] = half(site, engine, pdf, token, args)
        results["index"] = args.index
    if args.index:
        engine.dispose()
        results["indexed_plans"] = [
            {"label": c.label, "sql": c.statement, "plan": rows}
            for c, rows in plans(db_url, results["indexed"]["statements"])
        ]
    for key in ("empty", "filled", "indexed"):
        if key not in results:
            continue
        results[key]["statements"] = [
            {"label": c.label, "sql": c.statement, "ms": c.seconds * 1000}
            for c in results[key]["statements"]
        ]
    engine.dispose()
    return results


def _figures(h: dict[str, Any]) -> list[tuple[str, float, str, float]]:
    """(name, value, unit, cost) of one half: cost is time per operation (1/rate for rates)."""
    i, a, o = h["intake"], h["api_list"], h["console"]
    d, c = h["dispatch"]["median_s"], h["cli"]["median_s"]
    return [
        ("(a) intake, submissions/s (cost 1/rate)", i["rate"], "/s", 1 / i["rate"]),
        ("(a) intake p50 ms", i["p50"] * 1e3, "ms", i["p50"]),
        ("(b) accepted → dialing, median s", d, " s", d),
        ("(c) faxout jobs list, median s", c, " s", c),
        ("(d) GET /api/v1/faxes?limit=50 req/s", a["rate"], "/s", 1 / a["rate"]),
        ("(d) GET /api/v1/faxes p50 ms", a["p50"] * 1e3, "ms", a["p50"]),
        ("(e) console outbox GET / req/s", o["rate"], "/s", 1 / o["rate"]),
        ("(e) console outbox GET / p50 ms", o["p50"] * 1e3, "ms", o["p50"]),
    ]


def report(r: dict[str, Any]) -> None:
    halves = [("empty", r["empty"]), ("filled", r["filled"])]
    if "indexed" in r:
        halves.append(("+index", r["indexed"]))
    print(
        f"\nHistory benchmark on {r['backend']}: {r['jobs']:,} finished jobs "
        f"({r['rows']['submissions']:,} submissions, {r['rows']['attempts']:,} attempts, "
        f"{r['rows']['outbox']:,} reports); filled in {r['fill']['total_s']:.0f} s"
    )
    for name, h in halves:
        print(
            f"load average, {name} half: {h['load']:.2f} → {h['load_after']:.2f}; serve start → "
            f"/healthz {h['dispatch']['serve_up_s']:.2f} s; accepted → dialing runs "
            f"{[round(x, 2) for x in h['dispatch']['all_s']]}"
        )
    for ddl in r.get("index", []):
        print(f"+index: {ddl}")
    head = f"{'figure':<40} {'empty':>11} {'filled':>11} {'filled/empty':>12}"
    if len(halves) == 3:
        head += f" {'+index':>11} {'+index/empty':>12}"
    print(head)
    cols = [_figures(h) for _, h in halves]
    for k, (name, value, unit, cost) in enumerate(cols[0]):
        line = f"{name:<40} {value:>9.2f}{unit}"
        for other in cols[1:]:
            ratio = other[k][3] / cost
            flag = " " if ratio <= 1.10 else "!"
            line += f" {other[k][1]:>9.2f}{unit} {ratio:>10.2f}x{flag}"
        print(line)
    print("(! : misses the 1.10 target; ratios are of the cost, above 1 is slower)")
    print("\nThe statements behind (b)-(e): ms (executed, all rows fetched, best of 3) empty →")
    print("filled, and the plan on the filled database")
    es = {(x["label"], x["sql"]): x["ms"] for x in r["empty"]["statements"]}
    fs = {(x["label"], x["sql"]): x["ms"] for x in r["filled"]["statements"]}
    ips = {(x["label"], x["sql"]): x["plan"] for x in r.get("indexed_plans", [])}
    ims = {(x["label"], x["sql"]): x["ms"] for x in r.get("indexed", {}).get("statements", [])}
    for p in r["plans"]:
        key = (p["label"], p["sql"])
        was = f"{es[key]:.2f}" if key in es else "-"
        sql = " ".join(p["sql"].split())
        print(f"\n-- {p['label']}: {was} → {fs.get(key, 0.0):.2f} ms\n{sql}")
        for line in p["plan"]:
            print(f"   {line}")
        if key in ips and ips[key] != p["plan"]:
            print(f"   with the index(es) made by hand: {ims.get(key, 0.0):.2f} ms")
            for line in ips[key]:
                print(f"   {line}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--jobs", type=int, default=1_000_000, help="finished jobs in the history")
    ap.add_argument("--quick", action="store_true", help="20,000 jobs, fewer requests")
    ap.add_argument("--postgres", action="store_true", help="a private PostgreSQL server")
    ap.add_argument("--n", type=int, default=300, help="FaxOut POSTs for (a)")
    ap.add_argument("--gets", type=int, default=100, help="GETs for (d) and (e)")
    ap.add_argument("--faxes", type=int, default=5, help="faxes timed for (b)")
    ap.add_argument("--runs", type=int, default=7, help="`faxout jobs list` runs for (c)")
    ap.add_argument(
        "--index",
        action="append",
        metavar="DDL",
        help="after the filled half, run DDL (CREATE INDEX …) and measure a third half",
    )
    ap.add_argument("--keep", metavar="DIR", help="work in DIR (new) and keep it")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    if args.quick:
        args.jobs = min(args.jobs, 20_000)
        args.n, args.gets, args.faxes, args.runs = 200, 50, 3, 5
    with contextlib.ExitStack() as stack:
        if args.keep:
            work = Path(args.keep)
            work.mkdir(parents=True)
        else:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="faxout-hist-")))
        if args.postgres:
            from tests.pgserver import PgServer

            pg = PgServer.start()
            try:
                db = pg.create_database("faxout")
                results = bench(args, work, pg.url(db))
            finally:
                pg.stop()
        else:
            results = bench(args, work, f"sqlite:///{work / 'data' / 'faxout.db'}")
    if args.json:
        print(json.dumps(results, indent=2, default=str))
    else:
        report(results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
