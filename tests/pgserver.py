"""A private PostgreSQL server for tests, started from Debian's binaries and stopped by its PID.

``PgServer.start()`` runs ``initdb`` into a fresh temporary directory and starts ``postgres``
itself (no ``pg_ctl``, no cluster wrapper) on a free TCP port of 127.0.0.1, so the process we
``Popen`` is the postmaster and stopping it means signalling that one PID (``SIGINT`` = fast
shutdown). The cluster is throw-away: ``fsync``, ``full_page_writes`` and
``synchronous_commit`` are off, authentication is ``trust`` for the ``postgres`` role, and it
listens on 127.0.0.1 only (no Unix socket). The binaries are Debian's newest
``/usr/lib/postgresql/<major>/bin`` (``$FAXOUT_TEST_PG_BIN`` overrides).

PostgreSQL refuses to run as root. When the tests run as root (containers, CI), ``initdb`` and
``postgres`` run as the ``postgres`` system user (created by the Debian package) in a directory
that user owns under the system temp directory; otherwise they run as the current user.

If the test process dies without stopping the server (SIGKILL), the postmaster gets
``SIGQUIT`` from the kernel (``PR_SET_PDEATHSIG``), so no server outlives its test run.

Each test gets its own database, cloned from a template with ``CREATE DATABASE … TEMPLATE``
(a file copy: milliseconds) and dropped afterwards with ``WITH (FORCE)``.
"""

from __future__ import annotations

import contextlib
import ctypes
import itertools
import os
import pwd
import shutil
import signal
import stat
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import psycopg
from psycopg import sql

from tests.procs import free_port

PG_ROOT = Path("/usr/lib/postgresql")  # Debian: /usr/lib/postgresql/<major>/bin
SUPERUSER = "postgres"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
_PR_SET_PDEATHSIG = 1


class PgServerError(RuntimeError):
    """The test server could not be set up; the message carries the server log."""


def pg_bin() -> Path:
    """Where ``initdb`` and ``postgres`` are: ``$FAXOUT_TEST_PG_BIN`` or Debian's newest major."""
    override = os.environ.get("FAXOUT_TEST_PG_BIN")
    if override:
        return Path(override)
    majors = sorted(
        (p for p in PG_ROOT.glob("*/bin") if (p / "initdb").exists()),
        key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0,
    )
    if not majors:
        raise PgServerError(
            f"no PostgreSQL under {PG_ROOT}: install the Debian package 'postgresql' "
            "(listed in deps/apt.txt; `make setup`)"
        )
    return majors[-1]


def _base_parent(run_as: _RunAs) -> Path:
    """The temp directory, unless the server user could not reach into it: then /tmp."""
    tmp = Path(tempfile.gettempdir())
    if run_as.uid is None:
        return tmp
    for part in (tmp, *tmp.parents):
        st = part.stat()
        if not (st.st_mode & stat.S_IXOTH or st.st_uid == run_as.uid):
            return Path("/tmp")
    return tmp


def _die_with_parent() -> None:
    """In the child (after the uid change, which clears it): SIGQUIT when our parent exits.

    The kernel watches the *thread* that forked: start servers from the main thread (pytest
    fixtures do), or the server dies when a helper thread ends.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGQUIT, 0, 0, 0)


@dataclass
class _RunAs:
    """Who runs the server: ourselves, or the ``postgres`` system user when we are root."""

    uid: int | None = None
    gid: int | None = None

    @classmethod
    def for_current_user(cls) -> _RunAs:
        if os.geteuid() != 0:
            return cls()
        try:
            entry = pwd.getpwnam("postgres")
        except KeyError as err:
            raise PgServerError(
                "running as root and there is no 'postgres' user (apt install postgresql)"
            ) from err
        return cls(uid=entry.pw_uid, gid=entry.pw_gid)

    @property
    def extra_groups(self) -> list[int] | None:
        """Drop root's supplementary groups along with its uid."""
        return None if self.uid is None else []

    def own(self, path: Path) -> None:
        if self.uid is not None and self.gid is not None:
            os.chown(path, self.uid, self.gid)


@dataclass
class PgServer:
    """A running test server; ``url(dbname)`` names one of its databases."""

    base: Path
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    _names: Callable[[], int] = field(default_factory=lambda: itertools.count(1).__next__)

    host = "127.0.0.1"

    # ---- life cycle -------------------------------------------------------------------------

    @classmethod
    def start(cls, *, attempts: int = 5) -> PgServer:
        """initdb + start on a free port; retried when another process takes the port first."""
        bin_dir = pg_bin()
        run_as = _RunAs.for_current_user()
        base = Path(tempfile.mkdtemp(prefix="faxout-pg-", dir=_base_parent(run_as)))
        try:
            run_as.own(base)
            data = base / "data"
            log_path = base / "server.log"
            cls._initdb(bin_dir, run_as, data, log_path)
            for _ in range(attempts):
                server = cls._launch(bin_dir, run_as, base, data, log_path)
                if server is not None:
                    return server
            raise PgServerError(f"no free port after {attempts} attempts:\n{_tail(log_path)}")
        except BaseException:
            shutil.rmtree(base, ignore_errors=True)
            raise

    @staticmethod
    def _initdb(bin_dir: Path, run_as: _RunAs, data: Path, log_path: Path) -> None:
        with log_path.open("ab") as log:
            run_as.own(log_path)
            done = subprocess.run(
                [
                    str(bin_dir / "initdb"),
                    "--pgdata",
                    str(data),
                    "--username",
                    SUPERUSER,
                    "--auth",
                    "trust",
                    "--encoding",
                    "UTF8",
                    "--locale",
                    "C",
                    "--no-sync",
                    "--no-instructions",
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=data.parent,
                env=_server_env(),
                check=False,
                timeout=START_TIMEOUT,
                user=run_as.uid,
                group=run_as.gid,
                extra_groups=run_as.extra_groups,
                preexec_fn=_die_with_parent,
            )
        if done.returncode != 0:
            raise PgServerError(f"initdb failed ({done.returncode}):\n{_tail(log_path)}")

    @classmethod
    def _launch(
        cls, bin_dir: Path, run_as: _RunAs, base: Path, data: Path, log_path: Path
    ) -> PgServer | None:
        """Start the postmaster; None when the port was taken meanwhile (caller retries)."""
        port = free_port()
        settings = {
            "listen_addresses": "127.0.0.1",
            "port": str(port),
            "unix_socket_directories": "",  # TCP only: no socket path length limit to hit
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            "max_connections": "200",
            "shared_buffers": "32MB",
            "max_wal_size": "256MB",
            "checkpoint_timeout": "30min",
            "autovacuum": "off",
            # Parallel query uses /dev/shm, which containers often cap at 64 MB.
            "max_parallel_workers_per_gather": "0",
            "dynamic_shared_memory_type": "mmap",
            "log_min_messages": "warning",
            "log_min_error_statement": "panic",
            "timezone": "UTC",
        }
        args = [str(bin_dir / "postgres"), "-D", str(data)]
        for key, value in settings.items():
            args += ["-c", f"{key}={value}"]
        start = log_path.stat().st_size
        with log_path.open("ab") as log:
            proc = subprocess.Popen(
                args,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=base,
                env=_server_env(),
                start_new_session=True,  # Ctrl-C in the terminal reaches pytest, not the server
                user=run_as.uid,
                group=run_as.gid,
                extra_groups=run_as.extra_groups,
                preexec_fn=_die_with_parent,
            )
        server = cls(base=base, port=port, process=proc, log_path=log_path)
        deadline = time.monotonic() + START_TIMEOUT
        delay = 0.01
        while True:
            code = proc.poll()
            if code is not None:
                text = log_path.read_bytes()[start:].decode(errors="replace")
                if "could not bind" in text or "Address already in use" in text:
                    return None
                raise PgServerError(f"postgres exited with {code}:\n{text[-4000:]}")
            try:
                with psycopg.connect(server.dsn("postgres"), connect_timeout=2):
                    return server
            except psycopg.OperationalError:
                pass
            if time.monotonic() > deadline:
                server.stop()
                raise PgServerError(f"postgres not ready in {START_TIMEOUT}s:\n{_tail(log_path)}")
            time.sleep(delay)  # polling with a deadline, growing up to 0.2 s
            delay = min(delay * 2, 0.2)

    def stop(self) -> None:
        """Fast shutdown by PID (SIGINT), then immediate (SIGQUIT), then SIGKILL; rm the files."""
        try:
            for sig, wait in (
                (signal.SIGINT, STOP_TIMEOUT),
                (signal.SIGQUIT, 10.0),
                (signal.SIGKILL, 10.0),
            ):
                if self.process.poll() is not None:
                    break
                with contextlib.suppress(ProcessLookupError):
                    self.process.send_signal(sig)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    self.process.wait(timeout=wait)
        finally:
            shutil.rmtree(self.base, ignore_errors=True)

    # ---- databases --------------------------------------------------------------------------

    def dsn(self, dbname: str) -> str:
        """A libpq connection string (for psycopg directly)."""
        return f"host={self.host} port={self.port} user={SUPERUSER} dbname={dbname}"

    def url(self, dbname: str) -> str:
        """A SQLAlchemy URL with the psycopg 3 driver."""
        return f"postgresql+psycopg://{SUPERUSER}@{self.host}:{self.port}/{dbname}"

    def create_database(self, name: str | None = None, *, template: str = "template1") -> str:
        """Create a database (a copy of ``template``) and return its name.

        The template must have no open connections (dispose engines on it first).
        """
        dbname = name or f"t{os.getpid()}_{self._names()}"
        self._admin(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(dbname), sql.Identifier(template)
            )
        )
        return dbname

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting whoever is still connected to it."""
        self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def _admin(self, statement: sql.Composed) -> None:
        with psycopg.connect(self.dsn("postgres"), autocommit=True) as conn:
            conn.execute(statement)

    def log(self) -> str:
        """The server log so far (for failure messages)."""
        return _tail(self.log_path)


def _server_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["LC_ALL"] = "C"
    env["TZ"] = "UTC"
    return env


def _tail(path: Path, limit: int = 4000) -> str:
    try:
        return path.read_bytes()[-limit:].decode(errors="replace")
    except OSError as err:
        return f"(no log: {err})"
