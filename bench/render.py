"""Rendering benchmark: our warm worker against Ghostscript, side by side in the same run.

    .venv/bin/python bench/render.py [--corpus ../shared/corpus] [--repeat 3] [--office]
    .venv/bin/python bench/render.py --ocr-only [--ocr-pages 10] [--normal] [--jobs 2]

* PDFs: every ``*.pdf`` under ``real/pdf`` and ``generated`` of the corpus, fine resolution,
  G4, A4. Ours runs as one warm worker process over the whole list (imports and a warm-up
  page excluded, as in the service); Ghostscript runs once per document with the HylaFAX
  geometry (``tiffg4``, 209x196 dpi, 1728x2292). Both are timed in CPU seconds (user+sys),
  which is steadier than wall time on a shared machine; the repetitions interleave the two.
* Peak RSS of a worker rendering the 111-page nettle manual.
* Mean G4 bytes per page, text documents and photo/scan documents apart.
* ``--office``: each office file of the corpus through the warm LibreOffice, median wall
  time per file (conversion to PDF and rendering of its pages).
* ``--ocr`` (``--ocr-only`` without the timings): legibility, the OCR word recall of every
  corpus document and two generated text screenshots, ours against Ghostscript the HylaFAX way,
  with the difference in points; methodology in ``bench/ocr.py``. Needs tesseract.

Prints ratios (ours / Ghostscript) rather than absolute targets: the machine is shared.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).parent))
import ocr  # noqa: E402

PHOTO_DOCS = {
    "photo_page_a4.pdf",
    "pypdf-jpeg.pdf",
    "pypdf-side-by-side-subfig.pdf",
    "pypdf-Seige_of_Vicksburg_Sample_OCR.pdf",
    "pypdf-AutoCad_Diagram.pdf",
}
MANUAL = "debian-nettle-manual.pdf"
OFFICE = (".doc", ".docx", ".odt", ".ott", ".rtf", ".xls", ".xlsx", ".ods", ".ppt", ".pptx")


def _worker(paths: list[str]) -> None:
    """Child mode: render every path once warm, print JSON (cpu s, pages, bytes, peak RSS)."""
    from faxout.render import render_document

    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "out.tif"
        render_document(Path(paths[0]), out)  # warm-up: PDFium init, screen tile, caches
        rows = []
        for path in paths:
            start = time.process_time()
            result = render_document(Path(path), out)
            cpu = time.process_time() - start
            rows.append(
                {
                    "name": Path(path).name,
                    "cpu": cpu,
                    "pages": result.pages,
                    "bytes": sum(result.page_bytes),
                }
            )
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"rows": rows, "peak_mb": peak_mb}))


def run_ours(paths: list[Path]) -> dict[str, object]:
    command = [sys.executable, __file__, "--worker", *map(str, paths)]
    done = subprocess.run(command, capture_output=True, text=True, check=True, cwd=ROOT)
    data: dict[str, object] = json.loads(done.stdout)
    return data


def run_gs(paths: list[Path]) -> list[dict[str, object]]:
    from PIL import Image

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "gs.tif"
        for path in paths:
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            subprocess.run(
                ["gs", *ocr.gs_fax_args(), f"-sOutputFile={out}", str(path)],
                check=True,
            )
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
            with Image.open(out) as image:
                pages = getattr(image, "n_frames", 1)
            rows.append(
                {"name": path.name, "cpu": cpu, "pages": pages, "bytes": out.stat().st_size}
            )
    return rows


def _bytes_per_page(rows: list[dict[str, object]], photo: bool) -> float:
    chosen = [r for r in rows if (r["name"] in PHOTO_DOCS) == photo]
    pages = sum(int(r["pages"]) for r in chosen)  # type: ignore[call-overload]
    return sum(int(r["bytes"]) for r in chosen) / max(1, pages) / 1024  # type: ignore[call-overload]


def bench_pdfs(corpus: Path, repeat: int) -> None:
    paths = sorted((corpus / "real" / "pdf").glob("*.pdf")) + sorted(
        (corpus / "generated").glob("*.pdf")
    )
    ours_cpu, gs_cpu = [], []
    ours_rows: list[dict[str, object]] = []
    gs_rows: list[dict[str, object]] = []
    for round_ in range(repeat):
        order = ["ours", "gs"] if round_ % 2 == 0 else ["gs", "ours"]
        for which in order:
            if which == "ours":
                ours_rows = run_ours(paths)["rows"]  # type: ignore[assignment]
                ours_cpu.append(sum(float(r["cpu"]) for r in ours_rows))  # type: ignore[arg-type]
            else:
                gs_rows = run_gs(paths)
                gs_cpu.append(sum(float(r["cpu"]) for r in gs_rows))  # type: ignore[arg-type]
    pages = sum(int(r["pages"]) for r in ours_rows)  # type: ignore[call-overload]
    gs_pages = sum(int(r["pages"]) for r in gs_rows)  # type: ignore[call-overload]
    ours_s, gs_s = statistics.median(ours_cpu), statistics.median(gs_cpu)
    ratios = [g / o for o, g in zip(ours_cpu, gs_cpu, strict=True)]
    print(
        f"PDF corpus: {len(paths)} documents, {pages} pages (gs: {gs_pages}), "
        f"fine, G4, {repeat} round(s), median CPU"
    )
    print(
        f"  {'renderer':34s} {'CPU s':>7s} {'pages/s/core':>13s} "
        f"{'KiB/p text':>11s} {'KiB/p photo':>12s}"
    )
    print(
        f"  {'ours (one warm worker)':34s} {ours_s:7.2f} {pages / ours_s:13.1f} "
        f"{_bytes_per_page(ours_rows, False):11.1f} {_bytes_per_page(ours_rows, True):12.1f}"
    )
    print(
        f"  {'gs -sDEVICE=tiffg4, one per doc':34s} {gs_s:7.2f} {gs_pages / gs_s:13.1f} "
        f"{_bytes_per_page(gs_rows, False):11.1f} {_bytes_per_page(gs_rows, True):12.1f}"
    )
    print(
        f"  speed ratio ours/gs (pages/s): {(pages / ours_s) / (gs_pages / gs_s):.2f}x "
        f"(per round: {', '.join(f'{r:.2f}' for r in ratios)})"
    )
    manual = [p for p in paths if p.name == MANUAL]
    if manual:
        peak = run_ours(manual)["peak_mb"]
        print(f"  peak RSS of a worker on the {MANUAL.split('-')[1]} manual (111 p): {peak:.0f} MB")


def bench_office(corpus: Path, repeat: int) -> None:
    from faxout.render import render_document

    files = [p for p in sorted(corpus.rglob("*")) if p.suffix in OFFICE]
    times: dict[str, list[float]] = {p.name: [] for p in files}
    pages: dict[str, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        render_document(files[0], Path(tmp) / "o.tif")  # starts this process's soffice
        for _ in range(repeat):
            for path in files:
                start = time.perf_counter()
                pages[path.name] = render_document(path, Path(tmp) / "o.tif").pages
                times[path.name].append(time.perf_counter() - start)
    medians = {name: statistics.median(values) for name, values in times.items()}
    for name, value in medians.items():
        print(f"  {name:45s} {pages[name]:3d} p {value * 1000:6.0f} ms")
    print(
        f"office: {len(files)} files, median {statistics.median(medians.values()) * 1000:.0f} ms "
        f"per file over {repeat} round(s) (warm LibreOffice, PDF step + fax pages)"
    )


def corpus_documents(corpus: Path) -> list[Path]:
    """Every document of the corpus, generated first (its tools and notes left out)."""
    found = [p for p in sorted((corpus / "generated").iterdir()) if p.is_file()]
    for folder in sorted((corpus / "real").iterdir()):
        found += [p for p in sorted(folder.iterdir()) if p.is_file()]
    return found


def bench_ocr(corpus: Path, max_pages: int, fine: bool, jobs: int) -> None:
    ocr.require_tesseract()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        documents = corpus_documents(corpus) + ocr.screenshots(work / "screenshots")
        rows: list[ocr.Legibility] = []
        skipped: list[ocr.Skip] = []
        print(
            f"Legibility: OCR word recall, {'fine' if fine else 'normal'}, A4, "
            f"PDFs cut to their first {max_pages or 'all'} pages"
        )
        print(
            f"  {'document':46s} {'words':>6s} {'pages':>7s} {'faxout':>7s} {'gs':>6s} "
            f"{'diff':>6s}  reference"
        )
        for path in documents:
            try:
                case = ocr.prepare(path, work / "cases", max_pages)
                if isinstance(case, ocr.Skip):
                    skipped.append(case)
                    continue
                row = ocr.measure(case, work, fine, jobs)
            except (RuntimeError, OSError, subprocess.SubprocessError) as error:
                skipped.append(ocr.Skip(path.name, f"failed: {error}"))
                continue
            rows.append(row)
            pages = f"{row.faxout_pages}/{row.gs_pages}"
            print(
                f"  {row.name:46s} {row.words:6d} {pages:>7s} {row.faxout:7.3f} {row.gs:6.3f} "
                f"{row.difference * 100:+6.1f}  {row.source}",
                flush=True,
            )
        mean_ours = statistics.mean(r.faxout for r in rows)
        mean_gs = statistics.mean(r.gs for r in rows)
        worst = min(rows, key=lambda r: r.difference)
        print(
            f"  {'mean of ' + str(len(rows)) + ' documents':46s} {'':6s} {'':7s} "
            f"{mean_ours:7.3f} {mean_gs:6.3f} {(mean_ours - mean_gs) * 100:+6.1f}"
        )
        print(f"  worst difference: {worst.name} {worst.difference * 100:+.1f} points")
        for skip in skipped:
            print(f"  skipped {skip.name}: {skip.reason}")


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _worker(sys.argv[2:])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--office", action="store_true")
    parser.add_argument("--ocr", action="store_true", help="also measure legibility by OCR")
    parser.add_argument("--ocr-only", action="store_true", help="only the OCR measure")
    parser.add_argument("--ocr-pages", type=int, default=10, help="PDF pages per doc (0: all)")
    parser.add_argument("--normal", action="store_true", help="OCR at normal resolution")
    parser.add_argument("--jobs", type=int, default=2, help="tesseract processes at once")
    args = parser.parse_args()
    if not args.ocr_only:
        bench_pdfs(args.corpus, args.repeat)
        if args.office:
            bench_office(args.corpus, args.repeat)
    if args.ocr or args.ocr_only:
        bench_ocr(args.corpus, args.ocr_pages, not args.normal, args.jobs)


if __name__ == "__main__":
    main()
