"""Noisy-line benchmark: multi-page faxes to the noisy test line +1 555 777 0004, audio and T.38.

Usage (from the repository root)::

    .venv/bin/python bench/noisy.py                        # 3 documents x 10 seeds x 2 media
    .venv/bin/python bench/noisy.py --seeds 20 --media t38 --jobs 2
    .venv/bin/python bench/noisy.py --retries 2            # follow a broken call as an attempt does
    .venv/bin/python bench/noisy.py --before               # the same pages, sent by 3d1e528
    .venv/bin/python bench/noisy.py --json                 # one JSON object per call on stdout

Ten-page faxes to this number used to break off after 0-15 pages (spandsp's V.17 short training
failing, T2 expiring, DCN: T.30 code 15 on audio; lost PPRs counting towards three retries:
code 21 on T.38); commit 09d5b54 fixed it. This measures it.

* **Documents**, rendered by faxout's renderer on the paper the gateway picks for a ``+1``
  number (Letter), fine, G4: ``report_10p_a4.pdf`` of the generated corpus after the Default
  cover page (11 pages), the first 15 pages of ``report_50p_letter.pdf``, and the real
  ``debian-shared-mime-info-spec.pdf`` (17 pages).
* **Header**: each document goes through ``faxout.transmit.pages.prepare`` with the header of
  the default format (``pages.header_for``, a fixed time), as an attempt does at send time:
  the header is drawn into each page's blank top band, in the jail when jailing is on.
* **Calls**: ``SimLineTransport.send`` to ``+15557770004`` (the noisy far end: gated noise
  20 dB under the signal on audio; 1 % datagram loss, no redundancy, on T.38), offering
  every modem, for the noise seeds ``--first-seed`` .. ``+ --seeds - 1``
  (``SimLineConfig.seed``). Each call runs in its own Python process, ``--jobs`` at a time.
* ``--retries N``: a call that did not deliver everything is followed by up to N more, as the
  attempt runner does: from the first unconfirmed page (the pages prepared again from there),
  offering what ``faxout.transmit.attempt`` offers after such a call (no V.17 after a broken
  V.17 call), the k-th further call with seed + 1000 k.
* ``--before [COMMIT]``: the calls run on the source tree of COMMIT (default 3d1e528, just
  before the fix), extracted with ``git archive`` into a temporary directory and put first on
  the calls' ``sys.path``; the pages are still rendered and stamped by this tree, so only the
  transmission differs. No step-down on retries then (the old attempt runner had none). Its
  ``FaxCall`` and ``SimLineTransport`` take the same arguments as today's.

Printed per document x medium: runs (document x seed), calls, runs delivered whole by their
first call, runs delivered in the end (with ``--retries``), pages confirmed / pages of the
document over all runs, the mean final bit rate and line seconds of the calls, the T.30 codes
of the calls that did not deliver everything, and the pages confirmed by each failed first call.
"""

from __future__ import annotations

import argparse
import collections
import datetime as dt
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
NUMBER = "+15557770004"
BEFORE = "3d1e528"  # the commit just before 09d5b54, the noisy-line fix
ALL = ("v17", "v29", "v27ter")
REAL_PDF = "debian-shared-mime-info-spec.pdf"


@dataclass(frozen=True)
class Document:
    """A prepared document: its parts (cover first) and the stamped file of all its pages."""

    name: str
    parts: tuple[Path, ...]
    prepared: Path
    pages: int


@dataclass
class Run:
    """One document sent for one seed on one medium: its calls' results."""

    document: str
    medium: str
    seed: int
    pages: int
    calls: list[dict[str, Any]] = field(default_factory=list)

    @property
    def confirmed(self) -> int:
        return sum(c["pages_confirmed"] for c in self.calls)

    @property
    def whole_first(self) -> bool:
        return bool(self.calls) and self.calls[0]["success"]

    @property
    def delivered(self) -> bool:
        return bool(self.calls) and self.calls[-1]["success"] and self.confirmed >= self.pages


# --- the call, in its own process ------------------------------------------------------------


def call_main(spec: dict[str, Any]) -> None:
    """Child mode: one call through ``SimLineTransport.send``, its result as one JSON line."""
    sys.path.insert(0, spec["src"])
    from faxout.transmit.result import FaxCall, Modem
    from faxout.transmit.simline import Medium, SimLineConfig, SimLineTransport

    with tempfile.TemporaryDirectory(prefix="noisy-") as tmp:
        config = SimLineConfig(Path(tmp), medium=Medium(spec["medium"]), seed=spec["seed"])
        call = FaxCall(
            Path(spec["document"]),
            NUMBER,
            spec["call_id"],
            modems=tuple(Modem(m) for m in spec["modems"]),
            ident=spec["ident"],
        )
        started = time.perf_counter()
        result = SimLineTransport(config).send(call, lambda _event: None)
        data = result.to_json()
        data["wall"] = time.perf_counter() - started
    print(json.dumps(data))


def place_call(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one call in a fresh interpreter whose ``faxout`` comes from ``spec["src"]``."""
    env = {**os.environ, "PYTHONPATH": spec["src"]}
    done = subprocess.run(
        [sys.executable, __file__, "--call", json.dumps(spec)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        timeout=1800,
    )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = done.stderr.strip().splitlines()[-3:]
        return {
            "outcome": "error",
            "t30_code": None,
            "t30_text": " / ".join(tail),
            "pages_confirmed": 0,
            "success": False,
            "bit_rate": None,
            "modem": None,
            "line_seconds": 0.0,
            "wall": 0.0,
        }
    data: dict[str, Any] = json.loads(lines[-1])
    return data


# --- documents -------------------------------------------------------------------------------


def make_documents(work: Path, header: Any) -> list[Document]:
    """Render the three documents (Letter, fine, G4) and stamp them with ``header``."""
    import pypdfium2 as pdfium

    from faxout.render import render_document
    from faxout.render.cover import CoverSheet, render_cover
    from faxout.render.options import Paper, RenderOptions
    from faxout.transmit import pages

    options = RenderOptions(paper=Paper.for_destination(NUMBER, "15550109999"))
    generated = CORPUS / "generated"

    # The first 15 pages of the 50-page report, as their own PDF.
    cut = work / "report_50p_letter_15p.pdf"
    source = pdfium.PdfDocument(generated / "report_50p_letter.pdf")
    subset = pdfium.PdfDocument.new()
    subset.import_pages(source, list(range(15)))
    subset.save(cut)
    subset.close()
    source.close()

    plan = [
        ("report_10p_a4 + cover", generated / "report_10p_a4.pdf", True),
        ("report_50p_letter p1-15", cut, False),
        (REAL_PDF.removesuffix(".pdf"), CORPUS / "real" / "pdf" / REAL_PDF, False),
    ]
    documents = []
    for i, (name, pdf, cover) in enumerate(plan):
        body = work / f"doc{i}.tif"
        rendered = render_document(pdf, body, options)
        if rendered.refusal is not None:
            raise SystemExit(f"{name}: refused: {rendered.refusal}")
        parts = [body]
        if cover:
            sheet = CoverSheet(
                sender_name="Noisy Bench",
                sender_number="+1 555-010-9999",
                recipient_name="Noisy line",
                recipient_number=pages.international(NUMBER),
                pages=rendered.pages + 1,
                subject="noisy line benchmark",
                date=dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC),
            )
            parts.insert(0, work / f"cover{i}.tif")
            render_cover(sheet, parts[0], options)
        prepared = prepare(parts, 1, header, work / f"prep{i}-1")
        documents.append(Document(name, tuple(parts), prepared.path, prepared.total))
    return documents


def prepare(parts: list[Path], first_page: int, header: Any, workdir: Path) -> Any:
    """``pages.prepare`` in a fresh directory (it wants copies of the parts beside its spec)."""
    import shutil

    from faxout.transmit import pages

    workdir.mkdir(parents=True)
    copies = []
    for part in parts:
        copies.append(workdir / part.name)
        shutil.copyfile(part, copies[-1])
    return pages.prepare(copies, first_page, header, workdir)


def the_header() -> tuple[Any, str]:
    """The default header of a sender account calling the noisy line, and our TSI."""
    from faxout.transmit import pages

    sender = pages.Sender(
        username="15550109999", name="Noisy Bench", station="", time_zone="", tagline=""
    )
    ident = pages.station_ident(sender, "faxout")
    now = dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC)
    header = pages.header_for(pages.HeaderStyle(), sender, ident, "Noisy line", NUMBER, 1, now)
    return header, ident


# --- runs ------------------------------------------------------------------------------------


def run_one(
    doc: Document, medium: str, seed: int, retries: int, ident: str, src: str, before: bool,
    work: Path, header: Any,
) -> Run:  # fmt: skip
    """Send ``doc`` once, then up to ``retries`` more calls from its first unconfirmed page."""
    run = Run(doc.name, medium, seed, doc.pages)
    document, modems, first = doc.prepared, ALL, 1
    for attempt in range(1, retries + 2):
        spec = {
            "src": src,
            "medium": medium,
            "seed": seed + 1000 * (attempt - 1),
            "document": str(document),
            "call_id": f"noisy-{seed}-{attempt}",
            "modems": list(modems),
            "ident": ident,
        }
        result = place_call(spec)
        run.calls.append(result)
        if result["success"] or attempt > retries or result["outcome"] == "error":
            break
        first += result["pages_confirmed"]
        if first > doc.pages:
            break
        safe = doc.name.replace(" ", "_").replace("+", "")
        folder = work / f"resume-{safe}-{medium}-{seed}-{attempt}"
        document = prepare(list(doc.parts), first, header, folder).path
        modems = ALL if before else next_modems(result)
    return run


def next_modems(result: dict[str, Any]) -> tuple[str, ...]:
    """What today's attempt runner offers after a call that ended like ``result``."""
    from faxout.transmit.attempt import _modems_after

    return tuple(m.value for m in _modems_after(result["modem"], result["outcome"]))


def summarise(runs: list[Run], documents: list[Document], media: list[str]) -> None:
    print(
        f"{'document':28} {'medium':6} {'runs':>4} {'calls':>5} {'whole 1st':>9} "
        f"{'delivered':>9} {'pages conf.':>12} {'bit/s':>6} {'line s':>6}  failure codes; "
        "pages confirmed by failed first calls"
    )
    totals: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0, 0, 0])
    for doc in documents:
        for medium in media:
            chosen = [r for r in runs if r.document == doc.name and r.medium == medium]
            calls = [c for r in chosen for c in r.calls]
            rates = [c["bit_rate"] for c in calls if c.get("bit_rate")]
            codes = collections.Counter(c["t30_code"] for c in calls if not c["success"])
            at = sorted(r.calls[0]["pages_confirmed"] for r in chosen if not r.whole_first)
            whole = sum(r.whole_first for r in chosen)
            delivered = sum(r.delivered for r in chosen)
            confirmed = sum(min(r.confirmed, r.pages) for r in chosen)
            total = sum(r.pages for r in chosen)
            rate = f"{statistics.fmean(rates):6.0f}" if rates else "     -"
            line = statistics.fmean(c["line_seconds"] for c in calls) if calls else 0.0
            code_text = ", ".join(f"{k}x{v}" for k, v in sorted(codes.items(), key=str)) or "-"
            print(
                f"{doc.name:28} {medium:6} {len(chosen):4} {len(calls):5} "
                f"{f'{whole}/{len(chosen)}':>9} {f'{delivered}/{len(chosen)}':>9} "
                f"{f'{confirmed}/{total}':>12} {rate} {line:6.0f}  {code_text}"
                + (f"; {at}" if at else "")
            )
            t = totals[medium]
            t[0] += whole
            t[1] += len(chosen)
            t[2] += confirmed
            t[3] += total
    for medium, (whole, n, confirmed, total) in totals.items():
        print(
            f"total {medium}: {whole}/{n} runs delivered whole by one call, "
            f"pages {confirmed}/{total}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=10, help="noise seeds per document x medium")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--media", default="audio,t38")
    parser.add_argument("--jobs", type=int, default=2, help="calls (processes) at a time")
    parser.add_argument("--retries", type=int, default=0, help="further calls after a broken one")
    parser.add_argument(
        "--before", nargs="?", const=BEFORE, metavar="COMMIT", help="send with COMMIT's source"
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per call")
    parser.add_argument("--call", help=argparse.SUPPRESS)  # child mode: one call
    args = parser.parse_args()
    if args.call:
        call_main(json.loads(args.call))
        return
    sys.path.insert(0, str(ROOT / "src"))
    media = args.media.split(",")
    seeds = range(args.first_seed, args.first_seed + args.seeds)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="faxout-noisy-") as tmp:
        work = Path(tmp)
        src = str(ROOT / "src")
        if args.before:
            before = work / "before"
            before.mkdir()
            archive = subprocess.run(
                ["git", "archive", args.before, "src"], cwd=ROOT, capture_output=True, check=True
            )
            subprocess.run(["tar", "-x", "-C", str(before)], input=archive.stdout, check=True)
            src = str(before / "src")
        header, ident = the_header()
        documents = make_documents(work, header)
        tree = f"commit {args.before} (pre-fix)" if args.before else "this tree"
        print(
            f"Noisy line {NUMBER}: {len(documents)} documents x {len(seeds)} seeds "
            f"({seeds.start}..{seeds.stop - 1}) x {', '.join(media)}; calls by {tree}, "
            f"{args.jobs} at a time, retries {args.retries}",
            file=sys.stderr,
        )
        for doc in documents:
            print(f"  {doc.name}: {doc.pages} pages", file=sys.stderr)
        tasks = [(d, m, s) for d in documents for m in media for s in seeds]
        with ThreadPoolExecutor(args.jobs) as pool:
            runs = list(
                pool.map(
                    lambda t: run_one(
                        t[0], t[1], t[2], args.retries, ident, src, bool(args.before), work, header
                    ),
                    tasks,
                )
            )
    wall = time.perf_counter() - started
    if args.json:
        for run in runs:
            for i, c in enumerate(run.calls, 1):
                row = {"document": run.document, "medium": run.medium, "seed": run.seed}
                print(json.dumps({**row, "call": i, **c}))
        return
    summarise(runs, documents, media)
    print(f"wall time {wall:.0f} s", file=sys.stderr)


if __name__ == "__main__":
    main()
