"""Office documents (Word, Excel, PowerPoint, ODF, RTF) to PDF with headless LibreOffice.

The warm path (:mod:`faxout.render.office_warm`) keeps one soffice per process and converts
in about 0.1 s. Where it cannot run (no ``python3-uno``), each conversion starts
``soffice --headless --convert-to pdf`` (about 1 s) with a profile directory owned by this
process: two soffice processes sharing a profile block each other, and a profile kept across
conversions saves the first-start cost (another second). Either way the process group is
killed on timeout.

The input is copied under a name with the suffix detection found, because LibreOffice picks
its import filter partly by extension and the client's own name is not trusted.
"""

from __future__ import annotations

import atexit
import functools
import os
import shutil
import tempfile
from pathlib import Path

from faxout.render import office_warm
from faxout.render.office_profile import prepare_profile
from faxout.render.result import RefusalReason
from faxout.render.sink import Refused
from faxout.render.subprocess_run import run_bounded


@functools.cache
def _profile_dir() -> Path:
    # One profile per process (a warm worker keeps its own); kept between conversions,
    # deleted when the process exits.
    path = Path(tempfile.gettempdir()) / f"faxout-lo-profile-{os.getuid()}-{os.getpid()}"
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return prepare_profile(path)


def to_pdf(source: Path, suffix: str, workdir: Path, *, timeout_s: float) -> Path:
    """Convert ``source`` to a PDF inside ``workdir`` or raise ``Refused``."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        raise Refused(RefusalReason.CONVERTER_MISSING, "LibreOffice (soffice) is not installed")
    named = workdir / f"document{suffix}"
    shutil.copyfile(source, named)
    outdir = workdir / "out"
    outdir.mkdir()
    warm = office_warm.instance()
    if warm is not None:
        return _convert_warm(warm, named, outdir / "document.pdf", suffix, timeout_s)
    return _convert_cold(soffice, named, outdir, suffix, timeout_s)


def _convert_cold(soffice: str, named: Path, outdir: Path, suffix: str, timeout_s: float) -> Path:
    workdir = outdir.parent
    command = [
        soffice,
        f"-env:UserInstallation={_profile_dir().as_uri()}",
        "--headless",
        "--invisible",
        "--nologo",
        "--nodefault",
        "--nolockcheck",
        "--norestore",
        "--convert-to",
        "pdf",
        "--outdir",
        str(outdir),
        str(named),
    ]
    # HOME points into the work dir so LibreOffice writes nothing to the service's home.
    env = {**os.environ, "HOME": str(workdir)}
    outcome = run_bounded(command, timeout_s=timeout_s, env=env)
    if outcome.timed_out:
        raise Refused(RefusalReason.TIME_LIMIT, f"LibreOffice took longer than {timeout_s:g} s")
    produced = outdir / "document.pdf"
    if not produced.exists() or produced.stat().st_size == 0:
        raise Refused(
            RefusalReason.CORRUPT,
            f"LibreOffice cannot read this {suffix.lstrip('.')} file "
            f"({outcome.stderr_tail or f'exit status {outcome.returncode}'})",
        )
    return produced


def _convert_warm(
    warm: office_warm.WarmOffice, named: Path, target: Path, suffix: str, timeout_s: float
) -> Path:
    try:
        warm.convert(named, target, timeout_s)
    except office_warm.OfficeFailed as exc:
        if exc.timed_out:
            raise Refused(
                RefusalReason.TIME_LIMIT, f"LibreOffice took longer than {timeout_s:g} s"
            ) from exc
        raise Refused(
            RefusalReason.CORRUPT, f"LibreOffice cannot read this {suffix.lstrip('.')} file ({exc})"
        ) from exc
    if not target.exists() or target.stat().st_size == 0:
        raise Refused(RefusalReason.CORRUPT, f"LibreOffice made nothing of this {suffix} file")
    return target
