"""efax (Debian ``efax``: Class 1, MH, no ECM) on an iaxmodem pty, in a test's own directory:
a T.30 implementation that owes nothing to spandsp's, to meet faxout's over IAX2.

efax takes every option before ``-t``. To receive it needs the modem to answer by itself
(``-iS0=1``: answer on the first ring) and ``-w`` (wait for the modem's CONNECT instead of
sending ATA at once, which iaxmodem refuses with ERROR before a call rings). Received pages
land one per file, ``<prefix>.001``, ``.002``…, as G3 TIFFs.
"""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt

from faxout.render.tiff import TiffFWriter
from faxout.transmit.result import Compression
from tests.procs import stop_process, tail
from tests.transmit.hylafax_server import IaxModem

EFAX = "/usr/bin/efax"
IDENT = "+1 555 0160"


@dataclass
class EfaxRun:
    """One efax process; ``stop()`` ends it by its PID if it is still running."""

    proc: subprocess.Popen[bytes]
    log: Path
    received_dir: Path

    def wait(self, timeout: float) -> int:
        """Its exit status (0: the fax went through), waiting at most ``timeout`` seconds."""
        return self.proc.wait(timeout=timeout)

    def pages(self) -> list[Path]:
        """The pages it received, in order."""
        return sorted(self.received_dir.glob("page.[0-9][0-9][0-9]"))

    def log_tail(self, lines: int = 30) -> str:
        """The end of its session log (for failure messages)."""
        return tail(self.log, lines)

    def stop(self) -> None:
        """End it if it is still running."""
        stop_process(self.proc)


def _start(argv: list[str], workdir: Path, name: str) -> EfaxRun:
    workdir.mkdir(parents=True, exist_ok=True)
    log = workdir / f"{name}.log"
    received = workdir / "received"
    received.mkdir(exist_ok=True)
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            cwd=workdir,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=out,
            start_new_session=True,
        )
    return EfaxRun(proc, log, received)


def receive(modem: IaxModem, workdir: Path) -> EfaxRun:
    """efax waiting on ``modem`` for a call; it answers on the first ring."""
    prefix = workdir / "received" / "page"
    argv = [EFAX, "-d", modem.path, "-o1", "-l", IDENT, "-v", "ewinrc", "-iS0=1", "-w"]
    return _start([*argv, "-r", str(prefix)], workdir, "efax-receive")


def send(modem: IaxModem, workdir: Path, number: str, pages: list[Path]) -> EfaxRun:
    """efax dialling ``number`` on ``modem`` and sending ``pages`` (G3 TIFFs, one a page)."""
    argv = [EFAX, "-d", modem.path, "-o1", "-l", IDENT, "-v", "ewintc"]
    return _start([*argv, "-t", number, *map(str, pages)], workdir, "efax-send")


def g3_pages(pages: list[npt.NDArray[np.bool_]], workdir: Path, lpi: int) -> list[Path]:
    """``pages`` (True = white) as single-page TIFF-F files in G3 1-D (MH), one strip each, as
    faxout's renderer writes them: efax sends such files and refuses multi-strip ones."""
    workdir.mkdir(parents=True, exist_ok=True)
    out = []
    for n, page in enumerate(pages, start=1):
        path = workdir / f"send.{n:03d}.tif"
        with TiffFWriter(path, lpi=lpi, compression=Compression.MH) as writer:
            writer.add_page(~page)
        out.append(path)
    return out
