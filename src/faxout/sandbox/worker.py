"""A long-lived jailed Python process that answers jobs over one socket.

Starting Python with numpy and Pillow costs a few hundred milliseconds, so work that comes
often (rendering a document, stamping a call's header) goes to warm processes instead of a
fresh one each time. Each runs in a jail of its own (:mod:`faxout.sandbox.jail`) with three
directories: ``/job/in`` (read-only; the current job's files are linked there), ``/job/out``
(its results, which the owner moves out) and ``/job/work`` (scratch). Both job directories are
emptied after every job, so a worker sees one job's files at a time; owners recycle a worker
after a number of jobs, and kill one that does not answer in time.

**Who starts them.** Every worker is started from one long-lived thread of faxout's (the
*spawner*): a jailed process is killed when the thread that forked it ends
(``PR_SET_PDEATHSIG`` is per thread), and the threads that happen to need a new worker
(a server's request threads, a queue consumer) may end at any time.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from faxout.errors import FaxoutError
from faxout.sandbox import jail

VIEW = Path("/job")  # where a jailed worker sees its directories
START_TIMEOUT_S = 60.0
Job = tuple[str, tuple[Any, ...], dict[str, Any]]  # function name, args, keyword args

_spawner = ThreadPoolExecutor(max_workers=1, thread_name_prefix="faxout-spawner")


def seen_as(host: Path, name: str) -> Path:
    """Where a worker sees ``host``, mounted as ``/job/<name>`` (itself when unjailed)."""
    return VIEW / name if jail.enabled() else host


def _python_inside(pid: int) -> int:
    """The host pid of the Python process inside the jail started as ``pid`` (bubblewrap
    forks its init and then the command); ``pid`` itself when nothing is jailed."""
    target = Path(sys.executable).resolve()
    frontier = [pid]
    while frontier:
        current = frontier.pop(0)
        with contextlib.suppress(OSError):
            if Path(f"/proc/{current}/exe").resolve() == target:
                return current
        with contextlib.suppress(OSError):
            for task in Path(f"/proc/{current}/task").iterdir():
                frontier += [int(c) for c in (task / "children").read_text().split()]
    return pid


class JailedWorker:
    """One warm process running ``python -m MODULE FD`` in its own jail under ``home``.

    ``mounts`` are further read-only (host path, name under ``/job``) pairs; ``error`` is the
    exception raised for breakage (the owner's layer's own: ``RenderError``,
    ``TransportError``). Not thread-safe: one job at a time, the owner's pool sees to it.
    """

    def __init__(
        self,
        home: Path,
        module: str,
        *,
        budget: jail.Budget,
        mounts: Sequence[tuple[Path, str]] = (),
        env: Mapping[str, str] | None = None,
        nested: bool = False,
        error: type[FaxoutError] = FaxoutError,
        what: str = "a worker",
    ) -> None:
        self.home = home
        self.jobs = 0
        self.pid = 0
        self.error, self.what = error, what
        self.inbox, self.outbox, scratch = home / "in", home / "out", home / "work"
        self.inbox.mkdir(mode=0o755)
        self.inbox.chmod(0o755)  # the jailed uid reads it; only faxout writes it
        self.view_in, self.view_out = seen_as(self.inbox, "in"), seen_as(self.outbox, "out")
        cell = jail.Jail(
            ro=[
                *((p, p) for p in jail.python_paths()),
                (self.inbox, VIEW / "in"),
                *((host, VIEW / name) for host, name in mounts),
            ],
            rw=[(self.outbox, VIEW / "out"), (scratch, VIEW / "work")],
            budget=budget,
            env={"TMPDIR": str(seen_as(scratch, "work")), **(env or {}), **jail.python_env()},
            nested=nested,
            proc=nested,  # of its own PID namespace: bubblewrap reads it to nest the jails
        )
        for path in (self.outbox, scratch):
            path.mkdir(mode=0o700)
            jail.prepare_rw(path, cell)
        ours, theirs = socket.socketpair()
        self.conn = Connection(ours.detach())
        child_fd = theirs.detach()
        self.log = (home / "worker.log").open("wb")
        plain_env = None if jail.enabled() else {**os.environ, **cell.env}
        try:
            self.process: subprocess.Popen[Any] = _spawner.submit(
                jail.popen,
                cell,
                [sys.executable, "-m", module, str(child_fd)],
                pass_fds=(child_fd,),
                stdout=subprocess.DEVNULL,
                stderr=self.log,
                env=plain_env,
            ).result()
        finally:
            os.close(child_fd)
        self._check_started()

    def _check_started(self) -> None:
        try:
            self.conn.send(("ping", (), {}))
            if self.conn.poll(START_TIMEOUT_S) and self.conn.recv() == ("ok", "pong"):
                self.pid = _python_inside(self.process.pid)
                return
        except (EOFError, OSError):
            pass
        self.stop(kill=True)
        raise self.error(f"{self.what} did not start: {self.log_tail() or 'no output'}")

    def alive(self) -> bool:
        """Whether the process is still there to take a job (and its directories, which a
        test's or an operator's clean-up may have removed)."""
        return self.process.poll() is None and self.inbox.is_dir() and self.outbox.is_dir()

    def log_tail(self) -> str:
        """The last lines the worker wrote to stderr (for error messages)."""
        try:
            text = (self.home / "worker.log").read_bytes()[-600:].decode("utf-8", "replace")
        except OSError:
            return ""
        return " ".join(text.split())

    def take_in(self, files: Sequence[Path]) -> list[Path]:
        """Place ``files`` where the worker can read them; their paths as it sees them."""
        seen: list[Path] = []
        for file in files:
            placed = self.inbox / file.name
            try:
                os.link(file, placed)
            except OSError:
                shutil.copyfile(file, placed)
            placed.chmod(0o644)
            seen.append(self.view_in / file.name)
        return seen

    def take_out(self, name: str, out_path: Path) -> None:
        """Move the worker's result ``name`` to ``out_path`` (faxout's own file, 0600)."""
        produced = self.outbox / name
        if produced.is_symlink() or not produced.is_file():
            raise self.error(f"{self.what} left no plain file as its result")
        shutil.move(produced, out_path)
        out_path.chmod(0o600)

    def call(self, job: Job, limit_s: float) -> tuple[bool, tuple[str, Any] | None]:
        """Send ``job``; (answered in time, the reply or None if it died or timed out)."""
        try:
            self.conn.send(job)
            answered = self.conn.poll(limit_s)
            reply: tuple[str, Any] | None = self.conn.recv() if answered else None
        except (EOFError, OSError):
            return True, None  # the worker died mid-job
        return answered, reply

    def clear(self) -> None:
        """Empty both job directories: the next job sees nothing of this one."""
        for box in (self.inbox, self.outbox):
            for entry in box.iterdir():
                if entry.is_dir() and not entry.is_symlink():
                    shutil.rmtree(entry, ignore_errors=True)
                else:
                    entry.unlink(missing_ok=True)

    def stop(self, *, kill: bool = False) -> None:
        """End the process (asking it first unless ``kill``) and remove its directories."""
        if kill:
            jail.kill(self.process)
        else:
            with contextlib.suppress(OSError):
                self.conn.send(None)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            jail.kill(self.process)
            self.process.wait()
        self.conn.close()
        self.log.close()
        shutil.rmtree(self.home, ignore_errors=True)


def serve(
    conn: Connection,
    functions: Mapping[str, Callable[..., Any]],
    gate: Callable[[], contextlib.AbstractContextManager[object]] = contextlib.nullcontext,
) -> None:
    """Inside the worker: answer ``(name, args, kwargs)`` jobs with ``("ok", result)`` or
    ``("error", text)`` until the owner sends None or goes away. ``ping`` is answered at
    once; every other job runs inside ``gate()`` (a worker still warming up holds it)."""
    while True:
        try:
            job = conn.recv()
        except EOFError:
            return
        if job is None:
            return
        name, args, kwargs = job
        try:
            if name == "ping":
                conn.send(("ok", "pong"))
                continue
            with gate():
                conn.send(("ok", functions[name](*args, **kwargs)))
        except Exception as exc:  # report breakage to the parent instead of dying silently
            conn.send(("error", f"{type(exc).__name__}: {exc}"))
