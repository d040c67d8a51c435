"""A receiver killed in the middle of a page: ``faxout sip-receiver --inbound`` is SIGKILLed
while page 2 of 3 is on the line. Restarted, it finishes the reception its predecessor left:
the fax is kept as partial with page 1 exactly as sent, page 2 is not half kept, and nothing
is stored, mailed or announced twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import select

from faxout.blobs.local import LocalBlobStore
from faxout.db.engine import make_engine, reading
from faxout.db.tables import inbound_faxes, inbound_mails
from faxout.transmit.result import CallProgress, CallResult, FaxCall
from faxout.transmit.sip.config import SipConfig
from faxout.transmit.sip.transport import SipTransport
from tests.procs import stop_process
from tests.server import faxout_env
from tests.transmit import sipfar
from tests.transmit.pages import assert_same_pages, text_page, write_tiff

pytestmark = pytest.mark.slow

PAGES = [text_page(n, 1100) for n in (31, 32, 33)]


@contextmanager
def receiver(data_dir: Path, port: int, log: Path) -> Iterator[subprocess.Popen[bytes]]:
    """``faxout sip-receiver --inbound`` on ``port``, once it says it is answering."""
    with log.open("ab") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "faxout", "sip-receiver", "--inbound", "--t38", "off",
             "--listen", f"127.0.0.1:{port}"],
            env=faxout_env(data_dir), stdout=out, stderr=subprocess.STDOUT,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while "receiving faxes on" not in log.read_text(errors="replace"):
            assert proc.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() < deadline, "the receiver did not start"
            time.sleep(0.1)
        yield proc
    finally:
        if proc.poll() is None:
            stop_process(proc)


def test_sigkill_mid_page_keeps_the_pages_before_it_once(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    document = write_tiff(tmp_path / "three.tif", PAGES)
    port = sipfar.free_port()
    log = tmp_path / "receiver.log"
    events: list[CallProgress] = []
    results: list[CallResult] = []
    with receiver(data_dir, port, log) as proc:
        sender = SipTransport(SipConfig(proxy=f"127.0.0.1:{port}", ring_seconds=10))
        call = threading.Thread(
            target=lambda: results.append(
                sender.send(FaxCall(document, "16505559999", "kill-1"), events.append)
            ),
            daemon=True,
        )
        call.start()
        deadline = time.monotonic() + 120
        # page 2's image data is on the line: the receiver is in the middle of page 2
        while not any(e.stage == "sending" and e.page == 2 for e in events):
            assert call.is_alive(), (results, log.read_text(errors="replace"))
            assert time.monotonic() < deadline, [e.stage for e in events]
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(10)
        call.join(120)
    assert results and results[0].pages_confirmed == 1, results

    engine = make_engine(f"sqlite:///{data_dir / 'faxout.db'}")
    with reading(engine) as conn:
        (left,) = conn.execute(select(inbound_faxes)).all()
    assert (left.state, left.pages) == ("receiving", 1), "page 1 was not durable at its MCF"

    again = tmp_path / "restarted.log"
    with receiver(data_dir, port, again):
        pass  # it recovers before it answers
    assert "recovered fax 1: 1 page(s), partial" in again.read_text(errors="replace")

    with reading(engine) as conn:
        rows = conn.execute(select(inbound_faxes)).all()
        mails = conn.execute(select(inbound_mails.c.inbound_id)).scalars().all()
    engine.dispose()
    (fax,) = rows
    assert (fax.state, fax.pages, fax.spool_path) == ("partial", 1, None)
    assert any("stopped during the call" in n for n in json.loads(fax.notes))
    assert mails == [fax.id]
    store = LocalBlobStore(data_dir / "documents", data_dir / "spool")
    assert_same_pages(write_tiff(tmp_path / "first.tif", PAGES[:1]), store.path_for(fax.blob_key))
    assert not list((data_dir / "inbound" / "spool").glob("*.tif"))
