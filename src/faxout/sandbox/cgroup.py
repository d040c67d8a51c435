"""A memory cgroup per jail, where the host lets faxout make one.

rlimits cap each process's address space, but a converter can fork, and a tmpfs or page
cache it fills is not address space. A memory cgroup caps the whole jail's resident memory
and the kernel's OOM killer ends the jail, not the server, when it goes over. faxout makes a
child of its own cgroup (cgroup v2's ``memory.max`` or v1's ``memory.limit_in_bytes``) when
that directory is writable, which is the case for root on most hosts and in a systemd unit
with ``Delegate=yes``; elsewhere it says so once in ``faxout check`` and relies on rlimits.
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

_MOUNT = Path("/sys/fs/cgroup")


@dataclass(frozen=True)
class _Hierarchy:
    parent: Path  # our own cgroup's directory, where children are made
    limit_file: str  # memory.max (v2) or memory.limit_in_bytes (v1)


@functools.cache
def _hierarchy() -> _Hierarchy | None:
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return None
    for line in lines:
        _, controllers, path = line.split(":", 2)
        if controllers == "" and (_MOUNT / "cgroup.controllers").exists():
            parent = _MOUNT / path.lstrip("/")
            if "memory" in _read(parent / "cgroup.subtree_control").split():
                return _usable(parent, "memory.max")
        elif "memory" in controllers.split(","):
            return _usable(_MOUNT / "memory" / path.lstrip("/"), "memory.limit_in_bytes")
    return None


def _read(path: Path) -> str:
    try:
        return path.read_text()
    except OSError:
        return ""


def _sweep(parent: Path) -> None:
    """Remove empty groups that a faxout process which has since died left behind."""
    for group in parent.glob("faxout-*-*"):
        try:
            pid = int(group.name.split("-")[1])
        except ValueError:
            continue
        if pid != os.getpid() and not Path(f"/proc/{pid}").exists():
            with contextlib.suppress(OSError):
                group.rmdir()  # refused while a process is still in it


def _usable(parent: Path, limit_file: str) -> _Hierarchy | None:
    _sweep(parent)
    probe = parent / f"faxout-probe-{secrets.token_hex(4)}"
    try:
        probe.mkdir()
    except OSError:
        return None
    try:
        if not (probe / limit_file).exists() or not os.access(probe / "cgroup.procs", os.W_OK):
            return None
        return _Hierarchy(parent, limit_file)
    finally:
        with contextlib.suppress(OSError):
            probe.rmdir()


def available() -> bool:
    """Whether jails get a memory cgroup on this host."""
    return _hierarchy() is not None


class MemoryCgroup:
    """One child cgroup with a memory limit; ``enter`` moves the calling process into it."""

    def __init__(self, limit_bytes: int) -> None:
        found = _hierarchy()
        self.path: Path | None = None
        if found is None or limit_bytes <= 0:
            return
        path = found.parent / f"faxout-{os.getpid()}-{secrets.token_hex(4)}"
        try:
            path.mkdir()
            (path / found.limit_file).write_text(str(limit_bytes))
            if found.limit_file == "memory.limit_in_bytes":
                # v1 counts swap separately; without this the jail would swap instead.
                with contextlib.suppress(OSError):
                    (path / "memory.memsw.limit_in_bytes").write_text(str(limit_bytes))
        except OSError:
            with contextlib.suppress(OSError):
                path.rmdir()
            return
        self.path = path
        self._procs = str(path / "cgroup.procs")

    def enter(self) -> None:
        """Join the cgroup (called in the child between fork and exec)."""
        if self.path is not None:
            fd = os.open(self._procs, os.O_WRONLY)
            try:
                os.write(fd, str(os.getpid()).encode())
            finally:
                os.close(fd)

    def remove(self) -> None:
        """Delete the cgroup once every process in it has ended.

        The jail's other processes die a moment after its first one is reaped, so an rmdir
        that finds the group busy is tried again briefly; one left over is swept at the next
        start (see ``_sweep``).
        """
        if self.path is None:
            return
        deadline = time.monotonic() + 2.0
        while True:
            try:
                self.path.rmdir()
                break
            except OSError:
                if time.monotonic() > deadline:
                    break
                time.sleep(0.01)
        self.path = None
