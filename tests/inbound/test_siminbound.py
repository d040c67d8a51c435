"""The simulated line calling the gateway: a virtual machine faxes a document over G.711 or
T.38, the gateway's own T.30 receives it into the inbound store, and ``faxout sim receive``
does the same from the command line (rendering any document first)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from faxout.db.engine import make_engine, reading
from faxout.db.tables import inbound_faxes, inbound_mails
from faxout.inbound.model import InboundFax, InboundState
from faxout.inbound.store import InboundStore, Refuse
from faxout.transmit.siminbound import VirtualSender, receive_test_fax
from faxout.transmit.simline import Medium
from tests.server import run_cli
from tests.transmit.pages import assert_same_pages, text_page, write_tiff


@pytest.fixture
def doc3(tmp_path: Path) -> Path:
    return write_tiff(tmp_path / "three.tif", [text_page(n, 1000) for n in (21, 22, 23)])


def _stored(store: InboundStore, fax: InboundFax, tmp_path: Path) -> Path:
    out = tmp_path / f"stored-{fax.id}.tif"
    with store.blobs.open(fax.blob_key or "") as src:
        out.write_bytes(src.read())
    return out


@pytest.mark.parametrize("medium", [Medium.AUDIO, Medium.T38])
def test_a_virtual_sender_faxes_the_gateway_page_for_page(
    store: InboundStore, doc3: Path, tmp_path: Path, medium: Medium
) -> None:
    fax = receive_test_fax(store, doc3, VirtualSender(called="+16505559999", medium=medium))
    assert isinstance(fax, InboundFax)
    assert (fax.state, fax.pages, fax.transport) == (InboundState.RECEIVED, 3, "simline")
    assert (fax.caller, fax.csid, fax.called) == ("+15555550100", "+1 555 555 0100", "+16505559999")
    assert (fax.bit_rate, fax.ecm, fax.compression) == (14400, True, "mmr")
    assert_same_pages(doc3, _stored(store, fax, tmp_path))
    with reading(store.engine) as conn:
        mail = conn.execute(
            select(inbound_mails.c.state).where(inbound_mails.c.inbound_id == fax.id)
        ).scalar_one()
    assert mail == "pending", "its fax-to-email was not queued with it"


def test_without_ecm_the_pages_still_arrive_in_mh_or_mr(
    store: InboundStore, doc3: Path, tmp_path: Path
) -> None:
    fax = receive_test_fax(store, doc3, VirtualSender(ecm=False))
    assert isinstance(fax, InboundFax)
    assert (fax.pages, fax.ecm) == (3, False)
    assert fax.compression in ("mh", "mr")


def test_a_blocked_test_sender_is_refused_and_nothing_is_stored(
    store: InboundStore, doc3: Path
) -> None:
    store.inboxes.add_block(None, "*0100", "tests")
    refused = receive_test_fax(store, doc3)
    assert isinstance(refused, Refuse) and refused.block.note == "tests"
    with reading(store.engine) as conn:
        assert conn.execute(select(inbound_faxes.c.id)).first() is None


def test_the_command_renders_a_document_and_faxes_it_to_the_gateway(data_dir: Path) -> None:
    note = data_dir.parent / "note.txt"
    note.write_text("Received by faxout.\n" * 40)
    done = run_cli(data_dir, "sim", "receive", str(note), "--to", "+16505559999", "--t38")
    assert done.returncode == 0, done.stderr
    assert "received fax 1: 1 page(s) from +15555550100" in done.stdout
    assert "into inbox 'inbox', received" in done.stdout
    engine = make_engine(f"sqlite:///{data_dir / 'faxout.db'}")
    with reading(engine) as conn:
        row = conn.execute(select(inbound_faxes)).one()
    engine.dispose()
    assert (row.pages, row.called, json.loads(row.notes)) == (1, "+16505559999", [])


def test_the_command_says_why_a_document_cannot_be_sent(data_dir: Path) -> None:
    empty = data_dir.parent / "empty.pdf"
    empty.write_bytes(b"%PDF-1.4 broken")
    failed = run_cli(data_dir, "sim", "receive", str(empty))
    assert failed.returncode == 1
    assert "empty.pdf" in failed.stderr and "nothing was sent" in failed.stderr
