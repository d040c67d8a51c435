"""What ``serve``, ``worker`` and ``dispatch`` say when they start: which part of the topology
this process is, what it needs running elsewhere, and where its state lives (secrets hidden)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from faxout import redact
from faxout.db.engine import shown_url

if TYPE_CHECKING:
    from faxout.ops.settings import Settings


def _where(s: Settings) -> str:
    """Database, queue, documents and reports, as this process sees them."""
    database = "SQLite" if s.db_url.startswith("sqlite") else "PostgreSQL"
    queue = "Redis" if s.queue.startswith(("redis", "unix")) else "embedded"
    store = redact.shown_url(s.store_url) if s.store_url.strip() else str(s.data_dir / "documents")
    return (
        f"Database {database} {shown_url(s.db_url)}; queue {queue} {redact.shown_url(s.queue)}; "
        f"documents {store}"
    )


def _reports(s: Settings) -> str:
    r = s.report
    if not r.enabled:
        return "reports off"
    if r.smtp.host:
        return f"reports mailed through {r.smtp.host}:{r.smtp.port_in_force}"
    return f"no SMTP relay set: reports written to {s.data_dir / 'outbox' / 'new'}"


def _one_machine(s: Settings) -> str:
    """A warning when a piece of the state can only be shared on this machine."""
    local = [
        name
        for name, here in (
            ("the database", s.db_url.startswith("sqlite")),
            ("the queue", not s.queue.startswith(("redis", "unix"))),
            ("the documents", not s.store_url.strip()),
        )
        if here
    ]
    if not local:
        return ""
    return (
        f" {', '.join(local).capitalize()} live in {s.data_dir} on this machine: the other "
        "processes must run here, with the same data directory."
    )


def serve_banner(s: Settings, pipeline: bool) -> str:
    """The line after ``serve``'s endpoint line."""
    http = f"HTTP ({s.workers} process{'es' if s.workers > 1 else ''})"
    if pipeline:
        return (
            f"Embedded: this process runs everything: {http}, the workers (render, and transmit "
            f"over {s.transmit.transport}, {s.transmit.line_count()} lines), the dispatcher, the "
            f"reconciler and the report sender ({_reports(s)}). {_where(s)}."
        )
    return (
        f"API node (--no-workers): {http} only; it accepts faxes and sends none. Run "
        "`faxout worker` (renders and sends) and `faxout dispatch` (dispatches, reconciles, "
        f"sends the reports) on the same settings. {_where(s)}.{_one_machine(s)}"
    )


def pipeline_banner(s: Settings, consumers: bool) -> str:
    """``worker``'s or ``dispatch``'s start line (it begins ``faxout worker running`` or
    ``faxout dispatcher running``: scripts wait for that)."""
    if consumers:
        threads = s.runtime.consumer_threads or s.transmit.line_count() + 2
        head = (
            f"faxout worker running: task consumers only ({threads} threads: render, and "
            f"transmit over {s.transmit.transport}, {s.transmit.line_count()} lines in all). "
            "Faxes come from `faxout serve --no-workers`; `faxout dispatch` must run too."
        )
    else:
        head = (
            "faxout dispatcher running: dispatcher, reconciler and report sender "
            f"({_reports(s)}); it renders and sends nothing: `faxout worker` must run too."
        )
    return f"{head} {_where(s)}.{_one_machine(s)} Ctrl-C stops it."
