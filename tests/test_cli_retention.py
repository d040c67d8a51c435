"""``faxout retention run [--dry-run]`` and ``faxout user set --retention-days``, run as an
operator runs them, on faxes received 40 days ago (the command itself runs on the real clock)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import select, update

from faxout.clock import FrozenClock
from faxout.db.engine import reading, transaction
from faxout.db.tables import inbound_faxes, jobs, submissions
from faxout.inbound.inboxes import InboxRepo
from faxout.inbound.model import IncomingCall, ReceptionFacts
from faxout.jobs.create import NewDocument, NewSubmission
from faxout.jobs.model import Resolution
from faxout.jobs.numbers import Recipient
from faxout.ops.gateway import build_gateway
from faxout.ops.settings import Settings
from tests.accepting import accept
from tests.inbound.faxfiles import fax_tiff
from tests.server import run_cli

MINE = "16505551234"


def _received_long_ago(data_dir: Path, tmp: Path, days: float) -> list[str]:
    """A fax to MINE's inbox and one to the shared inbox, ``days`` ago; their blob keys."""
    clock = FrozenClock(datetime.now(UTC) - timedelta(days=days))
    gw = build_gateway(Settings(data_dir=data_dir, demo_account=False), clock=clock)
    try:
        account = gw.accounts.get(MINE)
        assert account is not None
        inboxes = InboxRepo(gw.engine, clock)
        inboxes.add_rule(inboxes.for_account(account.id).id, called=MINE)
        keys = []
        for n, to in enumerate((MINE, "18005550199")):
            tiff = fax_tiff(tmp / f"{n}.tif", 1, height=300 + n)
            call = IncomingCall("test", f"old-{n}", "+16505550100", "", to)
            fax = gw.inbound_store("test").ingest(call, tiff, ReceptionFacts(1, True))
            assert fax is not None and fax.blob_key is not None
            keys.append(fax.blob_key)
        return keys
    finally:
        gw.engine.dispose()


def _state(data_dir: Path) -> list[tuple[int, bool, bool]]:
    """Each received fax: id, whether it names an image, whether it is marked purged."""
    gw = build_gateway(Settings(data_dir=data_dir, demo_account=False))
    try:
        with reading(gw.engine) as conn:
            rows = conn.execute(inbound_faxes.select().order_by(inbound_faxes.c.id)).all()
        return [(r.id, r.blob_key is not None, r.purged_at is not None) for r in rows]
    finally:
        gw.engine.dispose()


def test_a_dry_run_lists_and_changes_nothing_then_a_run_removes(
    data_dir: Path, tmp_path: Path
) -> None:
    assert run_cli(data_dir, "user", "add", MINE, "--email", "a@example.com").returncode == 0
    keys = _received_long_ago(data_dir, tmp_path, days=40)
    documents = data_dir / "documents"

    dry = run_cli(data_dir, "retention", "run", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    lines = dry.stdout.splitlines()
    assert lines[0].startswith(f"would remove received fax 1 ({MINE}): finished 40.0 days ago")
    assert lines[1].startswith("would remove received fax 2 (a shared inbox)")
    assert lines[-1] == (
        "would remove the image of 2 received faxes and the documents of 0 sent faxes "
        "(2 files, less any another fax still holds)"
    )
    assert _state(data_dir) == [(1, True, False), (2, True, False)]
    assert all(documents.joinpath(*key.split("/")).is_file() for key in keys)

    done = run_cli(data_dir, "retention", "run")
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == (
        "removed the image of 2 received faxes and the documents of 0 sent faxes; "
        "2 files deleted from the document store"
    )
    assert _state(data_dir) == [(1, False, True), (2, False, True)]
    assert not any(documents.joinpath(*key.split("/")).exists() for key in keys)
    assert run_cli(data_dir, "retention", "run").stdout == "nothing is past its retention\n"


def test_an_accounts_retention_days_are_set_shown_and_checked(
    data_dir: Path, tmp_path: Path
) -> None:
    assert run_cli(data_dir, "user", "add", MINE, "--email", "a@example.com").returncode == 0

    def days() -> object:
        (account,) = json.loads(run_cli(data_dir, "user", "list", "--json").stdout)
        return account["retention_days"]

    assert days() is None
    weekly = run_cli(data_dir, "user", "set", MINE, "--retention-days", "7")
    assert weekly.returncode == 0 and "retention: 7 days once final" in weekly.stdout
    assert days() == 7
    forever = run_cli(data_dir, "user", "set", MINE, "--retention-days", "0")
    assert "retention: until deleted" in forever.stdout and days() == 0
    server = run_cli(data_dir, "user", "set", MINE, "--retention-days", "")
    assert "retention: the server's (30 days once final)" in server.stdout and days() is None
    for bad in ("a week", "-1", "36501", "7.5"):
        refused = run_cli(data_dir, "user", "set", MINE, "--retention-days", bad)
        assert refused.returncode == 2, bad
        assert "--retention-days" in refused.stderr and "from 0 (keep until deleted)" in (
            refused.stderr
        )
    assert days() is None

    # 7 days: a fax 8 days old goes, though the server keeps faxes 30 days.
    assert run_cli(data_dir, "user", "set", MINE, "--retention-days", "7").returncode == 0
    _received_long_ago(data_dir, tmp_path, days=8)
    done = run_cli(data_dir, "retention", "run")
    assert done.stdout.splitlines()[0].startswith(f"removed received fax 1 ({MINE})")
    assert _state(data_dir) == [(1, False, True), (2, True, False)]  # the shared one: 30


def _sent_long_ago(data_dir: Path, days: float) -> int:
    """A fax from MINE delivered ``days`` ago; its job's id."""
    clock = FrozenClock(datetime.now(UTC) - timedelta(days=days))
    gw = build_gateway(Settings(data_dir=data_dir, demo_account=False), clock=clock)
    try:
        account = gw.accounts.get(MINE)
        assert account is not None
        upload = gw.store.new_upload()
        upload.write(b"a letter")
        sub_id = accept(
            gw.engine,
            NewSubmission(
                account_id=account.id,
                recipients=[Recipient("+15550123456", "Desk")],
                documents=[NewDocument("letter.txt", "text/plain", upload)],
                resolution=Resolution.HIGH,
                cover_page="none",
                cover_text="",
                send_at=clock.now(),
                sendtime_raw=None,
                notes=[],
                request_id="old",
                client_addr="127.0.0.1",
                accepted_at=clock.now(),
            ),
        )
        with transaction(gw.engine) as conn:
            conn.execute(update(submissions).values(state="done"))
            conn.execute(update(jobs).values(state="done", finished_at=clock.now()))
            return int(
                conn.execute(select(jobs.c.id).where(jobs.c.submission_id == sub_id)).scalar_one()
            )
    finally:
        gw.engine.dispose()


def test_a_sent_fax_purged_says_so_in_jobs_show(data_dir: Path) -> None:
    assert run_cli(data_dir, "user", "add", MINE, "--email", "a@example.com").returncode == 0
    job_id = _sent_long_ago(data_dir, days=31)
    assert "purged" not in run_cli(data_dir, "jobs", "show", str(job_id)).stdout

    done = run_cli(data_dir, "retention", "run")
    assert done.stdout.splitlines()[0].startswith(
        f"removed sent fax 1 ({MINE}): finished 31.0 days ago, 1 file"
    )
    shown = run_cli(data_dir, "jobs", "show", str(job_id)).stdout
    assert "documents and pages removed by retention" in shown
    assert "document 1: letter.txt (8 bytes)" in shown  # the facts stay
    shown_json = json.loads(run_cli(data_dir, "jobs", "show", str(job_id), "--json").stdout)
    assert shown_json["submission"]["purged_at"] is not None


def test_the_help_reads_well(data_dir: Path) -> None:
    def words(*args: str) -> str:
        return " ".join(run_cli(data_dir, *args).stdout.split())  # unwrapped

    assert "run Remove now what is past its retention." in words("retention", "--help")
    run = words("retention", "run", "--help")
    assert "--dry-run Only list what would be removed; change nothing." in run
    assert "(faxout user set --retention-days; else the server's inbound.retention_days)" in run
    user = words("user", "set", "--help")
    assert "--retention-days DAYS Keep its sent documents and received images DAYS days" in user
    assert "0 = until deleted; '' = the server's inbound.retention_days." in user
