"""A persistent LibreOffice per render worker, in a jail of its own: about 0.1 s a document.

One ``soffice`` and a small bridge process (:mod:`faxout.render.office_bridge`, run by the
Python that has Debian's ``python3-uno``) run together in a jail (:mod:`faxout.sandbox.jail`)
that holds only the pristine profile (read-only), the bridge script and one exchange
directory. The bridge copies the profile into the jail's private ``/tmp`` and starts soffice
there, so every start, after a timeout kill or a recycle, begins from the locked-down copy:
nothing a document did to a profile survives a restart, and no other converter can reach it.
Each conversion copies the document into the exchange directory, converts, moves the PDF out
and empties the directory. An instance that overruns its time limit is killed (its whole
jail) and started afresh for the next document; it is also recycled every ``MAX_DOCUMENTS``
conversions so leaks in LibreOffice stay bounded.
"""

from __future__ import annotations

import atexit
import functools
import json
import os
import select
import shutil
import subprocess
import threading
import time
from pathlib import Path
from typing import IO

from faxout.render.office_profile import prepare_profile
from faxout.sandbox import jail, workspace

MAX_DOCUMENTS = 200
START_TIMEOUT_S = 60.0
_UNO_PYTHONS = ("/usr/bin/python3",)
_MIB = 1024 * 1024
_VIEW = Path("/lo")  # where the jailed pair sees its directories
# Every soffice faxout starts, warm or cold: no window, no first-start wizard, no document
# recovery, no lock check (each profile is private to one soffice).
SOFFICE_FLAGS = (
    "--headless",
    "--invisible",
    "--nologo",
    "--nodefault",
    "--nolockcheck",
    "--norestore",
)


def office_binary(soffice: str) -> str:
    """soffice.bin itself: the ``soffice`` script starts oosplash, which starts soffice.bin;
    starting it directly keeps it the bridge's child, inside the jail."""
    binary = Path(soffice).resolve().with_name("soffice.bin")
    return str(binary) if binary.exists() else soffice


def pristine_profile() -> Path:
    """The read-only profile every soffice starts from (the render pool's, else our own)."""
    given = os.environ.get("FAXOUT_LO_PRISTINE")
    if given:
        return Path(given)
    return _own_pristine()


_pristine: Path | None = None
_pristine_lock = threading.Lock()


def _own_pristine() -> Path:
    # One per process, made again if its workspace went away (workspace.configure closes the
    # previous one).
    global _pristine
    with _pristine_lock:
        if _pristine is None or not _pristine.exists():
            path = workspace.current().new_dir("lo-")
            path.chmod(0o755)
            _pristine = prepare_profile(path, readable=True)
        return _pristine


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
    """One jailed soffice + bridge pair, started on first use (or by ``warm``). Thread-safe:
    the worker's warm-up thread may be starting it when a job's conversion comes."""

    def __init__(self, soffice: str, python: str) -> None:
        self.soffice = soffice
        self.python = python
        self._lock = threading.Lock()
        self.exchange = workspace.current().new_dir("lo-io-")
        self._bridge: subprocess.Popen[str] | None = None
        self.conversions = 0

    def _cell(self) -> jail.Jail:
        bridge = Path(__file__).with_name("office_bridge.py")
        return jail.Jail(
            ro=[(pristine_profile(), _VIEW / "pristine"), (bridge, _VIEW / "office_bridge.py")],
            rw=[(self.exchange, _VIEW / "io")],
            budget=jail.converter_budget(0),  # time is bounded per conversion, by the kill below
            env={
                "TMPDIR": str(_VIEW / "io" / "tmp"),
                "HOME": jail.JAIL_TMP,
                # No /proc in a nested jail, so the loader cannot resolve soffice.bin's
                # $ORIGIN run path: name its directory.
                "LD_LIBRARY_PATH": str(Path(office_binary(self.soffice)).parent),
            },
            tmp_bytes=128 * _MIB,  # the profile lives here
        )

    def _start(self) -> None:
        cell = self._cell()
        jail.prepare_rw(self.exchange, cell)
        self._empty(tmp=True)
        shutil.rmtree(self.exchange / "profile", ignore_errors=True)  # unjailed runs only
        bridge = str(_VIEW / "office_bridge.py") if jail.enabled() else str(cell.ro[1][0])
        pristine = str(_VIEW / "pristine") if jail.enabled() else str(pristine_profile())
        profile = f"{jail.JAIL_TMP}/profile" if jail.enabled() else str(self.exchange / "profile")
        self._bridge = jail.popen(
            cell,
            [
                self.python,
                bridge,
                str(START_TIMEOUT_S),
                office_binary(self.soffice),
                pristine,
                profile,
                *SOFFICE_FLAGS,
            ],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        self.conversions = 0
        if self._read(START_TIMEOUT_S + 5) is None:
            self.stop()
            raise OfficeFailed("LibreOffice did not start")

    def _empty(self, *, tmp: bool = False) -> None:
        for name in ("in", "out", *(["tmp"] if tmp else [])):
            box = self.exchange / name
            shutil.rmtree(box, ignore_errors=True)
            box.mkdir(mode=0o700)
            jail.prepare_rw(box, self._cell())

    def _read(self, timeout_s: float) -> dict[str, object] | None:
        assert self._bridge is not None and self._bridge.stdout is not None
        stream: IO[str] = self._bridge.stdout
        ready, _, _ = select.select([stream], [], [], max(0.0, timeout_s))
        line = stream.readline() if ready else ""
        if not line:
            return None
        answer: dict[str, object] = json.loads(line)
        return answer

    def warm(self) -> None:
        """Start soffice now (if it is not running), so the first document does not wait."""
        with self._lock:
            if self._bridge is None or self._bridge.poll() is not None:
                self.stop()
                self._start()

    def convert(self, source: Path, target: Path, timeout_s: float) -> None:
        """Convert ``source`` to the PDF ``target`` or raise :class:`OfficeFailed`.

        A soffice found dead (it crashed, or was killed) costs a restart, and the document is
        tried once more in the new one: the document did not fail, the instance did.
        """
        deadline = time.monotonic() + timeout_s
        with self._lock:
            if self._convert(source, target, deadline) == "lost":
                self.stop()
                self._convert(source, target, deadline)

    def _convert(self, source: Path, target: Path, deadline: float) -> str:
        if self._bridge is None or self._bridge.poll() is not None:
            self.stop()
            self._start()
        assert self._bridge is not None and self._bridge.stdin is not None
        self._empty()
        inside = _VIEW / "io" if jail.enabled() else self.exchange
        placed = self.exchange / "in" / f"document{source.suffix}"
        shutil.copyfile(source, placed)
        placed.chmod(0o644)
        request = json.dumps(
            {"src": str(inside / "in" / placed.name), "out": str(inside / "out" / "document.pdf")}
        )
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
        if answer.get("lost"):
            self.stop()
            return "lost"
        self.conversions += 1
        if self.conversions >= MAX_DOCUMENTS:
            self.stop()
        if "error" in answer:
            self._empty()
            raise OfficeFailed(str(answer["error"]))
        produced = self.exchange / "out" / "document.pdf"
        if produced.is_file() and not produced.is_symlink():
            shutil.move(produced, target)
        self._empty()
        return "done"

    def stop(self) -> None:
        """Kill the jail (soffice and the bridge with it), if running."""
        process = self._bridge
        if process is not None:
            if process.poll() is None:
                jail.kill(process)
            process.wait()
            for stream in (process.stdin, process.stdout):
                if stream is not None:
                    stream.close()
        self._bridge = None

    def close(self) -> None:
        """Stop and delete the exchange directory (at process exit)."""
        self.stop()
        shutil.rmtree(self.exchange, ignore_errors=True)


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
