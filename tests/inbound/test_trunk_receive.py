"""The server's own receiver (``transmit.sip.receive``): it registers with the trunk (kamailio
with digest auth), and a fax the trunk routes to the registered number lands in the inbox of
the account the routing rules name, with its mail queued and its webhook event pending."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select

from faxout.db.engine import reading
from faxout.db.migrate import upgrade
from faxout.db.tables import inbound_faxes, inbound_mails
from faxout.inbound.inboxes import InboxRepo
from faxout.ops.gateway import Gateway, build_gateway
from faxout.ops.receivers import Receivers
from faxout.ops.settings import Settings
from faxout.transmit.result import FaxCall, Outcome
from faxout.transmit.sip.config import SipConfig
from faxout.transmit.sip.session import T38Mode
from faxout.transmit.sip.transport import SipTransport
from tests.transmit import sipfar
from tests.transmit.pages import text_page, write_tiff
from tests.transmit.sip.conftest import PASSWORD, RECEIVER_USER, Progress, proxy

__all__ = ["proxy"]  # the kamailio fixture

pytestmark = pytest.mark.slow


@pytest.fixture
def gateway(tmp_path: Path, proxy: sipfar.Proxy) -> Iterator[Gateway]:
    sip = SipConfig(
        proxy=f"127.0.0.1:{proxy.port}",
        username=RECEIVER_USER,
        password=PASSWORD,  # type: ignore[arg-type]
        registration=True,
        local_address="127.0.0.1",
        receive=True,
        receive_port=0,
        t38=T38Mode.ACCEPT,
    )
    settings = Settings(data_dir=tmp_path / "data", transmit={"transport": "sip", "sip": sip})
    gw = build_gateway(settings)
    upgrade(gw.engine)
    yield gw
    gw.engine.dispose()


def test_the_server_registers_and_a_trunk_call_lands_in_the_accounts_inbox(
    gateway: Gateway, proxy: sipfar.Proxy, tmp_path: Path
) -> None:
    owner = gateway.accounts.add(
        "+16505550001", email="a@example.com", password_hash="x", now=gateway.clock.now()
    )
    inboxes = InboxRepo(gateway.engine, gateway.clock)
    inboxes.add_rule(inboxes.for_account(owner.id).id, called=RECEIVER_USER)
    finals: list[int] = []
    receivers = Receivers(gateway, on_final=lambda fax: finals.append(fax.id))
    receivers.start()
    try:
        document = write_tiff(tmp_path / "two.tif", [text_page(41, 900), text_page(42, 900)])
        caller = SipTransport(
            SipConfig(
                proxy=f"127.0.0.1:{proxy.port}",
                username="faxout",
                password=PASSWORD,  # type: ignore[arg-type]
                e164_plus=False,
                caller_id="16505550100",
            )
        )
        result = caller.send(FaxCall(document, RECEIVER_USER, "trunk-1"), Progress())
        assert result.outcome is Outcome.OK, result
    finally:
        receivers.stop()  # waits for the call in progress
    with reading(gateway.engine) as conn:
        (fax,) = conn.execute(select(inbound_faxes)).all()
        mails = conn.execute(select(inbound_mails.c.inbound_id)).scalars().all()
    assert (fax.state, fax.pages, fax.called, fax.caller) == (
        "received",
        2,
        RECEIVER_USER,
        "16505550100",
    )
    assert inboxes.get(fax.inbox_id).account_id == owner.id  # type: ignore[union-attr]
    assert mails == [fax.id] and finals == [fax.id]
