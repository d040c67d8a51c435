"""A finished reception is announced to the webhooks of the account owning its inbox, in the
transaction that makes it final: fax.received (received or partial) or fax.receive.failed,
signed and delivered by the webhook outbox to a real HTTP endpoint like any fax event."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from standardwebhooks import Webhook

from faxout.accounts.repo import AccountRepo
from faxout.clock import FrozenClock
from faxout.db.tables import webhook_deliveries
from faxout.inbound.inboxes import InboxRepo
from faxout.inbound.model import InboundFax, IncomingCall, ReceptionFacts
from faxout.inbound.store import InboundStore
from faxout.webhooks.endpoints import Endpoints
from faxout.webhooks.outbox import WebhookOutbox
from faxout.webhooks.settings import Webhooks
from tests.inbound.faxfiles import fax_tiff
from tests.webhooks.receiver import Receiver, receiver

NUMBER = "16505551234"
SETTINGS = Webhooks(allow_private=True, timeout_seconds=2, schedule=(5, 60))


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock(datetime.now(UTC))  # the verifier wants a timestamp near its own time


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


@pytest.fixture
def owner(accounts: AccountRepo, inboxes: InboxRepo, clock: FrozenClock) -> int:
    """An account whose number routes to its own inbox."""
    account = accounts.add(NUMBER, email="a@example.com", password_hash="x", now=clock.now())
    inboxes.add_rule(inboxes.for_account(account.id).id, called=NUMBER)
    return account.id


def _deliveries(engine: Engine) -> list[dict[str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(webhook_deliveries).order_by(webhook_deliveries.c.id))
        return [dict(row._mapping) for row in rows]


def _receive(
    store: InboundStore, tmp: Path, to: str, pages: int, *, complete: bool = True, ref: str = "c1"
) -> InboundFax:
    call = IncomingCall("test", ref, "+16505550100", "Dr Smith", to)
    facts = ReceptionFacts(pages=pages, complete=complete, csid="Smith Clinic")
    if pages == 0:
        reception = store.begin(call)
        assert reception is not None
        return reception.finish(facts)
    fax = store.ingest(call, fax_tiff(tmp / f"{ref}.tif", pages), facts)
    assert fax is not None
    return fax


def test_a_received_fax_is_delivered_signed_to_its_owners_endpoint(
    engine: Engine,
    store: InboundStore,
    clock: FrozenClock,
    owner: int,
    hook: Receiver,
    tmp_path: Path,
) -> None:
    _, secret = Endpoints(engine, allow_private=True).add(NUMBER, hook.url, "*", clock.now())
    fax = _receive(store, tmp_path, NUMBER, 2)
    (queued,) = _deliveries(engine)
    assert (queued["event"], queued["state"], queued["inbound_id"]) == (
        "fax.received",
        "pending",
        fax.id,
    )
    assert queued["submission_id"] is None and queued["job_id"] is None
    done = WebhookOutbox(engine, SETTINGS, clock=clock).run_once(clock.now())
    assert (done.sent, done.deferred, done.failed) == (1, 0, 0)
    (got,) = hook.wait_for(1)
    event = Webhook(secret).verify(got.body, got.headers)  # raises on a bad signature
    assert got.headers["webhook-id"] == queued["msg_id"]
    assert event["type"] == "fax.received"
    base = f"/api/v1/inbound/{fax.id}"
    assert event["data"] == {
        "id": fax.id,
        "inbox": NUMBER,
        "state": "received",
        "caller": "+16505550100",
        "caller_name": "Dr Smith",
        "csid": "Smith Clinic",
        "called": NUMBER,
        "pages": 2,
        "finished_at": clock.now().isoformat(),
        "links": {
            "self": base,
            "pdf": f"{base}.pdf",
            "pages": [f"{base}/pages/1.png", f"{base}/pages/2.png"],
        },
    }
    (sent,) = _deliveries(engine)
    assert (sent["state"], sent["tries"], sent["last_status"]) == ("sent", 1, 200)


def test_a_reception_without_pages_is_fax_receive_failed_and_a_partial_one_received(
    engine: Engine,
    store: InboundStore,
    clock: FrozenClock,
    owner: int,
    hook: Receiver,
    tmp_path: Path,
) -> None:
    _, secret = Endpoints(engine, allow_private=True).add(NUMBER, hook.url, "*", clock.now())
    failed = _receive(store, tmp_path, NUMBER, 0, complete=False, ref="c1")
    partial = _receive(store, tmp_path, NUMBER, 1, complete=False, ref="c2")
    assert [(d["event"], d["inbound_id"]) for d in _deliveries(engine)] == [
        ("fax.receive.failed", failed.id),
        ("fax.received", partial.id),
    ]
    assert WebhookOutbox(engine, SETTINGS, clock=clock).run_once(clock.now()).sent == 2
    events = [Webhook(secret).verify(g.body, g.headers) for g in hook.wait_for(2)]
    by_type = {e["type"]: e["data"] for e in events}
    assert by_type["fax.receive.failed"]["state"] == "failed"
    assert by_type["fax.receive.failed"]["links"]["pdf"] is None
    assert by_type["fax.received"]["state"] == "partial"


def test_only_the_owner_hears_and_only_of_what_it_subscribed_to(
    engine: Engine,
    store: InboundStore,
    clock: FrozenClock,
    accounts: AccountRepo,
    owner: int,
    tmp_path: Path,
) -> None:
    endpoints = Endpoints(engine, allow_private=True)
    accounts.add("16505559999", email="o@example.com", password_hash="x", now=clock.now())
    endpoints.add("16505559999", "http://127.0.0.1:9/other", "*", clock.now())
    endpoints.add(NUMBER, "http://127.0.0.1:9/ends", "fax.delivered,fax.failed", clock.now())
    endpoints.add(NUMBER, "http://127.0.0.1:9/in", "fax.receive.failed", clock.now())
    _receive(store, tmp_path, NUMBER, 1, ref="c1")  # nobody wants fax.received
    _receive(store, tmp_path, "+18005550199", 0, ref="c2")  # the shared inbox: nobody
    assert _deliveries(engine) == []
    failed = _receive(store, tmp_path, NUMBER, 0, ref="c3")
    (only,) = _deliveries(engine)
    assert (only["event"], only["inbound_id"]) == ("fax.receive.failed", failed.id)
    assert json.loads(only["body"])["data"]["id"] == failed.id
