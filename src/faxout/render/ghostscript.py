"""PostScript, EPS and PDFs PDFium refuses: Ghostscript rewrites them as a clean PDF.

Ghostscript (``pdfwrite``) is the most forgiving PDF reader there is and the only PostScript
interpreter we have. We let it produce a PDF rather than the fax TIFF itself (``tiffg4``), so
every page still goes through one raster pipeline: the same scaling, header band, halftone,
warnings and limits as any other document. Text stays vector text in the PDF, so nothing is
lost by the detour.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from faxout.render.result import RefusalReason
from faxout.render.sink import Refused
from faxout.render.subprocess_run import run_bounded

_HOPELESS = ("No pages will be processed", "Couldn't initialise file")


def to_pdf(source: Path, target: Path, *, timeout_s: float, eps: bool = False) -> Path:
    """Convert ``source`` (PostScript, EPS or PDF) to ``target`` PDF or raise ``Refused``."""
    gs = shutil.which("gs")
    if gs is None:
        raise Refused(RefusalReason.CONVERTER_MISSING, "Ghostscript (gs) is not installed")
    command = [
        gs,
        "-q",
        "-dSAFER",  # no file access beyond the input and output (also gs 10's default)
        "-dBATCH",
        "-dNOPAUSE",
        "-dNOINTERPOLATE",
        "-sDEVICE=pdfwrite",
        "-dAutoRotatePages=/None",  # geometry turns landscape pages; gs must not guess
        *(["-dEPSCrop"] if eps else []),
        f"-sOutputFile={target}",
        "--",
        str(source),
    ]
    outcome = run_bounded(command, timeout_s=timeout_s)
    if outcome.timed_out:
        raise Refused(RefusalReason.TIME_LIMIT, f"Ghostscript took longer than {timeout_s:g} s")
    # gs exits 0 on input it could not parse at all and writes a blank page: catch that.
    hopeless = any(marker in outcome.stderr_tail for marker in _HOPELESS)
    if hopeless or outcome.returncode != 0 or not target.exists() or not target.stat().st_size:
        message = outcome.stderr_tail or f"exit status {outcome.returncode}"
        if "password" in message.lower():
            raise Refused(
                RefusalReason.ENCRYPTED,
                "the PDF is password-protected; send a copy without a password",
            )
        raise Refused(RefusalReason.CORRUPT, f"Ghostscript cannot read it: {message}")
    return target
