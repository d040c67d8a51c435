"""Run a process that reads a user's bytes where it can reach nothing else.

Every converter (Ghostscript, LibreOffice, the render workers with PDFium, Pillow and
WeasyPrint, the page step of every call) runs through :func:`popen` or :func:`run`. What a
jailed process gets, and why (see docs/security.md for the threat model):

- **A fresh mount namespace** (bubblewrap) holding the operating system read-only (``/usr``,
  a few files of ``/etc``), the paths given in :class:`Jail` (``ro`` read-only, ``rw``
  writable) and an empty private ``/tmp``. No data directory, no other job, no ``/proc`` of
  the host, no home directory.
- **No network** (its own network namespace has only a down loopback), its own PID, IPC and
  UTS namespaces, a new session (no terminal to inject into), and it dies with its parent.
- **An unprivileged uid.** As root we drop to ``Jail.uid`` (``nobody``) inside the sandbox,
  after bubblewrap (running as root) has made the mounts; as another user the process keeps
  that user's uid inside a user namespace of its own. ``PR_SET_NO_NEW_PRIVS`` is set either
  way, so no setuid binary can give privileges back.
- **rlimits** (address space, CPU seconds, file size, open files, processes) from
  :class:`Budget`, set before bubblewrap starts and inherited by everything inside.

Nested jails work: a render worker (jailed as ``nobody``) starts Ghostscript in a jail of its
own that sees only that one input file and one output directory.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
import os
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faxout.errors import RenderError
from faxout.sandbox.cgroup import MemoryCgroup

NOBODY = 65534
JAIL_TMP = "/tmp"  # noqa: S108 - inside a jail: its own empty, private tmpfs
_PR_SET_NO_NEW_PRIVS = 38
_PR_SET_PDEATHSIG = 1
_MIB = 1024 * 1024
_OUTPUT_KEPT = 64 * 1024  # of a converter's output: its head and its tail
# Loaded here, not in the child: dlopen between fork and exec could deadlock on a lock another
# thread of the server held at the fork.
_prctl = ctypes.CDLL(None, use_errno=True).prctl

# What a converter may read of /etc and /var: fonts, the loader cache, Debian's alternatives
# (/usr/bin/soffice is one), the time zone, and Ghostscript's font map. Nothing else.
_SYSTEM_RO = (
    "/etc/fonts",
    "/etc/ld.so.cache",
    "/etc/alternatives",
    "/etc/localtime",
    "/etc/ghostscript",
    "/etc/libreoffice",
    "/var/lib/ghostscript",
    "/var/cache/fontconfig",
)


@dataclass(frozen=True)
class Budget:
    """Resource limits of one jailed process tree (0 means no limit of that kind)."""

    memory_bytes: int = 2048 * _MIB  # address space (RLIMIT_AS) per process
    cpu_seconds: int = 300
    file_bytes: int = 1024 * _MIB  # the largest file it may write
    open_files: int = 1024
    processes: int = 512  # counted per uid: threads of every jailed process of that uid
    resident_bytes: int = 0  # the whole jail's memory, where a cgroup can be made (cgroup.py)

    def apply(self) -> None:
        """Set these limits on the calling process (run in the child before exec)."""
        limits = (
            (resource.RLIMIT_AS, self.memory_bytes),
            (resource.RLIMIT_CPU, self.cpu_seconds),
            (resource.RLIMIT_FSIZE, self.file_bytes),
            (resource.RLIMIT_NOFILE, self.open_files),
            (resource.RLIMIT_NPROC, self.processes),
            (resource.RLIMIT_CORE, 0),
        )
        for kind, value in limits:
            if value or kind == resource.RLIMIT_CORE:
                _, hard = resource.getrlimit(kind)
                if hard != resource.RLIM_INFINITY:
                    value = min(value, hard)  # a nested jail never asks for more
                resource.setrlimit(kind, (value, value))


def converter_budget(timeout_s: float) -> Budget:
    """Limits of one converter process (Ghostscript, LibreOffice) started by a worker."""
    memory = int(os.environ.get("FAXOUT_CONVERTER_MEMORY_MB", "2048"))
    file_mb = int(os.environ.get("FAXOUT_CONVERTER_FILE_MB", "1024"))
    return Budget(
        memory_bytes=memory * _MIB,
        resident_bytes=memory * _MIB,
        cpu_seconds=max(1, int(timeout_s) + 5) if timeout_s else 0,
        file_bytes=file_mb * _MIB,
    )


@dataclass(frozen=True)
class Jail:
    """Where a jailed process may look: ``ro``/``rw`` map host paths to paths inside."""

    ro: Sequence[tuple[Path, Path]] = ()
    rw: Sequence[tuple[Path, Path]] = ()
    budget: Budget = field(default_factory=Budget)
    env: dict[str, str] = field(default_factory=dict)
    tmp_bytes: int = 64 * _MIB  # size of the private /tmp (memory-backed)
    nested: bool = False  # may start jails of its own (render workers)
    proc: bool = False  # mount a /proc of its own PID namespace
    uid: int = NOBODY  # the uid it runs as when faxout runs as root


def _source_root() -> Path:
    import faxout

    return Path(faxout.__file__).resolve().parents[1]


def python_paths() -> list[Path]:
    """What a jailed Python process of faxout's needs to read besides ``/usr``: the
    interpreter's prefix, the virtualenv and faxout's own source (an editable install lives
    outside the virtualenv), to be bound read-only at the same paths."""
    paths: list[Path] = []
    for raw in (sys.base_prefix, sys.prefix, str(_source_root())):
        path = Path(raw).resolve()
        if path.is_relative_to("/usr") or any(path.is_relative_to(p) for p in paths):
            continue
        paths = [p for p in paths if not p.is_relative_to(path)] + [path]
    return paths


def python_env() -> dict[str, str]:
    """The environment a jailed Python process of faxout's needs: this very faxout first on
    its path (the jail's environment is empty, and a checkout may shadow the installed one)."""
    return {"PYTHONPATH": str(_source_root()), "PYTHONDONTWRITEBYTECODE": "1"}


@functools.cache
def bwrap() -> str | None:
    """The bubblewrap binary, or None."""
    return shutil.which("bwrap")


_SWITCH = "FAXOUT_RENDER__SANDBOX"  # the setting render.sandbox, inherited by every worker


def enabled() -> bool:
    """Whether converters are jailed (the setting ``render.sandbox``; on unless turned off)."""
    return os.environ.get(_SWITCH, "true").strip().lower() not in {"false", "0", "off", "no"}


def set_enabled(on: bool) -> None:
    """Turn jailing on or off for this process and the processes it starts."""
    os.environ[_SWITCH] = "true" if on else "false"


def problem() -> str | None:
    """Why jailed converters cannot run here, in words an operator can act on; None if fine."""
    if not enabled():
        return None
    binary = bwrap()
    if binary is None:
        return (
            "the converter sandbox needs bubblewrap: apt-get install bubblewrap "
            "(or set render.sandbox = false to run converters unconfined, not recommended)"
        )
    probe = subprocess.run(
        command(Jail(), ["/usr/bin/true"]),
        preexec_fn=_preexec(Jail()),
        capture_output=True,
        text=True,
        check=False,
        timeout=30,
    )
    if probe.returncode != 0:
        why = probe.stderr.strip().splitlines()[-1:] or [f"exit status {probe.returncode}"]
        return (
            f"bubblewrap cannot create a sandbox here ({why[0]}); the kernel must allow "
            "namespaces (a container needs --privileged or user namespaces), or set "
            "render.sandbox = false"
        )
    return None


def _as_root() -> bool:
    return os.geteuid() == 0


def command(jail: Jail, argv: Sequence[str]) -> list[str]:
    """The full command line that runs ``argv`` inside ``jail`` (or ``argv`` if disabled)."""
    if not enabled():
        return list(argv)
    binary = bwrap()
    if binary is None:
        raise RenderError("the converter sandbox (bubblewrap) is not installed")
    cmd = [binary, "--die-with-parent", "--new-session", "--clearenv"]
    cmd += ["--unshare-pid", "--unshare-net", "--unshare-ipc", "--unshare-uts"]
    cmd += ["--unshare-cgroup-try"]
    if not _as_root():
        cmd += ["--unshare-user"]
        if not jail.nested:
            cmd += ["--disable-userns"]
    cmd += ["--ro-bind", "/usr", "/usr"]
    for link in ("bin", "lib", "lib64", "sbin"):
        top = Path("/") / link
        if top.is_symlink():
            cmd += ["--symlink", str(top.readlink()), f"/{link}"]
        elif top.is_dir():
            cmd += ["--ro-bind", f"/{link}", f"/{link}"]
    cmd += ["--dev", "/dev", "--size", str(jail.tmp_bytes), "--perms", "1777", "--tmpfs", JAIL_TMP]
    if jail.proc:
        cmd += ["--proc", "/proc"]
    system = [Path(p) for p in _SYSTEM_RO if Path(p).exists()]
    for parent in _parents([*system, *(dest for _, dest in (*jail.ro, *jail.rw))]):
        cmd += ["--perms", "0755", "--dir", str(parent)]
    for path in system:
        cmd += ["--ro-bind", str(path), str(path)]
    for source, dest in jail.ro:
        cmd += ["--ro-bind", str(source), str(dest)]
    for source, dest in jail.rw:
        cmd += ["--bind", str(source), str(dest)]
    env = {"PATH": "/usr/bin:/bin", "HOME": JAIL_TMP, "TMPDIR": JAIL_TMP, "LANG": "C.UTF-8"}
    env |= jail.env
    for key, value in env.items():
        cmd += ["--setenv", key, value]
    if _as_root():
        # bubblewrap makes the mounts as root; the converter itself runs as an unprivileged
        # uid with no capabilities left (setpriv clears them when the uid changes).
        setpriv = shutil.which("setpriv") or "/usr/bin/setpriv"
        cmd += ["--cap-add", "CAP_SETUID", "--cap-add", "CAP_SETGID", "--", setpriv]
        cmd += [f"--reuid={jail.uid}", f"--regid={jail.uid}", "--clear-groups"]
        cmd += ["--no-new-privs", "--"]
    else:
        cmd.append("--")
    return cmd + list(argv)


def _parents(destinations: Sequence[Path]) -> list[Path]:
    # bubblewrap creates missing mount points 0700 as root, which the unprivileged uid could
    # not traverse: create every parent of a destination ourselves, readable.
    # Under /tmp too: faxout's own checkout or data may live there, and the jail's /tmp is a
    # fresh tmpfs (mounted before these). /usr, /dev and /proc are mounted whole.
    seen: list[Path] = []
    for dest in destinations:
        for parent in reversed(dest.parents):
            top = parent.parts[1] if len(parent.parts) > 1 else ""
            if parent in (Path("/"), Path(JAIL_TMP)) or top in ("usr", "dev", "proc"):
                continue
            if parent not in seen:
                seen.append(parent)
    return seen


def _preexec(jail: Jail, group: MemoryCgroup | None = None) -> Callable[[], None]:
    budget = jail.budget

    def setup() -> None:  # runs in the child between fork and exec: keep it small
        if group is not None:
            group.enter()  # before anything else runs, so every child is counted
        _prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)  # never outlive the faxout process
        _prctl(_PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0)
        budget.apply()

    return setup


class JailedProcess(subprocess.Popen[Any]):
    """A jailed process; its memory cgroup (if any) is removed once it has ended."""

    cgroup: MemoryCgroup | None = None

    def poll(self) -> int | None:
        code = super().poll()
        if code is not None and self.cgroup is not None:
            self.cgroup.remove()
        return code

    def wait(self, timeout: float | None = None) -> int:
        code = super().wait(timeout)
        if self.cgroup is not None:
            self.cgroup.remove()
        return code


def prepare_rw(path: Path, jail: Jail) -> None:
    """Make ``path`` (a directory faxout created) writable by the jailed uid, 0700."""
    path.chmod(0o700)
    if enabled() and _as_root():
        os.chown(path, jail.uid, jail.uid)


def readable(path: Path, workdir: Path) -> Path:
    """``path``, or a copy of it in ``workdir`` that the jailed uid can read (faxout's own
    files are 0600 under its umask; a jail bound to one as root could not open it)."""
    if not enabled() or not _as_root() or path.stat().st_mode & 0o004:
        return path
    copy = workdir / f"readable-{path.name}"
    shutil.copyfile(path, copy)
    copy.chmod(0o644)
    return copy


def popen(jail: Jail, argv: Sequence[str], **kwargs: Any) -> JailedProcess:
    """Start ``argv`` inside ``jail`` in its own process group; ``kwargs`` go to Popen."""
    kwargs.setdefault("stdin", subprocess.DEVNULL)
    group = None
    if enabled():
        kwargs.pop("env", None)  # the jail's environment is set on the command line
        if jail.budget.resident_bytes:
            group = MemoryCgroup(jail.budget.resident_bytes)
    try:
        process = JailedProcess(
            command(jail, argv), start_new_session=True, preexec_fn=_preexec(jail, group), **kwargs
        )
    except BaseException:
        if group is not None:
            group.remove()
        raise
    process.cgroup = group
    return process


@dataclass(frozen=True)
class Outcome:
    """How a jailed process ended, and what it printed (stdout and stderr, bounded)."""

    returncode: int
    timed_out: bool
    output: str

    @property
    def summary(self) -> str:
        """The start and the end of the output, for a log line: converters put the error
        first (Ghostscript: "Error: /syntaxerror") and the verdict last."""
        text = " ".join(self.output.split())
        return text if len(text) <= 600 else f"{text[:300]} … {text[-300:]}"


def run(jail: Jail, argv: Sequence[str], *, timeout_s: float) -> Outcome:
    """Run ``argv`` inside ``jail``; kill its whole process group after ``timeout_s``."""
    process = popen(jail, argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = process.communicate(timeout=max(0.1, timeout_s))
    except subprocess.TimeoutExpired:
        kill(process)
        process.communicate()
        return Outcome(returncode=-1, timed_out=True, output="")
    both = (out or b"") + b"\n" + (err or b"")
    if len(both) > _OUTPUT_KEPT:
        both = both[: _OUTPUT_KEPT // 2] + b"\n...\n" + both[-_OUTPUT_KEPT // 2 :]
    text = both.decode("utf-8", "replace").strip()
    return Outcome(returncode=process.returncode, timed_out=False, output=text)


def kill(process: subprocess.Popen[Any]) -> None:
    """SIGKILL the process group of ``process`` (the jail and everything in it)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError):
        process.kill()
