"""Reading received faxes (``inbound_faxes`` joined with their inbox)."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import Connection, Row, Select, select

from faxout.db.tables import inbound_faxes, inboxes
from faxout.inbound.model import InboundFax, InboundState


def fax_select() -> Select[Any]:
    """``SELECT`` of every column ``fax_of`` reads; add ``where``/``order_by``/``limit``."""
    return select(
        inbound_faxes,
        inboxes.c.name.label("inbox_name"),
        inboxes.c.account_id.label("account_id"),
    ).join(inboxes, inboxes.c.id == inbound_faxes.c.inbox_id)


def fax_of(row: Row[Any]) -> InboundFax:
    """An ``InboundFax`` from a row of ``fax_select``."""
    m = row._mapping
    return InboundFax(
        id=m["id"],
        inbox_id=m["inbox_id"],
        inbox=m["inbox_name"],
        account_id=m["account_id"],
        transport=m["transport"],
        call_ref=m["call_ref"],
        state=InboundState(m["state"]),
        caller=m["caller"],
        caller_name=m["caller_name"],
        csid=m["csid"],
        called=m["called"],
        pages=m["pages"],
        resolution=m["resolution"],
        bit_rate=m["bit_rate"],
        ecm=m["ecm"],
        compression=m["compression"],
        line_seconds=m["line_seconds"],
        t30_code=m["t30_code"],
        t30_text=m["t30_text"],
        notes=tuple(json.loads(m["notes"] or "[]")),
        blob_key=m["blob_key"],
        size=m["size"],
        started_at=m["started_at"],
        finished_at=m["finished_at"],
        read_at=m["read_at"],
        archived_at=m["archived_at"],
        purged_at=m["purged_at"],
    )


def load_fax(conn: Connection, inbound_id: int) -> InboundFax | None:
    """One received fax by id, or None."""
    row = conn.execute(fax_select().where(inbound_faxes.c.id == inbound_id)).first()
    return None if row is None else fax_of(row)
