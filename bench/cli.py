"""CLI start-up benchmark: how fast `faxout` answers, beside HylaFAX's `faxstat` in the same run.

    .venv/bin/python bench/cli.py [--runs 15] [--submissions 20] [--json]

faxout: `faxout --help`, `faxout jobs list`, `faxout jobs show ID` and `faxout user list`, each a
fresh `python -m faxout` process of this checkout (``src/`` first on PYTHONPATH), against a data
directory migrated and seeded here with 3 accounts and ``--submissions`` submissions of 3
recipients each (so `jobs list` prints its default 50 rows).
HylaFAX: `faxstat -s` (the send queue) and `faxstat -d` (done jobs) against the private modem-less
faxq + hfaxd of the intake benchmark (bench/hylafax_ref.py), its queue holding as many jobs as
faxout's, submitted with `sendfax` before timing. faxstat is a C program talking to hfaxd over
its client protocol on loopback; hfaxd forks a process per connection.

Each command runs once untimed (so the bytecode cache, kept in a private PYTHONPYCACHEPREFIX, is
warm, as after the first run of an installed faxout), then ``--runs`` times; the median wall time
of each is printed with its ratio to `faxstat -s`. Targets: every faxout command within 2x of
`faxstat -s` and under 0.3 s on an idle machine. HylaFAX needs root and the apt packages
``hylafax-server hylafax-client``; without them faxstat is skipped and only faxout is timed.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(Path(__file__).parent))
from hylafax_ref import start_private_hylafax, submit_sendfax  # noqa: E402

CORPUS_PDF = ROOT.parent / "shared" / "corpus" / "generated" / "letter_usletter.pdf"
TARGET_RATIO, TARGET_SECONDS = 2.0, 0.3
RECIPIENTS = 3


def faxout_env(data_dir: Path, pycache: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAXOUT_")}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    path = [str(ROOT / "src"), *filter(None, env.get("PYTHONPATH", "").split(os.pathsep))]
    env.update(
        PYTHONPATH=os.pathsep.join(path),
        PYTHONPYCACHEPREFIX=str(pycache),
        FAXOUT_DATA_DIR=str(data_dir),
        FAXOUT_DEMO_ACCOUNT="false",
    )
    return env


def seed(data_dir: Path, env: dict[str, str], submissions: int) -> int:
    """Migrate ``data_dir`` and fill it; the id of a job to show."""
    subprocess.run(
        [sys.executable, "-m", "faxout", "migrate"],
        env=env,
        check=True,
        text=True,
        capture_output=True,
    )
    from faxout.db.engine import transaction
    from faxout.jobs.create import NewDocument, NewSubmission, insert_submissions, store_documents
    from faxout.jobs.model import Resolution
    from faxout.jobs.numbers import Recipient
    from faxout.ops.gateway import build_gateway
    from faxout.ops.settings import Settings

    gw = build_gateway(Settings(data_dir=data_dir))
    now = datetime.now(UTC)
    owners = [
        gw.accounts.add(
            f"1555999000{i}",
            email=f"sender{i}@example.com",
            password_hash="$argon2id$bench",
            now=now,
            name=f"Sender {i}",
        )
        for i in range(3)
    ]
    pdf = CORPUS_PDF.read_bytes() if CORPUS_PDF.exists() else b"%PDF-1.4 bench"
    subs = []
    for n in range(submissions):
        upload = gw.store.new_upload()
        upload.write(pdf + f"\n% {n}\n".encode())
        sub = NewSubmission(
            account_id=owners[n % len(owners)].id,
            recipients=[
                Recipient(f"+1555000{n:02d}{r:02d}", f"Recipient {r}") for r in range(RECIPIENTS)
            ],
            documents=[NewDocument(f"letter{n}.pdf", "application/pdf", upload)],
            resolution=Resolution.HIGH,
            cover_page="none",
            cover_text="",
            send_at=now + timedelta(days=30),  # far ahead: nothing would dial them
            sendtime_raw=None,
            notes=[],
            request_id=f"bench-{n}",
            client_addr="127.0.0.1",
            accepted_at=now,
        )
        subs.append((sub, store_documents(sub)))
    with transaction(gw.engine) as conn:
        insert_submissions(conn, subs)
    gw.engine.dispose()
    rows = gw.jobs.list_jobs(limit=1)
    return rows[0].id


def median_wall(argv: list[str], env: dict[str, str] | None, runs: int) -> float:
    """Median seconds of ``runs`` runs of ``argv`` after one untimed run (which must succeed)."""
    first = subprocess.run(argv, env=env, capture_output=True, text=True, check=False)
    if first.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {first.stderr.strip() or first.stdout}")
    walls = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(argv, env=env, capture_output=True, check=False)
        walls.append(time.perf_counter() - start)
    return statistics.median(walls)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=15, help="timed runs per command")
    parser.add_argument("--submissions", type=int, default=20, help=f"of {RECIPIENTS} jobs each")
    parser.add_argument("--json", action="store_true", help="one JSON object on stdout")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="faxout-bench-cli-") as tmp:
        work = Path(tmp)
        env = faxout_env(work / "data", work / "pycache")
        job_id = seed(work / "data", env, args.submissions)
        faxout = [sys.executable, "-m", "faxout"]
        commands = {
            "faxout --help": [*faxout, "--help"],
            "faxout jobs list": [*faxout, "jobs", "list"],
            f"faxout jobs show {job_id}": [*faxout, "jobs", "show", str(job_id)],
            "faxout user list": [*faxout, "user", "list"],
        }
        results: dict[str, float] = {}
        for name, argv in commands.items():
            results[name] = median_wall(argv, env, args.runs)
            print(f"  {name}: {results[name] * 1000:.0f} ms", file=sys.stderr)

        reference: float | None = None
        try:
            with start_private_hylafax(work) as hfx:
                if CORPUS_PDF.exists():  # a queue as long as faxout's
                    submit_sendfax(
                        hfx,
                        CORPUS_PDF,
                        [f"555010{r}" for r in range(RECIPIENTS)],
                        n=args.submissions,
                        concurrency=4,
                        clear=False,
                    )
                for flag in ("-s", "-d"):
                    name = f"faxstat {flag}"
                    results[name] = median_wall(
                        ["faxstat", "-h", hfx.address, flag], None, args.runs
                    )
                    print(f"  {name}: {results[name] * 1000:.0f} ms", file=sys.stderr)
                reference = results["faxstat -s"]
        except (RuntimeError, FileNotFoundError, OSError) as exc:
            print(f"HylaFAX skipped: {exc}", file=sys.stderr)

    report: dict[str, Any] = {
        "runs": args.runs,
        "jobs": args.submissions * RECIPIENTS,
        "median_s": {k: round(v, 4) for k, v in results.items()},
        "vs_faxstat_s": {
            k: round(v / reference, 2)
            for k, v in results.items()
            if reference and k.startswith("faxout")
        },
    }
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"median of {args.runs} runs, {report['jobs']} jobs in each queue")
    print(f"{'command':<22} {'median':>9} {'/ faxstat -s':>13}")
    for name, wall in results.items():
        ratio = f"{wall / reference:.2f}" if reference else "-"
        print(f"{name:<22} {wall * 1000:7.0f} ms {ratio:>13}")
    slow = [k for k, v in results.items() if k.startswith("faxout") and v >= TARGET_SECONDS]
    far = [k for k, v in report["vs_faxstat_s"].items() if v > TARGET_RATIO]
    print(
        f"targets: < {TARGET_SECONDS} s: {'met' if not slow else 'missed by ' + ', '.join(slow)}; "
        f"<= {TARGET_RATIO}x faxstat -s: "
        + ("-" if reference is None else "met" if not far else "missed by " + ", ".join(far))
    )


if __name__ == "__main__":
    main()
