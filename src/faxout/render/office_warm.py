"""A persistent LibreOffice per process: about 0.1 s a document instead of 1 s.

One ``soffice`` listens on a private named pipe with its own profile; a small bridge process
(:mod:`faxout.render.office_bridge`, run by the Python that has Debian's ``python3-uno``)
drives it over UNO. Since every render worker process owns one instance, the pool of warm
workers is also the pool of LibreOffice instances. An instance that overruns its time limit
is killed (its whole process group) and started afresh for the next document; it is also
recycled every ``MAX_DOCUMENTS`` conversions so leaks in LibreOffice stay bounded.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import json
import os
import select
import shutil
import signal
import subprocess
import tempfile
import time
import uuid
from pathlib import Path
from typing import IO

from faxout.render.office_profile import prepare_profile

MAX_DOCUMENTS = 200
START_TIMEOUT_S = 60.0
_UNO_PYTHONS = ("/usr/bin/python3",)
_PR_SET_PDEATHSIG = 1
_E_RESTART = 81  # soffice.bin's "start me again" exit status


def profile_dir(pid: int) -> Path:
    """The LibreOffice profile of process ``pid`` (the pool removes it if it kills ``pid``)."""
    return Path(tempfile.gettempdir()) / f"faxout-lo-warm-{os.getuid()}-{pid}"


def _office_binary(soffice: str) -> str:
    # soffice is a shell script that starts oosplash, which starts soffice.bin. Starting
    # soffice.bin ourselves makes it our child: we reap it, and the death signal below
    # reaches the process that actually holds the document.
    binary = Path(soffice).resolve().with_name("soffice.bin")
    return str(binary) if binary.exists() else soffice


def _die_with_parent() -> None:
    # Runs in the child before exec. A render worker the pool SIGKILLs cannot run atexit
    # handlers, so its LibreOffice must not outlive it: ask the kernel to kill it with us.
    libc = ctypes.CDLL(None)
    libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


@functools.cache
def uno_python() -> str | None:
    """An interpreter that can ``import uno``, or None (then conversions run cold)."""
    for candidate in _UNO_PYTHONS:
        if not Path(candidate).exists():
            continue
        probe = subprocess.run(
            [candidate, "-c", "import uno"], capture_output=True, check=False, timeout=30
        )
        if probe.returncode == 0:
            return candidate
    return None


class OfficeFailed(Exception):  # noqa: N818 - a verdict on the document, caught by office.py
    """LibreOffice could not convert the document (``timed_out`` if it ran too long)."""

    def __init__(self, detail: str, *, timed_out: bool = False) -> None:
        super().__init__(detail)
        self.timed_out = timed_out


class WarmOffice:
    """One soffice + bridge pair, started on first use."""

    def __init__(self, soffice: str, python: str) -> None:
        self.soffice = soffice
        self.python = python
        self.profile = profile_dir(os.getpid())
        self._office: subprocess.Popen[bytes] | None = None
        self._bridge: subprocess.Popen[str] | None = None
        self.conversions = 0

    def _launch_office(self, pipe: str) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [
                _office_binary(self.soffice),
                f"-env:UserInstallation={self.profile.as_uri()}",
                "--headless",
                "--invisible",
                "--nologo",
                "--nodefault",
                "--nolockcheck",
                "--norestore",
                f"--accept=pipe,name={pipe};urp;StarOffice.ComponentContext",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_die_with_parent,
            # What the soffice wrapper script would set before starting soffice.bin.
            env={**os.environ, "HOME": str(self.profile), "SAL_ENABLE_FILE_LOCKING": "1"},
        )

    def _start(self) -> None:
        pipe = f"faxout-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        prepare_profile(self.profile)
        self._office = self._launch_office(pipe)
        bridge = Path(__file__).with_name("office_bridge.py")
        self._bridge = subprocess.Popen(
            [self.python, str(bridge), pipe, str(START_TIMEOUT_S)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        self.conversions = 0
        deadline = time.monotonic() + START_TIMEOUT_S + 5
        while time.monotonic() < deadline:
            if self._read(0.2) is not None:
                return
            code = self._office.poll()
            if code == _E_RESTART:
                # A new profile makes soffice.bin exit asking for a restart (oosplash's
                # job); the bridge keeps knocking on the same pipe meanwhile.
                self._office = self._launch_office(pipe)
            elif code is not None or self._bridge.poll() is not None:
                break
        self.stop()
        raise OfficeFailed("LibreOffice did not start")

    def _read(self, timeout_s: float) -> dict[str, object] | None:
        assert self._bridge is not None and self._bridge.stdout is not None
        stream: IO[str] = self._bridge.stdout
        ready, _, _ = select.select([stream], [], [], max(0.0, timeout_s))
        line = stream.readline() if ready else ""
        if not line:
            return None
        answer: dict[str, object] = json.loads(line)
        return answer

    def convert(self, source: Path, target: Path, timeout_s: float) -> None:
        """Convert ``source`` to the PDF ``target`` or raise :class:`OfficeFailed`."""
        deadline = time.monotonic() + timeout_s
        if self._bridge is None or self._bridge.poll() is not None or self._office_dead():
            self.stop()
            self._start()
        assert self._bridge is not None and self._bridge.stdin is not None
        request = json.dumps({"src": str(source), "out": str(target)})
        try:
            self._bridge.stdin.write(request + "\n")
            self._bridge.stdin.flush()
        except OSError as exc:
            self.stop()
            raise OfficeFailed(f"LibreOffice bridge lost ({exc})") from exc
        answer = self._read(deadline - time.monotonic())
        if answer is None:
            timed_out = time.monotonic() >= deadline
            self.stop()  # a stuck or dead instance is never reused
            raise OfficeFailed("LibreOffice did not answer", timed_out=timed_out)
        self.conversions += 1
        if self.conversions >= MAX_DOCUMENTS:
            self.stop()
        if "error" in answer:
            raise OfficeFailed(str(answer["error"]))

    def _office_dead(self) -> bool:
        return self._office is None or self._office.poll() is not None

    def stop(self) -> None:
        """Kill the instance and its bridge (process groups), if running."""
        for process in (self._bridge, self._office):
            if process is not None and process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
            if process is not None:
                process.wait()
                for stream in (process.stdin, process.stdout):
                    if stream is not None:
                        stream.close()
        self._bridge = self._office = None

    def close(self) -> None:
        """Stop and delete the profile (at process exit: profiles are per process id)."""
        self.stop()
        shutil.rmtree(self.profile, ignore_errors=True)


@functools.cache
def instance() -> WarmOffice | None:
    """This process's warm LibreOffice, or None when soffice or python3-uno is missing."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    python = uno_python()
    if soffice is None or python is None:
        return None
    office = WarmOffice(soffice, python)
    atexit.register(office.close)
    return office
