"""``faxout check``: can this node take and send faxes with the configuration it has?

Every configured component is tried for real (the database and its schema, the task queue, the
document store, the SMTP relay of delivery reports, the fax transport), then what this machine
must have installed. Each line names the component, what was found, and on failure what to do.
Nothing is created or sent on the way: a shared store that is not mounted is not made here, no
mail is sent, no fax is dialled. The checks read the settings only (no gateway is built: that
would create the local store's directories and stop at the first component that fails).
"""

from __future__ import annotations

import asyncio
import ctypes
import os
import shutil
import ssl
import sys
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

from sqlalchemy import text

from faxout import redact
from faxout.db import migrate
from faxout.db.engine import make_engine, shown_url, without_password
from faxout.errors import FaxoutError
from faxout.ops.settings import Settings
from faxout.report.settings import Smtp

TIMEOUT = 5.0  # seconds for each network probe (Redis, SMTP)
QUEUE_SCHEMES = ("redis://", "rediss://", "unix://")


@dataclass(frozen=True)
class Finding:
    """One verified item. ``setup``: failed for want of a system package (`make setup`)."""

    what: str
    ok: bool
    detail: str
    setup: bool = False


def _reason(exc: BaseException) -> str:
    """A library's error on one line, without SQLAlchemy's background link."""
    orig = getattr(exc, "orig", None)
    said = str(orig if isinstance(orig, BaseException) else exc) or exc.__class__.__name__
    return " ".join(said.split())[:400]


def _span(span: timedelta) -> str:
    """``3 days``, ``12 h``, ``90 min``."""
    seconds = int(span.total_seconds())
    if seconds % 86400 == 0:
        return f"{seconds // 86400} day{'s' if seconds != 86400 else ''}"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} h"
    return f"{seconds // 60} min" if seconds >= 60 else f"{seconds} s"


def _distributed(s: Settings) -> bool:
    return not s.db_url.startswith("sqlite")


# -- database ------------------------------------------------------------------------------


def _database(s: Settings) -> Finding:
    shown = shown_url(s.db_url)
    kind = "SQLite" if s.db_url.startswith("sqlite") else "PostgreSQL"
    fix = (
        "correct database_url (FAXOUT_DATABASE_URL)"
        if kind == "SQLite"
        else "start PostgreSQL or correct database_url (FAXOUT_DATABASE_URL); the role and the "
        "database must exist (docs/deployment.md, Starting it)"
    )
    try:
        engine = make_engine(s.db_url)
    except Exception as exc:
        said = without_password(_reason(exc), s.db_url)
        return Finding("database", False, f"{kind} {shown}: {said}: {fix}")
    try:
        with engine.connect() as conn:
            conn.execute(text("SELECT 1"))
        current, head = migrate.current_revision(engine), migrate.head_revision()
    except Exception as exc:
        said = without_password(_reason(exc), s.db_url)
        return Finding("database", False, f"{kind} {shown} does not answer ({said}): {fix}")
    finally:
        engine.dispose()
    if current != head:
        return Finding(
            "database",
            False,
            f"{kind} {shown}: schema at {current or 'nothing'}, needs {head}: run `faxout migrate` "
            "(once, from any node)",
        )
    return Finding("database", True, f"{kind} {shown} (schema {head})")


# -- task queue ----------------------------------------------------------------------------


def queue_check(s: Settings) -> Finding:
    """The task queue of ``s`` answers (Redis: PING; embedded: the queue file opens)."""
    url = s.queue
    shown = redact.shown_url(url)
    if url.startswith(QUEUE_SCHEMES):
        return _redis(url, shown)
    from faxout.taskqueue import TaskQueueError, open_queue

    try:
        queue = open_queue(url)
        try:
            waiting = queue.queue_size()
        finally:
            queue.close()
    except (FaxoutError, TaskQueueError, OSError) as exc:
        said = redact.without_secrets(str(exc), url)
        return Finding(
            "task queue", False, f"{said}: correct queue_url (FAXOUT_QUEUE_URL; redis://… or empty)"
        )
    where = url.removeprefix("sqlite:///")
    detail = f"embedded (huey on SQLite, {where}; {waiting} waiting): this machine only"
    if _distributed(s):
        detail += (
            "; with PostgreSQL and `faxout worker` on other machines, set queue_url = redis://…"
        )
    return Finding("task queue", True, detail)


def _redis(url: str, shown: str) -> Finding:
    import redis

    fix = "start Redis there or correct queue_url (FAXOUT_QUEUE_URL)"
    try:
        client = redis.Redis.from_url(
            url, socket_connect_timeout=TIMEOUT, socket_timeout=TIMEOUT, retry_on_timeout=False
        )
    except ValueError as exc:
        said = redact.without_secrets(str(exc), url)
        return Finding("task queue", False, f"queue_url {shown}: {said}: {fix}")
    try:
        client.ping()
    except redis.AuthenticationError as exc:
        said = redact.without_secrets(_reason(exc), url)
        return Finding(
            "task queue",
            False,
            f"Redis at {shown} refused the login ({said}): correct the password in queue_url",
        )
    except (redis.RedisError, OSError) as exc:
        said = redact.without_secrets(_reason(exc), url)
        return Finding("task queue", False, f"Redis at {shown} does not answer ({said}): {fix}")
    finally:
        client.close()
    return Finding("task queue", True, f"Redis at {shown} answers PING")


# -- document store ------------------------------------------------------------------------


def _store(s: Settings) -> Finding:
    from faxout.blobs.factory import open_store
    from faxout.blobs.local import LocalBlobStore

    url = s.store_url.strip()
    shown = redact.shown_url(url)
    fix = "correct store_url (FAXOUT_STORE_URL)"
    if not url:
        where = f"local directory {s.data_dir / 'documents'} (DATA_DIR/documents)"
    elif url.lower().startswith("file:"):
        root = Path(unquote(urlsplit(url).path))
        where = f"shared directory {root} ({shown})"
        if root.is_absolute() and not root.is_dir():
            # Not created here: an unmounted share would silently become a local directory.
            return Finding(
                "document store",
                False,
                f"{where} does not exist: mount it (every node must see the same directory) "
                f"or {fix}",
            )
    else:
        where = shown
    try:
        store = open_store(url, s.data_dir)
        store.check()
        if isinstance(store, LocalBlobStore) and not os.access(store.root, os.W_OK | os.X_OK):
            raise PermissionError(f"{store.root} is not writable by this user (uid {os.geteuid()})")
    except (FaxoutError, OSError) as exc:
        said = redact.without_secrets(str(exc), url)
        return Finding("document store", False, f"{where}: {said}: {fix}")
    if not url:
        detail = f"{where}, writable: this machine only"
        if _distributed(s):
            detail += "; with nodes on other machines, set store_url (s3://… or file:///shared)"
        return Finding("document store", True, detail)
    if isinstance(store, LocalBlobStore):
        return Finding("document store", True, f"{where}, writable")
    return Finding("document store", True, f"{where}: a probe object written and deleted")


# -- delivery reports ----------------------------------------------------------------------


async def _smtp_probe(smtp: Smtp) -> tuple[str | None, str]:
    """``(problem, what worked)``: connect, TLS as configured, EHLO, AUTH when a user is set,
    QUIT. No mail is sent."""
    import aiosmtplib

    tls = ssl.create_default_context(cafile=str(smtp.ca_file)) if smtp.ca_file else None
    client = aiosmtplib.SMTP(
        hostname=smtp.host,
        port=smtp.port_in_force,
        timeout=min(smtp.timeout, TIMEOUT),
        use_tls=smtp.security == "tls",
        start_tls=smtp.security == "starttls",
        validate_certs=smtp.validate_certs,
        tls_context=tls,
        username=smtp.username or None,
        password=smtp.password if smtp.username else None,
    )
    try:
        async with client:  # connect, TLS, AUTH; QUIT on the way out
            reply = await client.ehlo()
    except aiosmtplib.SMTPAuthenticationError as exc:
        return (
            f"it refused the login as {smtp.username} ({exc.code} {exc.message}): correct "
            "report.smtp.username and report.smtp.password",
            "",
        )
    except aiosmtplib.SMTPResponseException as exc:
        return f"it answered {exc.code} {exc.message}", ""
    except ssl.SSLError as exc:
        return (
            f"TLS failed ({exc}): check report.smtp.security, ca_file and validate_certs",
            "",
        )
    except (aiosmtplib.SMTPException, OSError) as exc:
        return f"cannot talk to it ({exc.__class__.__name__}: {exc})", ""
    said = f"EHLO answered {reply.code}"
    if smtp.security != "none":
        said += ", TLS" if smtp.security == "tls" else ", STARTTLS"
    if smtp.username:
        said += f", login as {smtp.username} accepted"
    return None, said


def _relay(s: Settings) -> Finding:
    r = s.report
    if not r.enabled:
        return Finding("report relay", True, "reports are off (report.enabled = false)")
    smtp = r.smtp
    if not smtp.host:
        outbox = s.data_dir / "outbox" / "new"
        return Finding(
            "report relay",
            True,
            "no SMTP relay configured (report.smtp.host): the dispatcher (`faxout dispatch`, or "
            f"`faxout serve` embedded) writes each report as an .eml file to {outbox} on its "
            "own machine instead of mailing it; set report.smtp.host to mail reports",
        )
    where = f"SMTP relay {smtp.host}:{smtp.port_in_force}"
    problem, said = asyncio.run(_smtp_probe(smtp))
    if problem is not None:
        problem = problem.replace(smtp.password, redact.HIDDEN) if smtp.password else problem
        return Finding(
            "report relay",
            False,
            f"{where}: {problem}; fix report.smtp or the relay. Until it answers, reports wait "
            "in the report outbox (in the database) and are retried for "
            f"report.give_up_after ({_span(r.give_up_after)}); `faxout report show ID` tells one's "
            "fate",
        )
    return Finding(
        "report relay", True, f"{where}: {said} (no mail sent); the dispatcher sends the reports"
    )


# -- transports ----------------------------------------------------------------------------


def _transport(s: Settings) -> Finding:
    t = s.transmit
    placed = "calls are placed by `faxout worker` (or `faxout serve` embedded)"
    if t.transport == "hylafax":
        from faxout.transmit.hylafax import check_hylafax

        cfg = t.hylafax
        problem = check_hylafax(cfg)
        where = f"HylaFAX hfaxd at {cfg.host}:{cfg.port} as {cfg.user}, {t.line_count()} lines"
        if problem is not None:
            password = cfg.password.get_secret_value()
            problem = problem.replace(password, redact.HIDDEN) if password else problem
            return Finding(
                "transport",
                False,
                f"{where}: {problem}: start hfaxd there, or correct transmit.hylafax "
                "(host, port, user, password; the server's etc/hosts.hfaxd must admit the user)",
            )
        return Finding("transport", True, f"{where}: login works; {placed}")
    if t.transport == "sip":
        from faxout.transmit.sip.check import check_sip

        problem, said = check_sip(t.sip)
        where = f"SIP via {t.sip.proxy}, {t.line_count()} lines"
        if problem is not None:
            return Finding(
                "transport",
                False,
                f"{where}: {problem} (transmit.sip: proxy, username, password, registration)",
            )
        return Finding("transport", True, f"{where}: {said}; {placed}")
    return Finding(
        "transport",
        True,
        f"simline (the simulated line, {t.lines} lines; faxes reach virtual fax machines only)",
    )


# -- this machine --------------------------------------------------------------------------


def _library(soname: str, package: str, purpose: str) -> Finding:
    try:
        ctypes.CDLL(soname)
    except OSError:
        return Finding(soname, False, f"missing ({purpose}): apt-get install {package}", True)
    return Finding(soname, True, purpose)


def _program(name: str, package: str, purpose: str) -> Finding:
    found = shutil.which(name)
    if not found:
        return Finding(name, False, f"missing ({purpose}): apt-get install {package}", True)
    return Finding(name, True, f"{found} ({purpose})")


def _covers(s: Settings) -> Finding:
    from faxout.errors import RenderError
    from faxout.render.cover import CoverSheet, cover_html

    where = s.coverpages_path
    own = sorted(p.stem for p in where.glob("*.html")) if where.is_dir() else []
    sample = CoverSheet(sender_name="A", recipient_name="B", pages=2, text="check")
    broken = []
    for name in own:
        try:
            cover_html(sample, name, where)
        except RenderError as exc:
            broken.append(str(exc))
    if broken:
        return Finding(
            "cover pages",
            False,
            "; ".join(broken) + " (faxes that ask for it get the Default cover page)",
        )
    return Finding(
        "cover pages", True, f"{len(own)} installed in {where}, besides the shipped ones"
    )


def _sandbox(s: Settings) -> Finding:
    from faxout.sandbox import cgroup, jail

    jail.set_enabled(s.render.sandbox)
    if not s.render.sandbox:
        return Finding("converter jail", True, "off (render.sandbox = false): NOT confined")
    problem = jail.problem()
    if problem is not None:
        return Finding("converter jail", False, problem, True)
    who = f"uid {jail.NOBODY}" if os.geteuid() == 0 else "this uid, in a user namespace"
    memory = "memory cgroup per jail" if cgroup.available() else "rlimits only (no cgroup)"
    return Finding("converter jail", True, f"bubblewrap, {who}, no network, {memory}")


def run_checks(settings: Settings) -> list[Finding]:
    """Every check, in the order they are shown."""
    python_ok = sys.version_info[:2] == (3, 11)
    return [
        Finding("python", python_ok, sys.version.split()[0] + ("" if python_ok else ": use 3.11")),
        _database(settings),
        queue_check(settings),
        _store(settings),
        _relay(settings),
        _transport(settings),
        _library("libspandsp.so.2", "libspandsp2", "fax engine"),
        _library("libtiff.so.6", "libtiff6", "fax pages"),
        _program("gs", "ghostscript", "PostScript and difficult PDFs"),
        _program("soffice", "libreoffice-core", "office documents"),
        _sandbox(settings),
        _covers(settings),
    ]


def show(findings: list[Finding], echo: Callable[[str], None], ok: str, fail: str) -> int:
    """Print one line per finding and the verdict; the exit status (1 when anything failed)."""
    for f in findings:
        echo(f"{ok if f.ok else fail} {f.what:<16} {f.detail}")
    failed = [f for f in findings if not f.ok]
    if not failed:
        echo("All good.")
        return 0
    names = ", ".join(f.what for f in failed)
    echo(f"{len(failed)} problem(s) ({names}): each FAIL line says what to do.")
    if any(f.setup for f in failed):
        echo("`make setup` (as root) installs the missing system packages.")
    return 1
