"""Real SIP fax calls: faxout → kamailio (digest auth, record-route) → faxout's SIP receiver,
over G.711 and over T.38 (the receiver's re-INVITE, and ours). Calls run in real time."""

from __future__ import annotations

import logging
import re
from pathlib import Path

import pytest

from faxout.transmit.result import FaxCall, Outcome
from faxout.transmit.sip.config import SipConfig
from faxout.transmit.sip.session import T38Mode
from faxout.transmit.sip.transport import SipTransport
from tests.transmit import sipfar
from tests.transmit.pages import assert_same_pages
from tests.transmit.sip.conftest import PASSWORD, RECEIVER_USER, Progress, ReceiverFactory

pytestmark = pytest.mark.slow


def transport(
    proxy: sipfar.Proxy, t38: T38Mode = T38Mode.ACCEPT, registration: bool = False
) -> SipTransport:
    return SipTransport(
        SipConfig(
            proxy=f"127.0.0.1:{proxy.port}",
            username="faxout",
            password=PASSWORD,
            registration=registration,
            t38=t38,
            t38_request_delay=0.5,
            e164_plus=False,  # the receiver registered its number without the +
        )
    )


def test_g711_through_a_proxy_with_register_and_digest_auth_arrives_pixel_identical(
    proxy: sipfar.Proxy, receiver: ReceiverFactory, doc2: Path
) -> None:
    rx = receiver(register_at=proxy, t38=T38Mode.OFF)
    progress = Progress()
    # REGISTER first (401 challenge), then the INVITE (407 challenge), as some trunks want.
    result = transport(proxy, registration=True).send(
        FaxCall(doc2, f"+{RECEIVER_USER}", "g711-1", ident="faxout test"), progress
    )
    assert result.outcome is Outcome.OK, result
    assert result.pages_confirmed == 2 and result.ecm
    assert result.remote_csid == "faxout receiver"
    assert any("media: audio" in note for note in result.notes)
    assert progress.stages()[:2] == ["dialing", "answered"]
    assert [e.verdict for e in progress.events if e.stage == "page"] == ["MCF", "MCF"]
    (fax,) = rx.wait_for(1, 15)
    assert fax.medium == "audio" and fax.pages == 2 and fax.t30_code == 0
    assert fax.remote_csid == "faxout test"
    assert_same_pages(doc2, Path(fax.path or ""))


def test_t38_when_the_receiver_reinvites_arrives_pixel_identical(
    proxy: sipfar.Proxy, receiver: ReceiverFactory, doc2: Path
) -> None:
    rx = receiver(register_at=proxy, t38=T38Mode.REQUEST, t38_request_delay=0.3)
    result = transport(proxy).send(FaxCall(doc2, RECEIVER_USER, "t38-1"), Progress())
    assert result.outcome is Outcome.OK, result
    assert "switched to T.38 at the far end's request" in result.notes
    (fax,) = rx.wait_for(1, 15)
    assert fax.medium == "t38" and fax.pages == 2
    assert_same_pages(doc2, Path(fax.path or ""))


def test_t38_on_our_reinvite_and_its_ack_goes_through_the_proxy(
    proxy: sipfar.Proxy,
    receiver: ReceiverFactory,
    doc1: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    rx = receiver(register_at=proxy, t38=T38Mode.ACCEPT)
    with caplog.at_level(logging.DEBUG, logger="faxout.transmit.sip.wire"):
        result = transport(proxy, T38Mode.REQUEST).send(
            FaxCall(doc1, RECEIVER_USER, "t38-2"), Progress()
        )
    assert result.outcome is Outcome.OK, result
    assert "switched to T.38 at our request" in result.notes
    (fax,) = rx.wait_for(1, 15)
    assert fax.medium == "t38"
    assert_same_pages(doc1, Path(fax.path or ""))
    # sippy issue #54: the ACK of a re-INVITE's 2xx must follow the record-routed proxy.
    sent = [r.getMessage() for r in caplog.records if r.getMessage().startswith("SENDING")]
    acks = [m for m in sent if re.search(r"^ACK ", m, re.M)]
    assert len(acks) >= 2, sent  # the INVITE's and the re-INVITE's
    for ack in acks:
        destination = ack.split("\n", 1)[0]
        assert f":{proxy.port}" in destination, ack
