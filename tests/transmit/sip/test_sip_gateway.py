"""End to end over SIP: POST /faxapi.asp to a gateway configured with transport = "sip" →
rendered → dialled through kamailio → faxout's SIP receiver, which stores the pages."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import httpx
import pytest

from faxout.transmit.sip.session import T38Mode
from tests.pipeline.test_embedded_e2e import wait_for
from tests.server import start_server
from tests.transmit import sipfar
from tests.transmit.sip.conftest import PASSWORD, RECEIVER_USER, ReceiverFactory

pytestmark = pytest.mark.slow
USER = "15554440001"


def test_a_faxout_submission_goes_out_over_sip(
    tmp_path: Path, proxy: sipfar.Proxy, receiver: ReceiverFactory
) -> None:
    rx = receiver(register_at=proxy, t38=T38Mode.REQUEST)
    server = start_server(
        tmp_path / "var",
        FAXOUT_DEMO_ACCOUNT="false",
        FAXOUT_TRANSMIT__TRANSPORT="sip",
        FAXOUT_TRANSMIT__SIP__PROXY=f"127.0.0.1:{proxy.port}",
        FAXOUT_TRANSMIT__SIP__USERNAME="faxout",
        FAXOUT_TRANSMIT__SIP__PASSWORD=PASSWORD,
        FAXOUT_TRANSMIT__SIP__E164_PLUS="false",
        # The receiver's number is fictional (+1 555): a lab the trunk reaches, as configured.
        FAXOUT_TRANSMIT__DIAL__REACHABLE='["+1555"]',
    )
    try:
        server.add_user(USER, "pw-sip", "--email", "sip@example.com")
        resp = httpx.post(
            server.url + "/faxapi.asp",
            timeout=60,
            data={
                "Username": USER,
                "Password": "pw-sip",
                "Recipient": f"+{RECEIVER_USER[:1]} {RECEIVER_USER[1:]}|Receiver",
                "Coverpage": "None",
            },
            files={"Attachment": ("note.txt", b"Faxed over SIP, T.38 on request.\n" * 20)},
        )
        assert resp.text == "0"
        db = tmp_path / "var" / "faxout.db"

        def state() -> str:
            with sqlite3.connect(db) as conn:
                row = conn.execute("SELECT state FROM jobs").fetchone()
            return str(row[0]) if row else ""

        wait_for(lambda: state() in {"done", "failed"}, timeout=180, what="the job to finish")
        assert state() == "done", server.log[-3000:]
        with sqlite3.connect(db) as conn:
            outcome, text, transport = conn.execute(
                "SELECT outcome, t30_text, transport FROM attempts"
            ).fetchone()
        assert (outcome, transport) == ("ok", "sip"), text
    finally:
        server.kill()
    (fax,) = rx.wait_for(1, 15)
    assert fax.medium == "t38" and fax.pages == 1 and fax.t30_code == 0
