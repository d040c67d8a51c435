"""Transports benchmark: line seconds per page for the eight ITU charts over SIP T.38, SIP G.711
and HylaFAX/iaxmodem, side by side with the simulated line and the T.30 floor.

Usage (from the repository root; HylaFAX needs root and the apt packages ``hylafax-server
hylafax-client iaxmodem``, otherwise it is skipped)::

    .venv/bin/python bench/transports.py            # 8 charts, all transports (~12 min)
    .venv/bin/python bench/transports.py --quick    # charts 1-2 only (~3 min)
    .venv/bin/python bench/transports.py --json     # one JSON object on stdout
    .venv/bin/python bench/transports.py --transports sip-t38,simline-t38 --charts 3

Progress goes to stderr while it runs (the SIP and HylaFAX calls run in real time).

Methodology
-----------
The charts (``tests/transmit/data/itu/ccitt-itu{1..8}.tif``, the same files ``bench/line.py``
sends) go out as one multi-page fax at fine resolution, written as a TIFF-F by faxout's own
``TiffFWriter`` (MinIsWhite, one G4 strip a page, 204 × 196 dpi) so that HylaFAX sends it as it
is instead of re-imaging it. Every transport offers its best: V.17, ECM, MMR (T.6).

* ``simline-t38`` / ``simline-audio``: ``SimLineTransport`` (T.38 paced at 20 ms / clean
  G.711), simulated time, so these take a few CPU seconds.
* ``sip-t38``: ``SipTransport`` → ``SipReceiver`` on loopback, no proxy. The call starts on
  G.711; the receiver re-INVITEs to T.38 (``T38Mode.REQUEST``, as a gateway that detects fax),
  our sender accepts. Line time is the sender's 20 ms media clock from the answer.
* ``sip-g711``: the same with T.38 off at the sender: G.711 A-law over RTP all the way.
* ``hylafax``: ``HylaFaxTransport`` → a private HylaFAX (faxq/hfaxd) whose two iaxmodems call
  each other over IAX2 on loopback (``tests/transmit/hylafax_server.py``). That link is its own
  T.30 stack (HylaFAX's Class 1 driver over iaxmodem's spandsp 0.0.5); what it negotiated is
  read off HylaFAX's session log. HylaFAX's job status only tells the total, so its per-page
  times come from the ``SEND recv MCF`` timestamps of the session log (10 ms resolution), its
  clock starting at ``DIAL`` (an ECM page of more than 256 frames has an MCF per block; the
  one before ``SEND end page`` counts); the total / pages figure is printed as well.

Per chart: chart ``i > 1`` is the line time between the MCF of page ``i - 1`` and that of page
``i`` (image data, PPS-MPS/EOP, MCF, turnarounds, the V.17 short train); chart 1 is counted
from the DIS (what precedes it, the call set-up, is shown on its own line), so it also carries
DCS + TCF. The floor is ``bench/line.py``'s for ECM + MMR at V.17: the chart's wire bytes (ECM
framing added) at 14 400 bit/s plus the T.30 per-page overhead. Each received fax is compared
with the sent document pixel by pixel (ECM: they must be identical).

Targets (the transports issue): SIP T.38 within 5 % of simline T.38 on every chart
(ratio ≤ 1.05), and no slower than HylaFAX/iaxmodem on any chart (ratio ≤ 1.00).
"""

from __future__ import annotations

import argparse
import datetime
import json
import re
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image
from pydantic import SecretStr

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from bench.line import CHARTS, ECM_FRAMING, PER_PAGE_OVERHEAD, RATES  # noqa: E402
from tests.transmit import hylafax_server as lab_mod  # noqa: E402
from tests.transmit.pages import assert_same_pages  # noqa: E402

from faxout.render.tiff import TiffFWriter  # noqa: E402
from faxout.transmit.hylafax import HylaFaxConfig, HylaFaxTransport  # noqa: E402
from faxout.transmit.result import CallProgress, CallResult, Compression, FaxCall, Modem  # noqa: E402
from faxout.transmit.simline import Medium, SimLineConfig, SimLineTransport  # noqa: E402
from faxout.transmit.sip.config import SipConfig  # noqa: E402
from faxout.transmit.sip.receiver import ReceiverConfig, SipReceiver  # noqa: E402
from faxout.transmit.sip.session import T38Mode  # noqa: E402
from faxout.transmit.sip.stack import SipStack  # noqa: E402
from faxout.transmit.sip.transport import SipTransport  # noqa: E402

TRANSPORTS = ("simline-t38", "simline-audio", "sip-t38", "sip-g711", "hylafax")
NUMBER = "+15551234"
IDENT = "faxout bench"
T38_TARGET = 1.05  # SIP T.38 / simline T.38, per chart
HYLAFAX_TARGET = 1.00  # SIP T.38 / HylaFAX, per chart


@dataclass
class Run:
    """One transport's call of the whole document."""

    transport: str
    ok: bool = False
    outcome: str = ""
    negotiated: str = ""
    setup: float | None = None  # line seconds from the start to the DIS
    mcf: list[float] = field(default_factory=list)  # line seconds of each page's MCF
    page_seconds: list[float] = field(default_factory=list)  # chart 1 from the DIS
    line_total: float = 0.0  # the transport's own figure for the whole call
    wall: float = 0.0
    image_bytes: list[int] = field(default_factory=list)
    received: str = ""  # the verification verdict
    timing_source: str = ""
    notes: list[str] = field(default_factory=list)

    def finish_pages(self) -> None:
        """Per-chart seconds from the MCF times (chart 1 counted from the DIS)."""
        if not self.mcf:
            return
        first = self.mcf[0] - (self.setup or 0.0)
        self.page_seconds = [first] + [b - a for a, b in zip(self.mcf, self.mcf[1:], strict=False)]

    @property
    def steady(self) -> float | None:
        """Mean seconds per page over pages 2..n."""
        rest = self.page_seconds[1:]
        return statistics.fmean(rest) if rest else None


def say(text: str) -> None:
    """Progress, on stderr (stdout carries the table or the JSON)."""
    print(text, file=sys.stderr, flush=True)


def make_document(path: Path, charts: list[Path]) -> Path:
    """The charts as one fine-resolution TIFF-F (what HylaFAX sends without re-imaging)."""
    with TiffFWriter(path, lpi=196, compression=Compression.MMR) as writer:
        for chart in charts:
            with Image.open(chart) as img:
                writer.add_page(~np.array(img.convert("1"), dtype=bool))
    return path


def verify(sent: Path, received: Path | None) -> str:
    """'pixel-identical (n pages)' or what differs."""
    with Image.open(sent) as img:
        pages = getattr(img, "n_frames", 1)
    try:
        assert_same_pages(sent, received)
    except AssertionError as exc:
        if str(exc):
            return f"DIFFERS: {exc}"
        if received is None or not received.exists():
            return "DIFFERS: nothing received"
        with Image.open(received) as img:
            return f"DIFFERS: {getattr(img, 'n_frames', 1)} of {pages} pages received"
    return f"pixel-identical ({pages} pages)"


def negotiated(result: CallResult) -> str:
    """What a spandsp-driven call settled on."""
    if result.modem is None:
        return "?"
    parts = [f"{result.modem} {result.bit_rate or '?'} bit/s"]
    parts.append("ECM" if result.ecm else "no ECM")
    parts.append(str(result.compression or "?").upper())
    return ", ".join(parts)


class Watch:
    """Collects a spandsp-driven call's progress (page MCF times, the DIS) and echoes it."""

    def __init__(self, name: str, pages: int) -> None:
        self.name = name
        self.pages = pages
        self.mcf: list[float] = []
        self.dis: float | None = None
        self.started = time.monotonic()

    def __call__(self, event: CallProgress) -> None:
        wall = time.monotonic() - self.started
        if event.stage == "negotiated" and self.dis is None:
            self.dis = event.line_seconds
        if event.stage == "page" and event.verdict == "MCF":
            self.mcf.append(event.line_seconds)
        if event.stage in ("page", "negotiated", "answered", "hangup"):
            what = f"page {event.page}/{self.pages} {event.verdict}" if event.page else event.stage
            say(
                f"  [{self.name}] {what} at {event.line_seconds:6.1f} s line "
                f"({wall:6.1f} s wall) {event.detail}"
            )


def fill(run: Run, result: CallResult, watch: Watch, wall: float) -> None:
    """A Run from a spandsp-driven call's result and progress."""
    run.ok = result.success
    run.outcome = f"{result.outcome.value}: {result.t30_text}"
    run.negotiated = negotiated(result)
    run.setup = watch.dis
    run.mcf = watch.mcf
    run.line_total = result.line_seconds
    run.wall = wall
    run.image_bytes = [p.image_bytes or 0 for p in result.pages]
    run.timing_source = "page confirmations (MCF) on the sender's line clock"
    run.notes = list(result.notes)
    run.finish_pages()


def run_simline(medium: Medium, doc: Path, pages: int, folder: Path) -> Run:
    name = f"simline-{medium.value}"
    transport = SimLineTransport(SimLineConfig(folder / name, medium=medium))
    watch = Watch(name, pages)
    wall = time.monotonic()
    result = transport.send(FaxCall(doc, NUMBER, name, ident=IDENT), watch)
    run = Run(name)
    fill(run, result, watch, time.monotonic() - wall)
    run.received = verify(doc, result.received_path)
    return run


def run_sip(t38: bool, doc: Path, pages: int, folder: Path, later: ExitStack) -> Run:
    """One SIP call on loopback: sender → receiver, no proxy.

    Both SIP endpoints are closed by ``later`` at the end of the benchmark: sippy keeps an ended
    call's UA for 32 s (``godead_timeout``), and a stack closed before then makes that timer
    raise inside sippy's event loop (an AttributeError traceback on stderr)."""
    name = "sip-t38" if t38 else "sip-g711"
    receiver = SipReceiver(
        ReceiverConfig(
            data_dir=folder / name, port=0, t38=T38Mode.REQUEST if t38 else T38Mode.ACCEPT
        )
    )
    later.callback(receiver.close)
    stack = SipStack("127.0.0.1", 0)
    later.callback(stack.close)
    run = Run(name)
    config = SipConfig(
        proxy=f"127.0.0.1:{receiver.port}",
        local_address="127.0.0.1",
        t38=T38Mode.ACCEPT if t38 else T38Mode.OFF,
    )
    transport = SipTransport(config, stack=stack)
    watch = Watch(name, pages)
    wall = time.monotonic()
    result = transport.send(FaxCall(doc, NUMBER, name, ident=IDENT), watch)
    fill(run, result, watch, time.monotonic() - wall)
    got = receiver.wait_for(1, 30)
    if not got:
        run.received = "DIFFERS: the receiver stored nothing"
        return run
    fax = got[0]
    run.negotiated = f"{fax.medium or '?'}: {run.negotiated}"
    where = Path(fax.path) if fax.path else None
    run.received = f"{verify(doc, where)}; receiver: {fax.pages} pages, {fax.t30_text}"
    return run


# HylaFAX session log lines: "Nov 26 22:44:27.70: [26899]: SEND recv MCF (message confirmation)"
_LOG_LINE = re.compile(r"^\w{3} +\d+ (\d\d):(\d\d):(\d\d(?:\.\d+)?): \[ *\d+\]: (.*)$")
_COMMID = re.compile(r"commid (\d+)")


def read_session_log(path: Path) -> tuple[float | None, float | None, list[float], list[str]]:
    """(DIS, end, MCF times, USE/training lines) from a HylaFAX session log, in seconds
    since its ``DIAL`` line."""
    t0: float | None = None
    last = -1.0
    wrap = 0.0
    dis: float | None = None
    end: float | None = None
    mcf: list[float] = []
    last_mcf: float | None = None
    uses: list[str] = []
    for line in path.read_text(errors="replace").splitlines():
        match = _LOG_LINE.match(line)
        if not match:
            continue
        hh, mm, ss, text = match.groups()
        clock = int(hh) * 3600 + int(mm) * 60 + float(ss) + wrap
        if clock < last:  # past midnight
            wrap += 86400.0
            clock += 86400.0
        last = clock
        if t0 is None:
            if text.startswith("DIAL "):
                t0 = clock
            continue
        now = clock - t0
        if dis is None and text.startswith("REMOTE best rate"):
            dis = now
        elif text.startswith("SEND recv MCF"):
            last_mcf = now  # also ends each ECM partial page (a block of 256 frames)
        elif text.startswith("SEND end page") and last_mcf is not None:
            mcf.append(last_mcf)
        elif text.startswith(("USE ", "SEND training at")):
            uses.append(text)
        elif text.startswith("SESSION END"):
            end = now
    return dis, end, mcf, uses


def hylafax_negotiated(uses: list[str]) -> str:
    """The session log's choices in one line (the last training wins)."""
    picked: dict[str, str] = {}
    for text in uses:
        if text.startswith("SEND training at"):
            picked["train"] = text.removeprefix("SEND training at ")
        elif "line/mm" in text or "lines/inch" in text:
            picked["res"] = text.removeprefix("USE ")
        elif text in ("USE error correction mode",):
            picked["ecm"] = "ECM"
        elif text.startswith("USE ") and any(c in text for c in ("MH", "MR", "MMR", "JBIG")):
            picked["coding"] = text.removeprefix("USE ")
    keys = ("train", "ecm", "coding", "res")
    return ", ".join(picked[k] for k in keys if k in picked) + (
        "" if "ecm" in picked else ", no ECM"
    )


def follow_log(folder: Path, stop: threading.Event, name: str, pages: int) -> None:
    """Echo HylaFAX's page confirmations as they appear in its newest session log."""
    seen = 0
    started = time.monotonic()
    while not stop.wait(2.0):
        logs = sorted(folder.glob("c*"))
        if not logs:
            continue
        try:
            text = logs[-1].read_text(errors="replace")
        except OSError:
            continue
        count = text.count("SEND end page")
        while seen < count:
            seen += 1
            say(f"  [{name}] page {seen}/{pages} MCF ({time.monotonic() - started:6.1f} s wall)")


def run_hylafax(doc: Path, pages: int, folder: Path) -> Run:
    """One job through a private HylaFAX and its two iaxmodems."""
    run = Run("hylafax")
    say("  [hylafax] starting faxq, hfaxd, two iaxmodems and their faxgettys ...")
    lab = lab_mod.start_lab(folder / "hylafax", modems=True)
    try:
        before = set(lab.received())
        config = HylaFaxConfig(
            port=lab.port,
            user=lab_mod.USER,
            password=SecretStr(lab_mod.PASSWORD),
            modem=lab.tx,
            poll_interval=0.5,
            job_timeout=300 + 120 * pages,
        )
        stop = threading.Event()
        logs = lab.spool / "log"
        echo = threading.Thread(target=follow_log, args=(logs, stop, "hylafax", pages), daemon=True)
        echo.start()
        wall = time.monotonic()
        try:
            result = HylaFaxTransport(config).send(
                FaxCall(doc, NUMBER.lstrip("+"), "hylafax", ident=IDENT),
                lambda e: say(f"  [hylafax] {e.stage} {e.detail}") if e.stage != "page" else None,
            )
        finally:
            stop.set()
            echo.join()
        run.wall = time.monotonic() - wall
        run.ok = result.success
        run.outcome = f"{result.outcome.value}: {result.t30_text}"
        run.line_total = result.line_seconds
        run.notes = list(result.notes)
        commid = next((m.group(1) for n in result.notes if (m := _COMMID.search(n))), None)
        log = logs / f"c{commid}" if commid else None
        if log is not None and log.exists():
            dis, end, mcf, uses = read_session_log(log)
            run.setup, run.mcf = dis, mcf
            run.negotiated = hylafax_negotiated(uses)
            run.timing_source = (
                "HylaFAX session log: the MCF ending each page (10 ms), from its DIAL"
            )
            if end is not None:
                run.notes.append(f"session log: DIAL to SESSION END {end:.2f} s")
            run.finish_pages()
        else:
            run.timing_source = "job status only: total / pages"
            run.page_seconds = [result.line_seconds / pages] * pages
            run.negotiated = "? (no session log)"
        total = result.line_seconds
        run.notes.append(
            f"HylaFaxTransport line_seconds {total:.1f} s (job ACTIVE to DONE, polled every "
            f"0.5 s, includes faxsend start-up and hang-up) = {total / pages:.2f} s/page"
        )
        new = sorted(set(lab.received()) - before)
        run.received = verify(doc, new[-1] if new else None)
    finally:
        lab.stop()
    return run


def floors(reference: Run | None) -> list[float | None]:
    """bench/line.py's floor (V.17, ECM, MMR) for each chart, from simline's wire bytes."""
    if reference is None:
        return []
    return [
        b * 8 * ECM_FRAMING / RATES[Modem.V17] + PER_PAGE_OVERHEAD if b else None
        for b in reference.image_bytes
    ]


def ratio(a: Run | None, b: Run | None, i: int) -> float | None:
    if a is None or b is None or i >= len(a.page_seconds) or i >= len(b.page_seconds):
        return None
    return a.page_seconds[i] / b.page_seconds[i] if b.page_seconds[i] else None


def report(runs: dict[str, Run], pages: int) -> dict[str, Any]:
    """The per-chart table, the ratios and the targets, as data."""
    sim, sip, hfx = runs.get("simline-t38"), runs.get("sip-t38"), runs.get("hylafax")
    floor = floors(sim or runs.get("simline-audio"))
    charts = []
    for i in range(pages):
        row: dict[str, Any] = {"chart": i + 1, "floor": floor[i] if i < len(floor) else None}
        for name, run in runs.items():
            row[name] = run.page_seconds[i] if i < len(run.page_seconds) else None
        row["sip_t38_vs_simline_t38"] = ratio(sip, sim, i)
        row["sip_t38_vs_hylafax"] = ratio(sip, hfx, i)
        charts.append(row)
    targets: dict[str, Any] = {}
    for key, limit, other in (
        ("sip_t38_vs_simline_t38", T38_TARGET, sim),
        ("sip_t38_vs_hylafax", HYLAFAX_TARGET, hfx),
    ):
        values = [r[key] for r in charts if r[key] is not None]
        if sip is None or other is None or len(values) < pages:
            targets[key] = {"limit": limit, "met": None, "worst": None, "worst_chart": None}
            continue
        worst = max(range(pages), key=lambda i: charts[i][key])
        targets[key] = {
            "limit": limit,
            "met": all(v <= limit for v in values),
            "worst": charts[worst][key],
            "worst_chart": worst + 1,
        }
    whole: dict[str, float | None] = {}
    for key, a, b in (("sip_t38_vs_simline_t38", sip, sim), ("sip_t38_vs_hylafax", sip, hfx)):
        whole[key] = a.mcf[-1] / b.mcf[-1] if a and b and a.mcf and b.mcf else None
    return {
        "pages": pages,
        "charts": charts,
        "whole_call": whole,
        "targets": targets,
        "per_page_overhead": PER_PAGE_OVERHEAD,
        "runs": {name: {**asdict(run), "steady": run.steady} for name, run in runs.items()},
    }


def fmt(value: float | None, width: int = 7, digits: int = 2) -> str:
    return f"{value:{width}.{digits}f}" if value is not None else " " * (width - 1) + "-"


def print_table(data: dict[str, Any], runs: dict[str, Run]) -> None:
    names = list(runs)
    head = f"{'chart':>5} {'floor':>7} " + " ".join(f"{n:>13}" for n in names)
    head += f" {'T38/sim':>8} {'T38/hfax':>8}"
    print()
    print("line seconds per page (chart 1: from the DIS; V.17, ECM, MMR, fine)")
    print(head)
    for row in data["charts"]:
        cells = " ".join(fmt(row[n], 13) for n in names)
        print(
            f"{row['chart']:>5} {fmt(row['floor'])} {cells} "
            f"{fmt(row['sip_t38_vs_simline_t38'], 8, 3)} {fmt(row['sip_t38_vs_hylafax'], 8, 3)}"
        )
    steady = " ".join(fmt(r.steady, 13) for r in runs.values())
    floor_rest = [f for f in (row["floor"] for row in data["charts"][1:]) if f is not None]
    floor_mean = statistics.fmean(floor_rest) if floor_rest else None
    print(f"{'2..n':>5} {fmt(floor_mean)} {steady}")
    print(f"{'setup':>5} {'':7} " + " ".join(fmt(r.setup, 13) for r in runs.values()))
    lasts = " ".join(fmt(r.mcf[-1] if r.mcf else None, 13) for r in runs.values())
    print(f"{'total':>5} {'':7} {lasts}")
    print("(setup: start to DIS; total: start to the last MCF. The start is the answer, and")
    print(" for HylaFAX the DIAL of its session log.)")
    print()
    for name, run in runs.items():
        print(f"{name}: {'ok' if run.ok else 'FAILED'} ({run.outcome}); {run.negotiated}")
        print(f"    received: {run.received}")
        print(
            f"    timing: {run.timing_source}; call line {run.line_total:.1f} s, wall {run.wall:.1f} s"
        )
        for note in run.notes:
            print(f"    note: {note}")
    print()
    labels = {
        "sip_t38_vs_simline_t38": "SIP T.38 within 5 % of simline T.38 on every chart",
        "sip_t38_vs_hylafax": "SIP T.38 no slower than HylaFAX/iaxmodem on any chart",
    }
    for key, label in labels.items():
        t = data["targets"][key]
        if data["whole_call"][key] is not None:
            print(f"whole call, start to last MCF, {key}: {data['whole_call'][key]:.3f}")
        if t["met"] is None:
            print(f"target: {label}: not measured")
            continue
        print(
            f"target: {label} (ratio ≤ {t['limit']:.2f}): {'MET' if t['met'] else 'NOT MET'}; "
            f"worst chart {t['worst_chart']}: {t['worst']:.3f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="charts 1-2 only")
    parser.add_argument("--charts", type=int, default=None, help="send charts 1..N (1-8)")
    parser.add_argument("--transports", default=",".join(TRANSPORTS), help="comma-separated")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args()
    count = args.charts or (2 if args.quick else len(CHARTS))
    if not 1 <= count <= len(CHARTS):
        parser.error(f"--charts must be 1..{len(CHARTS)}")
    chosen = [t.strip() for t in args.transports.split(",") if t.strip()]
    unknown = set(chosen) - set(TRANSPORTS)
    if unknown:
        parser.error(f"unknown transports {sorted(unknown)}; choose from {TRANSPORTS}")
    if "hylafax" in chosen and (why := lab_mod.missing()):
        say(f"skipping hylafax: {why}")
        chosen.remove("hylafax")
    runs: dict[str, Run] = {}
    started = datetime.datetime.now().astimezone()
    with tempfile.TemporaryDirectory(prefix="faxout-transports-") as tmp, ExitStack() as later:
        jobs: dict[str, Callable[[Path, int, Path], Run]] = {
            "simline-t38": lambda d, n, f: run_simline(Medium.T38, d, n, f),
            "simline-audio": lambda d, n, f: run_simline(Medium.AUDIO, d, n, f),
            "sip-t38": lambda d, n, f: run_sip(True, d, n, f, later),
            "sip-g711": lambda d, n, f: run_sip(False, d, n, f, later),
            "hylafax": run_hylafax,
        }
        folder = Path(tmp)
        folder.chmod(0o755)  # HylaFAX's daemons run as uucp under it
        doc = make_document(folder / "itu-fine.tif", CHARTS[:count])
        say(f"document: charts 1..{count} as one {count}-page fine TIFF-F ({doc.stat().st_size} B)")
        for name in TRANSPORTS:
            if name not in chosen:
                continue
            say(f"{name}: sending {count} pages ...")
            runs[name] = jobs[name](doc, count, folder)
            run = runs[name]
            say(
                f"{name}: {'ok' if run.ok else 'FAILED'}, {run.received}; "
                f"{run.mcf[-1] if run.mcf else 0.0:.1f} s line to the last MCF, {run.wall:.1f} s wall"
            )
    data = report(runs, count)
    data["started"] = started.isoformat(timespec="seconds")
    if args.json:
        print(json.dumps(data, indent=2))
        return
    print(f"transports benchmark, {data['started']}, {count} charts")
    print_table(data, runs)


if __name__ == "__main__":
    main()
