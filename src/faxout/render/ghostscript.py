"""PostScript, EPS and PDFs PDFium refuses: Ghostscript rewrites them as a clean PDF.

Ghostscript (``pdfwrite``) is the most forgiving PDF reader there is and the only PostScript
interpreter we have. We let it produce a PDF rather than the fax TIFF itself (``tiffg4``), so
every page still goes through one raster pipeline: the same scaling, header band, halftone,
warnings and limits as any other document. Text stays vector text in the PDF, so nothing is
lost by the detour.

Ghostscript runs in a jail of its own (:mod:`faxout.sandbox.jail`) that holds the input file
(read-only) and an empty output directory, nothing else: ``-dSAFER`` alone still lets a
PostScript program read, list and write Ghostscript's temporary directory, which was ``/tmp``
and everything faxout kept there. ``--permit-file-read`` names the input only.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

from faxout.render.result import RefusalReason
from faxout.render.sink import Refused
from faxout.sandbox import jail

_HOPELESS = ("No pages will be processed", "Couldn't initialise file")


def to_pdf(source: Path, target: Path, *, timeout_s: float, eps: bool = False) -> Path:
    """Convert ``source`` (PostScript, EPS or PDF) to ``target`` PDF or raise ``Refused``."""
    gs = shutil.which("gs")
    if gs is None:
        raise Refused(RefusalReason.CONVERTER_MISSING, "Ghostscript (gs) is not installed")
    outdir = Path(tempfile.mkdtemp(prefix="gs-", dir=target.parent))
    try:
        source = jail.readable(source, outdir)
        return _run(gs, source, target, outdir, timeout_s=timeout_s, eps=eps)
    finally:
        shutil.rmtree(outdir, ignore_errors=True)


def _run(gs: str, source: Path, target: Path, outdir: Path, *, timeout_s: float, eps: bool) -> Path:
    cell = jail.Jail(
        ro=[(source, Path("/in") / "document")],
        rw=[(outdir, Path("/out"))],
        budget=jail.converter_budget(timeout_s),
    )
    jail.prepare_rw(outdir, cell)
    inside = jail.enabled()
    src = "/in/document" if inside else str(source)
    produced = outdir / "result.pdf"
    command = [
        gs,
        "-q",
        "-dSAFER",  # no file access beyond the input and output (also gs 10's default)
        f"--permit-file-read={src}",
        "-dBATCH",
        "-dNOPAUSE",
        "-dNOINTERPOLATE",
        "-sDEVICE=pdfwrite",
        "-dAutoRotatePages=/None",  # geometry turns landscape pages; gs must not guess
        *(["-dEPSCrop"] if eps else []),
        f"-sOutputFile={'/out/result.pdf' if inside else produced}",
        "--",
        src,
    ]
    outcome = jail.run(cell, command, timeout_s=timeout_s)
    if outcome.timed_out:
        raise Refused(RefusalReason.TIME_LIMIT, f"Ghostscript took longer than {timeout_s:g} s")
    # gs exits 0 on input it could not parse at all and writes a blank page: catch that.
    hopeless = any(marker in outcome.output for marker in _HOPELESS)
    made = produced.is_file() and not produced.is_symlink() and produced.stat().st_size > 0
    if hopeless or outcome.returncode != 0 or not made:
        message = outcome.summary or f"exit status {outcome.returncode}"
        if "password" in outcome.output.lower():
            raise Refused(
                RefusalReason.ENCRYPTED,
                "the PDF is password-protected; send a copy without a password",
            )
        raise Refused(
            RefusalReason.CORRUPT,
            "it is damaged, or not really PostScript or PDF",
            f"Ghostscript: {message}",
        )
    shutil.move(produced, target)
    return target
