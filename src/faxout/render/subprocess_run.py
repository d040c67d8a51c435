"""Running an external converter (gs, soffice) with a wall-clock limit that really kills it.

``subprocess.run(timeout=...)`` kills only the direct child; soffice forks ``soffice.bin``,
which would survive and hold its profile lock. We start each converter in its own process
group and kill the whole group on timeout.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    """How a converter process ended."""

    returncode: int
    timed_out: bool
    stderr_tail: str


def run_bounded(
    command: list[str], *, timeout_s: float, env: dict[str, str] | None = None
) -> Outcome:
    """Run ``command`` with no stdin; kill its process group after ``timeout_s`` seconds."""
    process = subprocess.Popen(
        command,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # own process group, so the kill reaches grandchildren
        env=env,
    )
    try:
        out, err = process.communicate(timeout=max(0.1, timeout_s))
    except subprocess.TimeoutExpired:
        _kill_group(process)
        process.communicate()
        return Outcome(returncode=-1, timed_out=True, stderr_tail="")
    text = (err or out or b"").decode("utf-8", "replace").strip()
    return Outcome(returncode=process.returncode, timed_out=False, stderr_tail=text[-600:])


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    with contextlib.suppress(ProcessLookupError):  # it may have exited meanwhile
        os.killpg(process.pid, signal.SIGKILL)
