"""``GET /metrics``: Prometheus metrics, read from the database when Prometheus scrapes.

Whatever the database knows (jobs by state, the oldest waiting job, busy lines, attempt
outcomes and durations, the report backlog) is computed by ``DatabaseCollector`` at scrape time,
in one short read-only connection, so every process of every topology (``serve --workers N``,
API nodes, separate workers and dispatcher) reports the same gateway-wide figures. Only the
FaxOut replies are counted in the process that gave them (``faxout.intake.metrics``). What to
watch and example alert rules: docs/operations.md.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

import anyio
from fastapi import FastAPI
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    GC_COLLECTOR,
    PLATFORM_COLLECTOR,
    PROCESS_COLLECTOR,
    CollectorRegistry,
    generate_latest,
)
from prometheus_client.metrics_core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from sqlalchemy import Connection, Engine, Table, case, func, select
from sqlalchemy.sql.elements import ColumnElement
from starlette.requests import Request
from starlette.responses import Response

from faxout.clock import Clock
from faxout.db.backlog import backlog, disabled_endpoints
from faxout.db.engine import reading
from faxout.db.leases import LINE
from faxout.db.tables import attempts, jobs, lines, outbox, webhook_deliveries
from faxout.errors import FaxoutError
from faxout.intake.metrics import REPLIES
from faxout.jobs.model import AttemptPhase, JobState
from faxout.ops.settings import Metrics

log = logging.getLogger("faxout.metrics")
PATH = "/metrics"
# Seconds of a call: a one-page fax takes about a minute at 14400 bit/s, a long one many.
CALL_BUCKETS = (10.0, 30.0, 60.0, 120.0, 300.0, 600.0, 1200.0, 1800.0)
WAITING = (JobState.READY, JobState.QUEUED)


def _due() -> ColumnElement[datetime]:
    # When a ready job may be dialled (as faxout.schedule.dispatcher reads it).
    return func.coalesce(jobs.c.next_attempt_at, jobs.c.send_at)


def _age(now: datetime, then: datetime | None) -> float:
    return max(0.0, (now - then).total_seconds()) if then is not None else 0.0


class DatabaseCollector(Collector):
    """The gateway-wide metrics, read in one connection per scrape.

    Each query is a count over an index (``jobs.state``, ``outbox.state``), a handful of rows
    (``lines``, the waiting jobs) or one pass over ``attempts`` (finished attempts by outcome,
    with the duration buckets summed in the same pass).
    """

    def __init__(self, engine: Engine, clock: Clock) -> None:
        self._engine = engine
        self._clock = clock

    def collect(self) -> Iterable[Metric]:
        started = self._clock.monotonic()
        up = GaugeMetricFamily(
            "faxout_database_up", "1 if the database answered this scrape's queries, else 0"
        )
        try:
            with reading(self._engine) as conn:
                found = list(self._read(conn, self._clock.now()))
        except FaxoutError as exc:
            log.warning("metrics: database unavailable: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from found
        took = GaugeMetricFamily(
            "faxout_metrics_query_seconds", "How long this scrape's database queries took"
        )
        took.add_metric([], self._clock.monotonic() - started)
        yield took

    def _read(self, conn: Connection, now: datetime) -> Iterator[Metric]:
        yield from _jobs(conn, now)
        yield from _lines(conn, now)
        yield from _attempts(conn)
        yield from _reports(conn, now)
        yield from _webhooks(conn, now)


def _jobs(conn: Connection, now: datetime) -> Iterator[Metric]:
    query = select(jobs.c.state, func.count()).group_by(jobs.c.state)
    by_state: dict[str, int] = {state: count for state, count in conn.execute(query)}
    gauge = GaugeMetricFamily(
        "faxout_jobs", "Jobs (one per recipient) in each state, from the database", labels=["state"]
    )
    for state in JobState:
        gauge.add_metric([state.value], by_state.pop(state.value, 0))
    for other, count in sorted(by_state.items()):  # a state this version does not know
        gauge.add_metric([other], count)
    yield gauge

    count, oldest = conn.execute(
        select(func.count(), func.min(_due())).where(jobs.c.state.in_(WAITING), _due() <= now)
    ).one()
    waiting = GaugeMetricFamily(
        "faxout_jobs_due",
        "Jobs ready or queued whose time to dial has come (waiting for a line or a worker)",
    )
    waiting.add_metric([], count)
    yield waiting
    age = GaugeMetricFamily(
        "faxout_oldest_due_job_seconds",
        "How long the longest-waiting due job (ready or queued) has been past its dial time; "
        "0 if none waits",
    )
    age.add_metric([], _age(now, oldest))
    yield age


def _lines(conn: Connection, now: datetime) -> Iterator[Metric]:
    busy = func.sum(case((~LINE.free(now), 1), else_=0))
    rows = conn.execute(
        select(lines.c.transport, func.count(), busy).group_by(lines.c.transport)
    ).all()
    total = GaugeMetricFamily("faxout_lines", "Lines of each transport", labels=["transport"])
    held = GaugeMetricFamily(
        "faxout_lines_busy",
        "Lines of each transport leased for a call right now",
        labels=["transport"],
    )
    for transport, count, leased in rows:
        total.add_metric([transport], count)
        held.add_metric([transport], leased or 0)
    yield total
    yield held


def _buckets(column: Any) -> list[Any]:
    return [func.sum(case((column <= bound, 1), else_=0)) for bound in CALL_BUCKETS]


def _attempts(conn: Connection) -> Iterator[Metric]:
    timed = (attempts.c.line_seconds, attempts.c.wall_seconds)
    rows = conn.execute(
        select(
            attempts.c.transport,
            attempts.c.outcome,
            func.count(),
            *(x for column in timed for x in (func.count(column), func.sum(column))),
            *_buckets(attempts.c.line_seconds),
            *_buckets(attempts.c.wall_seconds),
        )
        .where(attempts.c.phase == AttemptPhase.FINISHED)
        .group_by(attempts.c.transport, attempts.c.outcome)
    ).all()
    outcomes = CounterMetricFamily(
        "faxout_attempts",
        "Finished call attempts by transport and outcome (ok, busy, no_answer, not_fax, "
        "rejected, partial, failed, invalid_number; abandoned: given up before dialling; "
        "unknown: the worker stopped mid-call), from the database",
        labels=["transport", "outcome"],
    )
    n = len(CALL_BUCKETS)
    sums: dict[str, list[float]] = {}  # transport → line count, sum, buckets; wall the same
    for row in rows:
        transport, outcome, count = row[0], row[1] or "none", row[2]
        outcomes.add_metric([transport, outcome], count)
        figures = [float(x or 0) for x in row[3:]]
        into = sums.setdefault(transport, [0.0] * len(figures))
        sums[transport] = [a + b for a, b in zip(into, figures, strict=True)]
    yield outcomes
    for index, (name, what) in enumerate(
        (
            ("faxout_call_line_seconds", "Time on the line of finished attempts (the call)"),
            ("faxout_call_wall_seconds", "Wall time of finished attempts, dialling included"),
        )
    ):
        histogram = HistogramMetricFamily(name, what + ", from the database", labels=["transport"])
        for transport, figures in sorted(sums.items()):
            count, total = figures[index * 2], figures[index * 2 + 1]
            start = 4 + index * n
            cumulative = figures[start : start + n]
            histogram.add_metric([transport], _cumulative(cumulative, count), sum_value=total)
        yield histogram


def _cumulative(counts: Sequence[float], total: float) -> list[tuple[str, float]]:
    buckets = [(repr(b), c) for b, c in zip(CALL_BUCKETS, counts, strict=True)]
    return [*buckets, ("+Inf", total)]


def _reports(conn: Connection, now: datetime) -> Iterator[Metric]:
    yield from _outbox(
        conn,
        now,
        outbox,
        ("faxout_report_backlog", "faxout_reports_failed"),
        (
            "Delivery reports not yet accepted by the mail relay (pending, retries included)",
            "Age of the oldest pending delivery report; 0 if none is pending",
            "Delivery reports given up on (the relay refused them, or never took them in time)",
        ),
    )


def _webhooks(conn: Connection, now: datetime) -> Iterator[Metric]:
    yield from _outbox(
        conn,
        now,
        webhook_deliveries,
        ("faxout_webhook_backlog", "faxout_webhooks_failed"),
        (
            "Webhook events not yet taken by their endpoint (pending, retries included)",
            "Age of the oldest pending webhook event; 0 if none is pending",
            "Webhook events given up on (after about three days, or the endpoint answered 410)",
        ),
    )
    disabled = GaugeMetricFamily(
        "faxout_webhook_endpoints_disabled", "Webhook endpoints disabled by a 410 Gone answer"
    )
    disabled.add_metric([], disabled_endpoints(conn))
    yield disabled


def _outbox(
    conn: Connection,
    now: datetime,
    table: Table,
    names: tuple[str, str],
    helps: tuple[str, str, str],
) -> Iterator[Metric]:
    """Backlog, age of its oldest row and rows given up on, of an outbox table."""
    found = backlog(conn, table)
    pending = GaugeMetricFamily(names[0], helps[0])
    pending.add_metric([], found.pending)
    yield pending
    age = GaugeMetricFamily(names[0] + "_oldest_seconds", helps[1])
    age.add_metric([], found.oldest_seconds(now))
    yield age
    failed = GaugeMetricFamily(names[1], helps[2])
    failed.add_metric([], found.failed)
    yield failed


def registry(engine: Engine, clock: Clock) -> CollectorRegistry:
    """What ``/metrics`` shows: the database's figures, this process's FaxOut replies, and
    prometheus_client's process, platform and garbage-collector metrics."""
    reg = CollectorRegistry(auto_describe=False)
    reg.register(DatabaseCollector(engine, clock))
    reg.register(REPLIES)
    for standard in (PROCESS_COLLECTOR, PLATFORM_COLLECTOR, GC_COLLECTOR):
        reg.register(standard)
    return reg


def mount_metrics(app: FastAPI, settings: Metrics, engine: Engine, clock: Clock) -> None:
    """Add ``GET /metrics`` to ``app`` (unless ``metrics.enabled`` is false)."""
    if not settings.enabled:
        return
    reg = registry(engine, clock)
    expected = f"Bearer {settings.token}".encode("ascii") if settings.token else None

    async def metrics(request: Request) -> Response:
        if expected is not None:
            given = request.headers.get("authorization", "").encode("latin-1")
            if not hmac.compare_digest(given, expected):
                return Response(
                    "unauthorized\n",
                    status_code=401,
                    media_type="text/plain",
                    headers={"WWW-Authenticate": 'Bearer realm="faxout metrics"'},
                )
        body = await anyio.to_thread.run_sync(generate_latest, reg)
        return Response(body, media_type=CONTENT_TYPE_LATEST)

    app.add_api_route(PATH, metrics, methods=["GET"], include_in_schema=False)
