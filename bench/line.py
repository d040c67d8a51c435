"""simline benchmark: line seconds vs CPU per page for the eight ITU charts (issue 4).

Usage::

    .venv/bin/python bench/line.py [--quick] [--media audio,t38] [--json]
    .venv/bin/python bench/line.py --threads     # 8 concurrent calls: threads, processes

For each medium × resolution (fine, standard) × modem × ECM × coding it sends the eight CCITT
charts as one 8-page fax over the simulated line and prints:

* line s/page: simulated line seconds per page, steady state (mean gap between the page
  confirmations of pages 2..8; page 1 also carries the call set-up, shown separately);
* CPU ms/page: process CPU time of the whole call (both endpoints, the line, Python) / 8;
* × real time: line seconds / CPU seconds of the call, per core;
* bytes/page on the wire beside the published compression ratios of the eight charts
  (MH 7.7:1, MR 11.6:1, MMR 15.5:1);
* for ECM + MMR at V.17 the floor: wire bits / 14 400 bit/s (plus ECM HDLC framing) plus the
  T.30 per-page overhead, computed here, and the gap to it (target: within 10 %).

Targets (issue 4): ≥ 500× real time per core on audio, ≥ 2000× on T.38.
"""

from __future__ import annotations

import argparse
import asyncio
import functools
import itertools
import json
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from callpool import ProcessCallPool  # noqa: E402
from faxout.transmit.result import (  # noqa: E402
    CallProgress,
    CallResult,
    Compression,
    FaxCall,
    Modem,
)
from faxout.transmit.simline import Medium, SimLineConfig, SimLineTransport  # noqa: E402

CHARTS = sorted((ROOT / "tests" / "transmit" / "data" / "itu").glob("ccitt-itu*.tif"))
PUBLISHED_RATIO = {Compression.MH: 7.7, Compression.MR: 11.6, Compression.MMR: 15.5}
RATES = {Modem.V17: 14400, Modem.V29: 9600, Modem.V27TER: 4800}

# T.30 per-page overhead in ECM at V.17, from the recommendations (seconds):
V21_PREAMBLE = 1.0  # T.30 5.3.1: 1 s of flags before every V.21 HDLC message
PPS_BITS = (3 + 4 + 2 + 1) * 8  # PPS-MPS: address, control, FCF, FCF2 + 3 counters, FCS, flag
MCF_BITS = (3 + 2 + 1) * 8
TURNAROUND = 2 * 0.075  # 75 ms of silence at each change of direction
V17_SHORT_TRAIN = 406 / 2400  # V.17 short training: 406 symbols at 2400 baud
RCP_TAIL = 3 * 6 * 8 / 14400  # three RCP frames end each page's image data
PER_PAGE_OVERHEAD = (
    V21_PREAMBLE * 2 + (PPS_BITS + MCF_BITS) / 300 + TURNAROUND + V17_SHORT_TRAIN + RCP_TAIL
)
# ECM frames: 256 data bytes + address, control, FCF, frame number (4) + FCS (2) + 1 flag.
ECM_FRAMING = (256 + 4 + 2 + 1) / 256


@dataclass
class Row:
    medium: str
    resolution: str
    modem: str
    ecm: bool
    coding: str
    line_per_page: float
    first_page: float
    line_total: float
    cpu_ms_per_page: float
    x_real_time: float
    bytes_per_page: float
    ratio: float
    floor: float | None
    ok: bool


def make_documents(folder: Path) -> dict[str, tuple[Path, int]]:
    """The eight charts as one 8-page TIFF at fine and at standard resolution."""
    fine = [Image.open(p).convert("1") for p in CHARTS]
    standard = [p.resize((p.width, p.height // 2), Image.Resampling.NEAREST) for p in fine]
    out: dict[str, tuple[Path, int]] = {}
    for name, pages, dpi in (("fine", fine, (200, 200)), ("standard", standard, (200, 100))):
        path = folder / f"itu-{name}.tif"
        pages[0].save(path, compression="group4", dpi=dpi, save_all=True, append_images=pages[1:])
        out[name] = (path, sum(p.width * p.height for p in pages) // 8)
    return out


def run(
    medium: Medium,
    resolution: str,
    doc: Path,
    raw_bytes: int,
    modem: Modem,
    ecm: bool,
    coding: Compression,
    folder: Path,
) -> Row:
    codings = tuple(Compression)[: tuple(Compression).index(coding) + 1]
    call = FaxCall(doc, "+4930", "bench", modems=(modem,), ecm=ecm, compressions=codings)
    transport = SimLineTransport(SimLineConfig(folder, medium=medium))
    pages: list[float] = []

    def progress(event: CallProgress) -> None:
        if event.stage == "page" and event.verdict == "MCF":
            pages.append(event.line_seconds)

    cpu = time.process_time()
    result = transport.send(call, progress)
    cpu = time.process_time() - cpu
    gaps = [b - a for a, b in itertools.pairwise(pages)]
    wire = [p.image_bytes or 0 for p in result.pages]
    per_page = statistics.fmean(gaps) if gaps else float("nan")
    floor = None
    if ecm and coding is Compression.MMR and modem is Modem.V17 and len(wire) > 1:
        bits = statistics.fmean(wire[1:]) * 8 * ECM_FRAMING
        floor = bits / RATES[modem] + PER_PAGE_OVERHEAD
    return Row(
        medium=medium.value,
        resolution=resolution,
        modem=modem.value,
        ecm=ecm,
        coding=(result.compression or coding).value,
        line_per_page=per_page,
        first_page=pages[0] if pages else float("nan"),
        line_total=result.line_seconds,
        cpu_ms_per_page=cpu * 1000 / max(1, len(wire)),
        x_real_time=result.line_seconds / cpu if cpu else float("inf"),
        bytes_per_page=statistics.fmean(wire) if wire else 0.0,
        ratio=raw_bytes * len(wire) / sum(wire) if sum(wire) else 0.0,
        floor=floor,
        ok=result.success,
    )


def threads(docs: dict[str, tuple[Path, int]], folder: Path, medium: Medium) -> None:
    """Aggregate throughput of 8 concurrent calls (fine charts, V.17 ECM): 1, 2, 4 threads;
    1, 2 processes."""
    transport = SimLineTransport(SimLineConfig(folder, medium=medium))
    doc = docs["fine"][0]
    for workers in (1, 2, 4):
        calls = [FaxCall(doc, "+4930", f"t{workers}-{i}") for i in range(8)]
        wall = time.perf_counter()
        cpu = time.process_time()
        with ThreadPoolExecutor(workers) as pool:
            results = list(pool.map(lambda c: transport.send(c, lambda _: None), calls))
        wall = time.perf_counter() - wall
        cpu = time.process_time() - cpu
        line = sum(r.line_seconds for r in results)
        ok = all(r.success for r in results)
        print(
            f"{medium.value:5} {workers} threads: {line / wall:6.0f}× real time aggregate, "
            f"CPU/wall {cpu / wall:.2f}, all ok: {ok}",
            flush=True,
        )
    for workers in (1, 2):
        factory = functools.partial(SimLineTransport, SimLineConfig(folder, medium=medium))
        calls = [FaxCall(doc, "+4930", f"p{workers}-{i}") for i in range(8)]

        async def run_all(pool: ProcessCallPool, calls: list[FaxCall] = calls) -> list[CallResult]:
            return await asyncio.gather(*(pool.send(c, lambda _: None) for c in calls))

        with ProcessCallPool(factory, workers) as pool:
            asyncio.run(run_all(pool, calls[:workers]))  # warm up: spawn and import
            wall = time.perf_counter()
            results = asyncio.run(run_all(pool))
            wall = time.perf_counter() - wall
        line = sum(r.line_seconds for r in results)
        ok = all(r.success for r in results)
        print(
            f"{medium.value:5} {workers} processes: {line / wall:6.0f}× real time aggregate, "
            f"all ok: {ok}",
            flush=True,
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="V.17 only, fine resolution only")
    parser.add_argument("--media", default="audio,t38")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--threads", action="store_true", help="only the concurrency figures")
    args = parser.parse_args()
    media = [Medium(m) for m in args.media.split(",")]
    modems = [Modem.V17] if args.quick else list(Modem)
    resolutions = ["fine"] if args.quick else ["fine", "standard"]
    rows: list[Row] = []
    if not args.json and not args.threads:
        print(HEADER)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        docs = make_documents(folder)
        if args.threads:
            for medium in media:
                threads(docs, folder, medium)
            return
        for medium, resolution, modem, ecm, coding in itertools.product(
            media, resolutions, modems, (True, False), Compression
        ):
            if coding is Compression.MMR and not ecm:
                continue  # T.6 needs ECM; it would go out as MR
            doc, raw = docs[resolution]
            rows.append(run(medium, resolution, doc, raw // 8, modem, ecm, coding, folder))
            if not args.json:
                print_row(rows[-1])
    if args.json:
        print(json.dumps([r.__dict__ for r in rows], indent=2))
        return
    summarise(rows)


HEADER = (
    f"{'medium':6} {'res':8} {'modem':7} {'ecm':3} {'code':4} {'s/page':>7} {'page1':>6} "
    f"{'CPUms/p':>7} {'×real':>6} {'B/page':>7} {'ratio':>6} {'publ.':>5} {'floor':>6} ok"
)


def print_row(r: Row) -> None:
    floor = f"{r.floor:6.1f}" if r.floor else "      "
    published = PUBLISHED_RATIO[Compression(r.coding)]
    print(
        f"{r.medium:6} {r.resolution:8} {r.modem:7} {'on' if r.ecm else 'off':3} {r.coding:4} "
        f"{r.line_per_page:7.1f} {r.first_page:6.1f} {r.cpu_ms_per_page:7.1f} "
        f"{r.x_real_time:6.0f} {r.bytes_per_page:7.0f} {r.ratio:6.1f} {published:5.1f} "
        f"{floor} {'yes' if r.ok else 'NO'}",
        flush=True,
    )


def summarise(rows: list[Row]) -> None:
    print()
    print(f"T.30 per-page overhead used for the floor (ECM, V.17): {PER_PAGE_OVERHEAD:.2f} s")
    for medium, target in (("audio", 500), ("t38", 2000)):
        xs = [r.x_real_time for r in rows if r.medium == medium]
        if xs:
            print(
                f"{medium}: × real time per core min {min(xs):.0f}, median "
                f"{statistics.median(xs):.0f} (target ≥ {target}×)"
            )
    for r in rows:
        if r.floor:
            gap = (r.line_per_page / r.floor - 1) * 100
            print(
                f"{r.medium} {r.resolution} V.17 ECM MMR: {r.line_per_page:.2f} s/page vs floor "
                f"{r.floor:.2f} s ({gap:+.1f} %; target within 10 %)"
            )
    bad = [r for r in rows if not r.ok]
    print(f"calls: {len(rows)}, all pixel-strict successes: {'yes' if not bad else 'NO'}")


if __name__ == "__main__":
    main()
