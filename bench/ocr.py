"""Legibility of fax pages, measured by OCR: word recall against the document's own text.

Used by ``bench/render.py --ocr`` (every corpus document) and ``tests/render/test_legibility.py``
(a few small ones). Nothing here is part of the service.

* **Reference words.** A PDF's own text layer (PDFium text extraction); a text file itself; a
  PostScript file's text from Ghostscript's ``txtwrite`` device; an office file or an HTML page
  converted to PDF first (LibreOffice, WeasyPrint), then its text layer. An image has no text
  layer: the generated scans of the letter take the letter PDF's text, a generated screenshot its
  ``.txt`` sidecar, and any other image the words tesseract reads in the image itself, at its own
  resolution, with a confidence of ``SURE`` (90) or more: what a reader of the original can
  read. Where that is fewer than ``MIN_WORDS`` words (photos, handwriting, the Japanese chart)
  the document is skipped, with the reason printed.
* **Words.** NFKC, diacritics dropped, case-folded; a word is a maximal run of letters and
  digits, and only words of 3 characters or more count (1- and 2-letter fragments are mostly OCR
  noise from rules, bullets and halftone dots). Numbers count: on a fax they matter.
* **Recall.** The fraction of the reference's words found in the OCR output, as multisets: a
  word that occurs 5 times in the document must be read 5 times.
* **OCR.** ``tesseract`` (Debian ``tesseract-ocr``, ``-eng``, ``-osd``), English, automatic
  page segmentation, one page at a time, ``--dpi`` the fax's horizontal 204. A normal-resolution
  page (204×98) is stretched 2× vertically first, so every page is OCRed at 204×196. A page
  that tesseract's orientation detector finds sideways is also read turned, and the reading
  with more sure words counts (``ocr_image``), as the recipient turns a landscape page.
* **Ghostscript the way HylaFAX runs it**: ``GS_FAX`` (``tiffg4``, 209×196 dpi so that A4's
  210 mm fill the 1728 px, fixed A4 media, fit to page), as ``bench/render.py`` times it. Text
  goes through HylaFAX's own ``textfmt`` first (its ``typerules``: Courier-Bold 11 pt, 0.4 in
  left margin), office files and HTML through their PDF, and images wrapped in a PDF at their
  resolution (HylaFAX has no image path except TIFF).
"""

from __future__ import annotations

import io
import os
import re
import shutil
import subprocess
import tempfile
import textwrap
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

MIN_WORDS = 20
SURE = 90  # tesseract's word confidence (0-100) for a reference word read off an image
FAX_DPI = 204
OFFICE = (".doc", ".docx", ".odt", ".ott", ".rtf", ".xls", ".xlsx", ".ods", ".ppt", ".pptx")
IMAGES = (".png", ".jpg", ".jpeg", ".gif", ".tif", ".tiff", ".bmp", ".webp")
# The corpus' generated scans of the letter (tools/make_generated.py renders letter_a4.pdf).
SCAN_SOURCES = {
    "scan_letter_a4_150dpi.png": "letter_a4.pdf",
    "phone_photo_letter.jpg": "letter_a4.pdf",
}
INSTALL = (
    "tesseract is not installed: apt-get install tesseract-ocr tesseract-ocr-eng tesseract-ocr-osd "
    "(`make test` installs deps/apt-test.txt)"
)


def gs_fax_args(fine: bool = True) -> list[str]:
    """Ghostscript's arguments for A4 fax pages, HylaFAX's ps2fax/pdf2fax geometry."""
    return [
        "-q",
        "-dSAFER",
        "-dBATCH",
        "-dNOPAUSE",
        "-sDEVICE=tiffg4",
        f"-r209.006x{196 if fine else 98}",
        f"-g1728x{2292 if fine else 1146}",
        "-dFIXEDMEDIA",
        "-dPDFFitPage",
    ]


def require_tesseract() -> str:
    """The tesseract binary, or RuntimeError saying how to install it (with its English and
    orientation data: without the latter, turned pages would silently read as nothing)."""
    binary = shutil.which("tesseract")
    if binary is None:
        raise RuntimeError(INSTALL)
    langs = subprocess.run([binary, "--list-langs"], capture_output=True, text=True).stdout
    if not {"eng", "osd"} <= set(langs.split()):
        raise RuntimeError(INSTALL)
    return binary


# --- words and recall ----------------------------------------------------------------------


def words(text: str) -> list[str]:
    """Normalised words of ``text`` (see the module docstring)."""
    text = unicodedata.normalize("NFKD", unicodedata.normalize("NFKC", text))
    text = "".join(c for c in text if not unicodedata.combining(c)).casefold()
    return [w for w in re.findall(r"[^\W_]+", text) if len(w) >= 3]


def recall(reference: Sequence[str], found: Iterable[str]) -> float:
    """Fraction of ``reference`` words matched in ``found``, multiset matching."""
    if not reference:
        return float("nan")
    matched = Counter(reference) & Counter(found)
    return sum(matched.values()) / len(reference)


# --- OCR ------------------------------------------------------------------------------------


def _tesseract(image: Image.Image, *args: str, check: bool = True) -> str:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    done = subprocess.run(
        [require_tesseract(), "stdin", "stdout", *args],
        input=buffer.getvalue(),
        capture_output=True,
        check=check,
        env={**os.environ, "OMP_THREAD_LIMIT": "1"},  # one core per page: the machine is shared
    )
    return done.stdout.decode("utf-8", "replace")


def _orientation(image: Image.Image, dpi: int) -> tuple[int, float]:
    """(degrees to turn clockwise, confidence) from tesseract's orientation detection."""
    osd = _tesseract(image, "--psm", "0", "--dpi", str(dpi), check=False)
    turn = re.search(r"Rotate: (\d+)", osd)
    confidence = re.search(r"Orientation confidence: ([\d.]+)", osd)
    if turn is None or confidence is None:
        return 0, 0.0
    return int(turn.group(1)) % 360, float(confidence.group(1))


def turn_suggested(image: Image.Image, dpi: int = FAX_DPI) -> int:
    """Degrees clockwise that would turn the page upright, by tesseract's orientation detection.

    The detector looks at the page as it is and at half size, averaged (halftone dots fool it
    at full size, thin strokes at half size); the more confident answer wins, 0 if neither is.
    """
    half = image.resize((image.width // 2, image.height // 2), Image.Resampling.BOX)
    degrees, confidence = max(
        _orientation(image, dpi), _orientation(half, dpi // 2), key=lambda found: found[1]
    )
    return degrees if confidence >= 1.0 else 0


def read_words(image: Image.Image, dpi: int = FAX_DPI) -> tuple[list[str], list[str]]:
    """(every word, the words read with confidence ``SURE`` or more) of one image."""
    tsv = _tesseract(image, "-l", "eng", "--psm", "3", "--dpi", str(dpi), "tsv")
    found: list[str] = []
    sure: list[str] = []
    for line in tsv.splitlines()[1:]:
        fields = line.split("\t")
        if len(fields) == 12 and fields[11].strip():
            found += words(fields[11])
            if float(fields[10]) >= SURE:
                sure += words(fields[11])
    return found, sure


def ocr_image(image: Image.Image, dpi: int = FAX_DPI) -> list[str]:
    """The words of one fax page, read the way up a recipient would hold it.

    Both renderers turn landscape sources a quarter onto portrait paper; the recipient turns
    the sheet back. When the orientation detector suggests a turn, the page is read both as
    it is and turned, and the reading with more sure words wins: on a page with little text
    the detector is sometimes wrong.
    """
    page = image.convert("L")
    found, sure = read_words(page, dpi)
    degrees = turn_suggested(page, dpi)
    if degrees:
        turned, turned_sure = read_words(page.rotate(-degrees, expand=True, fillcolor=255), dpi)
        if len(turned_sure) > len(sure):
            return turned
    return found


def fax_pages(tiff: Path) -> list[Image.Image]:
    """The pages of a fax TIFF as greyscale images at 204×196 (normal pages stretched 2×)."""
    pages = []
    with Image.open(tiff) as image:
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)
            page = image.convert("L")
            yres = float(image.info.get("dpi", (FAX_DPI, 196))[1])
            if yres < 150:
                page = page.resize((page.width, page.height * 2), Image.Resampling.NEAREST)
            pages.append(page)
    return pages


def ocr_fax(tiff: Path, jobs: int = 1) -> list[str]:
    """The words OCR reads on every page of a fax TIFF, pages in order."""
    pages = fax_pages(tiff)
    with ThreadPoolExecutor(max(1, jobs)) as pool:
        return [word for page in pool.map(ocr_image, pages) for word in page]


def ocr_source_words(path: Path) -> list[str]:
    """Words of an image document as tesseract reads them in the original, surely.

    Every frame at its own resolution (96 dpi if none); only words read with a confidence of
    ``SURE`` or more count, so that what the original does not show legibly (handwriting, a
    script other than Latin, a photo's texture) is not asked of the fax either.
    """
    found = []
    with Image.open(path) as image:
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)
            dpi = max(72, round(float(image.info.get("dpi", (96, 96))[0])) or 96)
            found += read_words(image.convert("L"), dpi)[1]
    return found


# --- the document's own text, and what Ghostscript is given ---------------------------------


@dataclass
class Case:
    """One document to measure: what faxout renders, what Ghostscript renders, the words."""

    name: str
    faxout_input: Path
    gs_input: Path
    reference: list[str]
    source: str  # where the reference words come from


@dataclass
class Skip:
    name: str
    reason: str


def pdf_text(path: Path) -> str:
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        texts = []
        for index in range(len(pdf)):
            textpage = pdf[index].get_textpage()
            texts.append(textpage.get_text_range())
            textpage.close()
        return "\n".join(texts)
    finally:
        pdf.close()


def first_pages(path: Path, count: int, out: Path) -> Path:
    """``path`` itself if it has at most ``count`` pages, else a copy of its first ``count``."""
    import pypdfium2 as pdfium

    pdf = pdfium.PdfDocument(str(path))
    try:
        if count <= 0 or len(pdf) <= count:
            return path
        short = pdfium.PdfDocument.new()
        short.import_pages(pdf, list(range(count)))
        short.save(str(out))
        short.close()
        return out
    finally:
        pdf.close()


def textfmt_ps(text_file: Path, out: Path) -> Path:
    """PostScript from HylaFAX's textfmt, as its typerules run it (Courier-Bold 11 pt, A4).

    Debian's hyla.conf points textfmt at font directories that no longer exist, so a private
    HOME gives it a Fontmap naming the URW Courier-Bold (the font Ghostscript substitutes).
    """
    textfmt = shutil.which("textfmt") or "/usr/sbin/textfmt"
    home = out.parent / "textfmt-home"
    home.mkdir(exist_ok=True)
    (home / ".hylarc").write_text(
        f"FontMap: {home}\nFontPath: /usr/share/fonts/type1/urw-base35\n", encoding="ascii"
    )
    (home / "Fontmap").write_text("/Courier-Bold (NimbusMonoPS-Bold.t1) ;\n", encoding="ascii")
    with text_file.open("rb") as source, out.open("wb") as sink:
        subprocess.run(
            [textfmt, "-B", "-f", "Courier-Bold", "-Ml=0.4in", "-p", "11", "-s", "a4"],
            stdin=source,
            stdout=sink,
            check=True,
            env={**os.environ, "HOME": str(home)},
        )
    return out


def office_pdf(path: Path, workdir: Path) -> Path:
    """LibreOffice's PDF of an office file (cold, with a private profile)."""
    profile = workdir / "lo-profile"
    outdir = workdir / f"lo-{path.stem}"
    subprocess.run(
        [
            "soffice",
            f"-env:UserInstallation=file://{profile}",
            "--headless",
            "--convert-to",
            "pdf",
            "--outdir",
            str(outdir),
            str(path),
        ],
        check=True,
        capture_output=True,
        timeout=180,
    )
    return outdir / f"{path.stem}.pdf"


def html_pdf(path: Path, out: Path) -> Path:
    """WeasyPrint's PDF of an HTML page, fetching nothing but ``data:`` URLs (as faxout does)."""
    import weasyprint

    def fetch(url: str) -> dict[str, object]:
        if not url.startswith("data:"):
            raise ValueError(f"not fetched: {url}")
        return weasyprint.default_url_fetcher(url)  # type: ignore[no-any-return]

    weasyprint.HTML(filename=str(path), url_fetcher=fetch).write_pdf(str(out))
    return out


def image_pdf(path: Path, out: Path) -> Path:
    """The image (every frame) as a PDF whose page is the image at its resolution (96 if none)."""
    frames = []
    with Image.open(path) as image:
        dpi = float(image.info.get("dpi", (96, 96))[0]) or 96.0
        for index in range(getattr(image, "n_frames", 1)):
            image.seek(index)
            frame = image.convert("RGB") if image.mode not in ("1", "L") else image.copy()
            frames.append(frame)
    frames[0].save(out, "PDF", resolution=dpi, save_all=True, append_images=frames[1:])
    return out


def prepare(path: Path, workdir: Path, max_pages: int = 0) -> Case | Skip:
    """What to measure for one document; ``max_pages`` limits PDFs to their first pages.

    A document with fewer than ``MIN_WORDS`` reference words is skipped: one word would be
    5 points or more of its recall.
    """
    case = _prepare(path, workdir, max_pages)
    if isinstance(case, Case) and len(case.reference) < MIN_WORDS:
        found = f"{len(case.reference)} words in its {case.source}, fewer than {MIN_WORDS}"
        return Skip(path.name, f"too little text to measure ({found})")
    return case


def _prepare(path: Path, workdir: Path, max_pages: int) -> Case | Skip:
    suffix = path.suffix.lower()
    work = workdir / path.stem
    work.mkdir(parents=True, exist_ok=True)
    if suffix == ".pdf":
        short = first_pages(path, max_pages, work / path.name)
        return Case(path.name, short, short, words(pdf_text(short)), "PDF text")
    if suffix in (".ps", ".eps"):
        text = subprocess.run(
            ["gs", "-q", "-dSAFER", "-dBATCH", "-dNOPAUSE", "-sDEVICE=txtwrite", "-o", "-", path],
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        return Case(path.name, path, path, words(text), "gs txtwrite")
    if suffix == ".txt":
        ps = textfmt_ps(path, work / "textfmt.ps")
        return Case(path.name, path, ps, words(path.read_text("utf-8")), "the file")
    if suffix in OFFICE:
        pdf = office_pdf(path, workdir)
        return Case(path.name, path, pdf, words(pdf_text(pdf)), "PDF text (LibreOffice)")
    if suffix in (".html", ".htm"):
        pdf = html_pdf(path, work / "page.pdf")
        return Case(path.name, path, pdf, words(pdf_text(pdf)), "PDF text (WeasyPrint)")
    if suffix in IMAGES:
        pdf = image_pdf(path, work / "image.pdf")
        sidecar = path.with_suffix(".txt")
        scan_of = path.parent / SCAN_SOURCES.get(path.name, "-")
        if sidecar.exists():
            return Case(path.name, path, pdf, words(sidecar.read_text("utf-8")), "generator")
        if scan_of.exists():
            return Case(path.name, path, pdf, words(pdf_text(scan_of)), f"{scan_of.name} text")
        return Case(path.name, path, pdf, ocr_source_words(path), "OCR of the original")
    return Skip(path.name, f"no reference text for {suffix or 'a file without a suffix'}")


# --- the two renderers ----------------------------------------------------------------------


def render_faxout(source: Path, out: Path, fine: bool = True) -> Path:
    from faxout.render import RenderOptions, Resolution, render_document

    options = RenderOptions(resolution=Resolution.HIGH if fine else Resolution.LOW)
    result = render_document(source, out, options)
    if result.refusal is not None:
        raise RuntimeError(f"faxout refused {source.name}: {result.refusal}")
    return out


def render_gs(source: Path, out: Path, fine: bool = True) -> Path:
    subprocess.run(
        ["gs", *gs_fax_args(fine), f"-sOutputFile={out}", str(source)],
        check=True,
        capture_output=True,
    )
    return out


@dataclass
class Legibility:
    name: str
    words: int
    faxout: float
    gs: float
    faxout_pages: int
    gs_pages: int
    source: str

    @property
    def difference(self) -> float:
        return self.faxout - self.gs


def measure(case: Case, workdir: Path, fine: bool = True, jobs: int = 1) -> Legibility:
    """Render ``case`` both ways, OCR both, and compare with its reference words."""
    ours = render_faxout(case.faxout_input, workdir / f"{case.name}.faxout.tif", fine)
    theirs = render_gs(case.gs_input, workdir / f"{case.name}.gs.tif", fine)
    ours_words, gs_words = ocr_fax(ours, jobs), ocr_fax(theirs, jobs)
    return Legibility(
        name=case.name,
        words=len(case.reference),
        faxout=recall(case.reference, ours_words),
        gs=recall(case.reference, gs_words),
        faxout_pages=len(fax_pages(ours)),
        gs_pages=len(fax_pages(theirs)),
        source=case.source,
    )


# --- generated text screenshots -------------------------------------------------------------

SCREENSHOT_TEXT = (
    "Backup finished with warnings. 3 of 412 files could not be copied because another "
    "program had them open. Close the mail client and the spreadsheet, then press Retry. "
    "Your previous backup from Monday remains available under Settings, Storage, History."
)
SCREENSHOT_LARGE_TEXT = (
    "Order 48213 was shipped on 14 November by express courier and should arrive within "
    "two working days. The parcel contains the replacement pump housing, four gaskets and "
    "the printed installation guide. Please check the serial number on the label against "
    "the one on your invoice before fitting the part. If anything is missing or damaged, "
    "reply to this message with a photograph of the label and we will send the missing "
    "items free of charge. Our service desk answers calls on weekdays between eight in the "
    "morning and six in the evening, and the tracking page shows the current position of "
    "every parcel we send."
)


def _font(size: int) -> ImageFont.FreeTypeFont:
    return ImageFont.truetype("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf", size)


RGB = tuple[int, int, int]


def _window(
    size: tuple[int, int],
    background: RGB,
    bar: tuple[int, RGB],
    title: tuple[str, int, RGB, tuple[int, int]],
) -> tuple[Image.Image, ImageDraw.ImageDraw]:
    """A window: ``background``, a title bar (height, colour), its title (text, px, ink, at)."""
    image = Image.new("RGB", size, background)
    draw = ImageDraw.Draw(image)
    height, colour = bar
    text, points, ink, at = title
    draw.rectangle((0, 0, size[0], height), fill=colour)
    draw.text(at, text, font=_font(points), fill=ink)
    return image, draw


def text_screenshot(out: Path, large: bool = False) -> Path:
    """A PNG screenshot of text on tinted grey, without a dpi, and its ``.txt`` sidecar.

    Small: 384×191 px, a dialog (blue-grey title bar, light grey body, 12 px anti-aliased
    DejaVu Sans, a Retry button), the case issue 13 names. Large: 1280×720 px, a web-mail
    pane: pale blue background, a light grey quote box, 15 px text.
    """
    if large:
        title = "Inbox: Your order has been shipped"
        image, draw = _window(
            (1280, 720), (226, 233, 243), (44, (188, 202, 222)), (title, 17, (20, 30, 50), (24, 12))
        )
        draw.rectangle((40, 330, 1240, 560), fill=(205, 208, 212))
        lines = textwrap.wrap(SCREENSHOT_LARGE_TEXT, 120)
        half = len(lines) // 2
        for index, line in enumerate(lines):
            top = 70 + 24 * index if index < half else 350 + 24 * (index - half)
            draw.text((60, top), line, font=_font(15), fill=(40, 40, 40))
        words_shown = [title, *lines]
    else:
        title = "Backup assistant"
        image, draw = _window(
            (384, 191), (228, 228, 232), (24, (92, 112, 140)), (title, 13, (255, 255, 255), (10, 5))
        )
        lines = textwrap.wrap(SCREENSHOT_TEXT, 56)
        for index, line in enumerate(lines):
            draw.text((12, 34 + 17 * index), line, font=_font(12), fill=(30, 30, 30))
        draw.rectangle((300, 158, 372, 182), fill=(200, 200, 206), outline=(120, 120, 130))
        draw.text((318, 163), "Retry", font=_font(12), fill=(20, 20, 20))
        words_shown = [title, *lines, "Retry"]
    image.save(out)
    out.with_suffix(".txt").write_text("\n".join(words_shown) + "\n", encoding="utf-8")
    return out


def screenshots(directory: Path) -> list[Path]:
    """Both generated screenshots, written into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    return [
        text_screenshot(directory / "screenshot_small.png"),
        text_screenshot(directory / "screenshot_large.png", large=True),
    ]


def main() -> None:
    """``python bench/ocr.py FILE...``: the recall of each file, faxout against Ghostscript."""
    import sys

    with tempfile.TemporaryDirectory() as tmp:
        for arg in sys.argv[1:]:
            case = prepare(Path(arg), Path(tmp))
            if isinstance(case, Skip):
                print(f"{case.name}: skipped, {case.reason}")
                continue
            row = measure(case, Path(tmp))
            print(f"{row.name}: {row.words} words, faxout {row.faxout:.3f}, gs {row.gs:.3f}")


if __name__ == "__main__":
    main()
