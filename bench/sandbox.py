"""What the converter jail costs: the same work with the jail on and off, in one run.

    .venv/bin/python bench/sandbox.py [--corpus ../shared/corpus] [--repeat 5]

* office: each office file of the corpus converted to PDF by a warm LibreOffice (the
  conversion alone, after one warm-up), median wall time per file, jailed and unjailed.
* gs: each PostScript file of the corpus through Ghostscript to PDF, median wall time.
* pool: every PDF of the corpus rendered to fax pages by one warm render worker (jailed or
  not), total wall time, and the time to start a pool of one worker.

Prints both and the ratio (jailed / unjailed); the issue's target is a warm office conversion
under 150 ms per file with the jail on.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
OFFICE = (".doc", ".docx", ".odt", ".ott", ".rtf", ".xls", ".xlsx", ".ods", ".ppt", ".pptx")


def _median_ms(fn: Callable[[], None], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times) * 1000


def bench_office(files: list[Path], repeat: int, tmp: Path) -> dict[str, float]:
    from faxout.render import office_warm

    office_warm.instance.cache_clear()
    warm = office_warm.instance()
    assert warm is not None, "python3-uno is needed"
    try:
        results = {}
        for path in files:
            named = tmp / f"document{path.suffix}"
            named.write_bytes(path.read_bytes())
            target = tmp / "out.pdf"
            warm.convert(named, target, 60)  # warm-up (and the first start)
            again = lambda n=named, t=target: warm.convert(n, t, 60)  # noqa: E731
            results[path.name] = _median_ms(again, repeat)
        return results
    finally:
        warm.close()


def bench_gs(files: list[Path], repeat: int, tmp: Path) -> dict[str, float]:
    from faxout.render import ghostscript

    return {
        p.name: _median_ms(lambda p=p: ghostscript.to_pdf(p, tmp / "gs.pdf", timeout_s=60), repeat)
        for p in files
    }


def bench_pool(files: list[Path], tmp: Path) -> tuple[float, float]:
    from faxout.render import RenderPool

    started = time.perf_counter()
    with RenderPool(workers=1) as pool:
        start = time.perf_counter() - started
        pool.render_submission(files[:1], tmp / "warm.tif")
        started = time.perf_counter()
        for path in files:
            pool.render_submission([path], tmp / "out.tif")
        return start * 1000, (time.perf_counter() - started) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--corpus", type=Path, default=ROOT.parent / "shared" / "corpus")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    every = sorted(p for p in args.corpus.rglob("*") if p.is_file())
    office = [p for p in every if p.suffix.lower() in OFFICE]
    postscript = [p for p in every if p.suffix.lower() in (".ps", ".eps")]
    pdfs = [p for p in every if p.suffix.lower() == ".pdf"]
    print(f"corpus: {len(office)} office, {len(postscript)} PostScript, {len(pdfs)} PDF files")
    measured: dict[str, dict[str, object]] = {}
    for mode in ("false", "true"):
        os.environ["FAXOUT_RENDER__SANDBOX"] = mode
        with tempfile.TemporaryDirectory() as tmp:
            measured[mode] = {
                "office": bench_office(office, args.repeat, Path(tmp)),
                "gs": bench_gs(postscript, args.repeat, Path(tmp)),
                "pool": bench_pool(pdfs, Path(tmp)),
            }
    off, on = measured["false"], measured["true"]
    for kind in ("office", "gs"):
        a, b = off[kind], on[kind]
        assert isinstance(a, dict) and isinstance(b, dict)
        for name in a:
            print(f"{kind:6} {name:40} unjailed {a[name]:7.0f} ms  jailed {b[name]:7.0f} ms  "
                  f"ratio {b[name] / a[name]:.2f}")  # fmt: skip
        if a:
            ma, mb = statistics.median(a.values()), statistics.median(b.values())
            print(f"{kind:6} median per file: unjailed {ma:.0f} ms, jailed {mb:.0f} ms, "
                  f"ratio {mb / ma:.2f}")  # fmt: skip
    (sa, ra), (sb, rb) = off["pool"], on["pool"]  # type: ignore[misc]
    print(f"pool   start of one worker: unjailed {sa:.0f} ms, jailed {sb:.0f} ms")
    print(f"pool   {len(pdfs)} PDFs: unjailed {ra:.0f} ms, jailed {rb:.0f} ms, ratio {rb / ra:.2f}")


if __name__ == "__main__":
    main()
