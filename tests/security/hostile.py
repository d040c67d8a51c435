"""The hostile corpus: documents that attack the renderer, made here (never downloaded).

Each PostScript attack draws its own verdict: a page filled black when it reached anything
it must not (read a secret, listed a directory, wrote a file, found another fax's text), a
one-inch square when it ran and found nothing. So a test needs no OCR to tell a leak from a
harmless page, and the same document rendered with the jail off proves the oracle works.

    python -m tests.security.hostile OUTDIR    # writes every document of the corpus
"""

from __future__ import annotations

import sys
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image

_PROLOGUE = b"""%!PS-Adobe-3.0
/found false def
/hit { /found true def } def
/tryread { /p exch def
  mark { p (r) file dup 256 string readstring pop length 0 gt { hit } if closefile } stopped
  pop cleartomark } def
/trywrite { /p exch def
  mark { p (w) file dup (planted by a fax) writestring closefile hit } stopped
  pop cleartomark } def
/trylist { /pat exch def
  mark { pat { pop hit } 1024 string filenameforall } stopped pop cleartomark } def
/scan { /sec exch def /pat exch def
  mark { pat { dup length string copy /f exch def
      mark { f (r) file dup 65535 string readstring pop exch closefile
             sec search { pop pop pop hit } { pop } ifelse } stopped pop cleartomark
    } 1024 string filenameforall } stopped pop cleartomark } def
"""
_VERDICT = b"""
found { clippath fill }
      { newpath 72 72 moveto 144 72 lineto 144 144 lineto 72 144 lineto closepath fill }
      ifelse
showpage
"""


def _ps_string(text: str) -> bytes:
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return b"(" + escaped.encode() + b")"


def reader(secrets: Sequence[Path]) -> bytes:
    """Tries to read each of ``secrets`` (the database, another file under /tmp…)."""
    body = b"".join(_ps_string(str(p)) + b" tryread\n" for p in secrets)
    return _PROLOGUE + body + _VERDICT


def lister(directories: Sequence[Path]) -> bytes:
    """Tries to list each of ``directories`` (the data directory, /tmp, the document store)."""
    body = b"".join(_ps_string(f"{d}/*") + b" trylist\n" for d in directories)
    return _PROLOGUE + body + _VERDICT


def writer(targets: Sequence[Path]) -> bytes:
    """Tries to create each of ``targets`` (a file planted in the data directory, a changed
    LibreOffice profile: the first step of the code-execution chain)."""
    body = b"".join(_ps_string(str(p)) + b" trywrite\n" for p in targets)
    return _PROLOGUE + body + _VERDICT


def racer(pattern: str, secret: str, seconds: float) -> bytes:
    """Scans files matching ``pattern`` for ``secret`` until found or ``seconds`` pass: the
    document that waits for another account's fax to be rendered and prints it."""
    loop = (
        b"/until realtime %d add def\n"
        b"{ %s %s scan found { exit } if realtime until gt { exit } if } loop\n"
        % (int(seconds * 1000), _ps_string(pattern), _ps_string(secret))
    )
    return _PROLOGUE + loop + _VERDICT


def endless_loop() -> bytes:
    """Twenty bytes that never finish."""
    return b"%!PS\n{ } loop\n"


def memory_hog() -> bytes:
    """Asks Ghostscript for 6.5 GB, 64 KiB at a time."""
    return b"%!PS\n/d 100000 dict def 0 1 99999 { d exch 65535 string put } for showpage\n"


def _pdf(objects: Sequence[bytes]) -> bytes:
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % o for o in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (
        len(objects) + 1,
        xref,
    )
    return bytes(out)


def huge_page(points: int = 14_400_000) -> bytes:
    """A 450-byte PDF whose one page is ``points`` long (2.8 km)."""
    content = b"0 0 m 100 100 l S"
    return _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 %d] /Contents 4 0 R >>" % points,
            b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
        ]
    )


def inflation_bomb(side: int = 32_768) -> bytes:
    """A PDF of about 1 MB whose one image inflates to ``side``² bytes (1 GiB)."""
    squeeze = zlib.compressobj(9)
    row = bytes(side)
    data = b"".join(squeeze.compress(row) for _ in range(side)) + squeeze.flush()
    content = b"q 612 0 0 792 0 0 cm /Im0 Do Q"
    image = (
        b"<< /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray "
        b"/BitsPerComponent 8 /Filter /FlateDecode /Length %d >>\nstream\n"
        % (side, side, len(data))
    )
    return _pdf(
        [
            b"<< /Type /Catalog /Pages 2 0 R >>",
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R "
            b"/Resources << /XObject << /Im0 5 0 R >> >> >>",
            b"<< /Length %d >>\nstream\n" % len(content) + content + b"\nendstream",
            image + data + b"\nendstream",
        ]
    )


def black_ratio(tiff: Path) -> list[float]:
    """The share of black pixels on each page of a rendered fax (its band included)."""
    ratios = []
    with Image.open(tiff) as img:
        for index in range(getattr(img, "n_frames", 1)):
            img.seek(index)
            page = np.asarray(img.convert("1"), dtype=bool)
            ratios.append(1.0 - float(page.mean()))  # True is white in mode "1"
    return ratios


def verdict(tiff: Path) -> str:
    """ "leaked", "harmless" (the attack ran and found nothing) or "blank" (it never ran)."""
    (ratio,) = black_ratio(tiff)
    if ratio > 0.5:
        return "leaked"
    return "harmless" if ratio > 0.002 else "blank"


def write_corpus(out: Path, data_dir: Path) -> list[Path]:
    """Every document of the corpus, aimed at ``data_dir``, written to ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    documents = {
        "read-secrets.ps": reader([data_dir / "faxout.db", Path("/etc/shadow")]),
        "list-dirs.ps": lister([data_dir, data_dir / "documents", data_dir.parent]),
        "plant-file.ps": writer([data_dir / "planted.txt", Path("/tmp/planted.txt")]),
        "endless.ps": endless_loop(),
        "memory.ps": memory_hog(),
        "huge-page.pdf": huge_page(),
        "inflation-bomb.pdf": inflation_bomb(),
    }
    written = []
    for name, data in documents.items():
        (out / name).write_bytes(data)
        written.append(out / name)
    return written


if __name__ == "__main__":
    for path in write_corpus(Path(sys.argv[1]), Path(sys.argv[2] if len(sys.argv) > 2 else "var")):
        print(path)
