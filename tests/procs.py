"""What the tests' private daemons share: a free port, stopping a process for good, a log tail."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
from pathlib import Path


def free_port(kind: int = socket.SOCK_STREAM) -> int:
    """A free ephemeral port on 127.0.0.1 (TCP by default, or ``socket.SOCK_DGRAM``).

    Another process may take it before ours binds it: daemons that lose that race are restarted
    on a fresh port by their helpers.
    """
    with socket.socket(socket.AF_INET, kind) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def stop_process(proc: subprocess.Popen[bytes], timeout: float = 10.0) -> None:
    """SIGTERM one process by its PID, SIGKILL after ``timeout``, then its process group.

    The group matters for daemons started with ``start_new_session=True`` that fork workers
    (kamailio, hfaxd, faxgetty). A process that did not start a group of its own has no group
    with its PID as id, so the last step finds nothing to do.
    """
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.kill(proc.pid, signal.SIGKILL)
            proc.wait(timeout=timeout)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)


def tail(path: Path, lines: int = 40) -> str:
    """The last ``lines`` lines of a log, or a note that it does not exist."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return f"(no {path.name})"
