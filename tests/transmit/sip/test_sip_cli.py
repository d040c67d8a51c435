"""``faxout sip-receiver``, ``faxout sip-send`` and ``faxout check`` as a user runs them: two
gateways faxing each other over SIP, in separate processes."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.server import faxout_env, run_cli
from tests.transmit import sipfar
from tests.transmit.pages import assert_same_pages

pytestmark = pytest.mark.slow


def start_receiver(data_dir: Path, *args: str) -> tuple[subprocess.Popen[str], int]:
    """``faxout sip-receiver`` on any free port; the process and the port it announced."""
    process = subprocess.Popen(
        [sys.executable, "-m", "faxout", "sip-receiver", "--listen", "127.0.0.1:0", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=faxout_env(data_dir),
    )
    assert process.stderr is not None
    announced = process.stderr.readline()  # "receiving faxes on sip:127.0.0.1:PORT into ..."
    match = re.search(r"receiving faxes on sip:127\.0\.0\.1:(\d+) into ", announced)
    assert match, (announced, process.communicate())
    port = int(match.group(1))
    assert sipfar.sip_ping(port, timeout=2) == 200  # it answers OPTIONS
    return process, port


def test_two_gateways_fax_each_other_from_the_command_line(tmp_path: Path, doc1: Path) -> None:
    receiver, port = start_receiver(tmp_path / "rx", "--t38", "request")
    try:
        sent = run_cli(
            tmp_path / "tx",
            "sip-send",
            str(doc1),
            "--to",
            "15557770100",
            "--proxy",
            f"127.0.0.1:{port}",
            "--json",
        )
        assert sent.returncode == 0, sent.stderr
        result = json.loads(sent.stdout)
        assert result["outcome"] == "ok" and result["pages_confirmed"] == 1
        assert "page 1/1: MCF" in sent.stderr  # live progress
        checked = run_cli(
            tmp_path / "tx",
            "check",
            FAXOUT_TRANSMIT__TRANSPORT="sip",
            FAXOUT_TRANSMIT__SIP__PROXY=f"127.0.0.1:{port}",
        )
        transport = next(line for line in checked.stdout.splitlines() if " transport " in line)
        assert transport.startswith("ok ") and "OPTIONS answered 200 OK" in transport, transport
        assert f"SIP via 127.0.0.1:{port}, 4 lines" in transport
    finally:
        receiver.send_signal(signal.SIGTERM)
        out, err = receiver.communicate(timeout=30)
    assert receiver.returncode == 0, err
    assert "1 page(s) from faxout over t38, OK" in out, out
    (stored,) = (tmp_path / "rx" / "received").glob("*.tif")
    assert_same_pages(doc1, stored)
    summary = json.loads(stored.with_suffix(".json").read_text())
    assert summary["medium"] == "t38" and summary["pages"] == 1


def test_check_names_a_sip_proxy_that_does_not_answer(tmp_path: Path) -> None:
    port = sipfar.free_port()  # nothing listens there
    checked = run_cli(
        tmp_path,
        "check",
        FAXOUT_TRANSMIT__TRANSPORT="sip",
        FAXOUT_TRANSMIT__SIP__PROXY=f"127.0.0.1:{port}",
    )
    assert checked.returncode != 0
    assert "no answer to SIP OPTIONS" in checked.stdout


def test_bad_sip_settings_are_named(tmp_path: Path) -> None:
    checked = run_cli(tmp_path, "check", FAXOUT_TRANSMIT__SIP__PROXY="pbx:99999")
    assert checked.returncode != 0
    assert "proxy" in checked.stderr and "out of range" in checked.stderr
