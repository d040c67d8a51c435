"""``faxout report show`` and ``faxout report resend`` (the group the main CLI registers)."""

from __future__ import annotations

from dataclasses import dataclass
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import click
from click.testing import CliRunner
from sqlalchemy import Engine

from faxout.clock import FrozenClock
from faxout.jobs.repo import JobRepo
from faxout.ops.settings import Settings
from faxout.report.cli import report
from tests.report.conftest import World


@dataclass
class _Gateway:
    settings: Settings
    engine: Engine
    store: Any
    clock: FrozenClock
    jobs: JobRepo


class _Root:
    """Stands in for the main CLI's context object (``ready_gateway()``)."""

    def __init__(self, gw: _Gateway) -> None:
        self._gw = gw

    def ready_gateway(self) -> _Gateway:
        return self._gw


def _run(db: Engine, world: World, clock: FrozenClock, data_dir: Path, *args: str) -> Any:
    gw = _Gateway(Settings(data_dir=data_dir), db, world.store, clock, JobRepo(db))
    return CliRunner().invoke(report, list(args), obj=_Root(gw))


def test_report_is_a_click_group() -> None:
    assert isinstance(report, click.Group)
    assert set(report.commands) == {"show", "resend"}


def test_show_renders_the_report_and_its_delivery(
    db: Engine, world: World, clock: FrozenClock, tmp_path: Path
) -> None:
    res = _run(db, world, clock, tmp_path, "show", str(world.sids["mixed"]))
    assert res.exit_code == 0, res.output
    assert "Subject: Fax to 2 recipients: 1 delivered, 1 failed" in res.output
    assert "5550202 (Bob): Failed" in res.output
    assert "delivery: not queued yet" in res.output


def test_show_in_progress_says_so(
    db: Engine, world: World, clock: FrozenClock, tmp_path: Path
) -> None:
    res = _run(db, world, clock, tmp_path, "show", str(world.sids["retrying"]))
    assert res.exit_code == 0, res.output
    assert "Your fax is still being sent" in res.output
    assert "Next attempt:" in res.output
    assert "delivery: not queued yet (1 job(s) not final)" in res.output


def test_show_html_and_eml(db: Engine, world: World, clock: FrozenClock, tmp_path: Path) -> None:
    html = _run(db, world, clock, tmp_path, "show", "--format", "html", str(world.sids["hostile"]))
    assert html.exit_code == 0 and html.output.startswith("<!DOCTYPE html>")
    assert "&lt;script&gt;" in html.output
    eml = _run(db, world, clock, tmp_path, "show", "--format", "eml", str(world.sids["failed"]))
    msg = message_from_bytes(eml.output.encode(), policy=policy.default)
    assert msg["Subject"] == "Fax to 5550301: failed"


def test_show_unknown_submission(
    db: Engine, world: World, clock: FrozenClock, tmp_path: Path
) -> None:
    res = _run(db, world, clock, tmp_path, "show", "999")
    assert res.exit_code == 1 and "there is no submission 999" in res.output


def test_resend_writes_to_the_maildir_by_default(
    db: Engine, world: World, clock: FrozenClock, tmp_path: Path
) -> None:
    sid = str(world.sids["delivered"])
    for _ in range(2):
        res = _run(db, world, clock, tmp_path, "resend", sid)
        assert res.exit_code == 0, res.output
        assert res.output.startswith("report final: sent 2026-03-02")
    assert len(list((tmp_path / "outbox" / "new").glob("*.eml"))) == 2
    shown = _run(db, world, clock, tmp_path, "show", sid)
    assert "delivery: report final: sent" in shown.output


def test_resend_refuses_an_unfinished_submission(
    db: Engine, world: World, clock: FrozenClock, tmp_path: Path
) -> None:
    res = _run(db, world, clock, tmp_path, "resend", str(world.sids["retrying"]))
    assert res.exit_code == 1 and "is not finished yet" in res.output
