"""Office documents (Word, Excel, PowerPoint, ODF, RTF) to PDF with headless LibreOffice.

The warm path (:mod:`faxout.render.office_warm`) keeps one soffice per process and converts
in about 0.1 s. Where it cannot run (no ``python3-uno``), each conversion starts
``soffice --headless --convert-to pdf`` (about 1 s) with a profile directory owned by this
process: two soffice processes sharing a profile block each other, and a profile kept across
conversions saves the first-start cost (another second). Either way the process group is
killed on timeout.

Both paths run LibreOffice jailed (:mod:`faxout.sandbox.jail`), starting from a fresh copy of
the pristine, locked-down profile: nothing a document does to a profile outlives its soffice.

The input is copied under a name with the suffix detection found, because LibreOffice picks
its import filter partly by extension and the client's own name is not trusted.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from faxout.render import office_warm
from faxout.render.result import RefusalReason
from faxout.render.sink import Refused
from faxout.sandbox import jail


def to_pdf(source: Path, suffix: str, workdir: Path, *, timeout_s: float) -> Path:
    """Convert ``source`` to a PDF inside ``workdir`` or raise ``Refused``."""
    soffice = shutil.which("soffice") or shutil.which("libreoffice")
    if soffice is None:
        raise Refused(RefusalReason.CONVERTER_MISSING, "LibreOffice (soffice) is not installed")
    named = workdir / f"document{suffix}"
    shutil.copyfile(source, named)
    named.chmod(0o644)  # read by the jailed uid
    outdir = workdir / "out"
    outdir.mkdir()
    warm = office_warm.instance()
    if warm is not None:
        return _convert_warm(warm, named, outdir / "document.pdf", suffix, timeout_s)
    return _convert_cold(soffice, named, outdir, suffix, timeout_s)


def _convert_cold(soffice: str, named: Path, outdir: Path, suffix: str, timeout_s: float) -> Path:
    cell = jail.Jail(
        ro=[
            (office_warm.pristine_profile(), Path("/lo/pristine")),
            (named, Path("/in") / named.name),
        ],
        rw=[(outdir, Path("/out"))],
        budget=jail.converter_budget(timeout_s),
        tmp_bytes=128 * 1024 * 1024,
        env={"LD_LIBRARY_PATH": str(Path(office_warm.office_binary(soffice)).parent)},
    )
    jail.prepare_rw(outdir, cell)
    inside = jail.enabled()
    profile = Path(jail.JAIL_TMP, "profile") if inside else outdir.parent / "profile"
    pristine = "/lo/pristine" if inside else str(office_warm.pristine_profile())
    if not inside:
        shutil.rmtree(profile, ignore_errors=True)
    command = [
        "/bin/sh",
        "-c",
        # soffice.bin, not the soffice script (which wants /proc): a fresh profile makes it
        # exit 81 asking to be started again, which the script would have done.
        'cp -r "$1" "$2" && shift 2 && { "$@"; s=$?; [ $s -eq 81 ] && exec "$@"; exit $s; }',
        "sh",
        pristine,
        str(profile),
        office_warm.office_binary(soffice),
        f"-env:UserInstallation={profile.as_uri()}",
        *office_warm.SOFFICE_FLAGS,
        "--convert-to",
        "pdf",
        "--outdir",
        "/out" if inside else str(outdir),
        f"/in/{named.name}" if inside else str(named),
    ]
    outcome = jail.run(cell, command, timeout_s=timeout_s)
    if outcome.timed_out:
        raise Refused(RefusalReason.TIME_LIMIT, f"LibreOffice took longer than {timeout_s:g} s")
    produced = outdir / "document.pdf"
    if produced.is_symlink() or not produced.exists() or produced.stat().st_size == 0:
        raise Refused(
            RefusalReason.CORRUPT,
            _unreadable(suffix),
            f"LibreOffice: {outcome.summary or f'exit status {outcome.returncode}'}",
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
        raise Refused(RefusalReason.CORRUPT, _unreadable(suffix), f"LibreOffice: {exc}") from exc
    if not target.exists() or target.stat().st_size == 0:
        raise Refused(RefusalReason.CORRUPT, _unreadable(suffix), "LibreOffice wrote no PDF")
    return target


def _unreadable(suffix: str) -> str:
    kind = suffix.lstrip(".").upper() or "office"
    return f"this {kind} file is damaged or not really one; save it again, or as PDF, and resend"
