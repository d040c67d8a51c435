"""A real server, watched through ``GET /api/v1/faxes/{id}`` while it sends a long fax to the
slow simulated machine: the recipient is seen ``sending``, page by page, before ``delivered``."""

from __future__ import annotations

import time
from typing import Any

from tests.intake.test_api import api, gw, new_fax, post, token
from tests.server import Server

__all__ = ["gw"]  # the server fixture, shared with the API tests' helpers

SLOW_MODEM = "+15557770005"  # V.27ter only (simline's test numbers, transmit/behaviour.py)
LETTER = b"".join(
    b"Line %d of a long letter, to keep the line busy a while.\n" % n for n in range(2400)
)


def test_a_fax_is_seen_sending_page_by_page(gw: Server) -> None:
    secret = token(gw)
    made = post(gw, secret, new_fax(SLOW_MODEM, text=LETTER, cover_page="None"))
    assert made.status_code == 201, made.text
    fid = made.json()["id"]
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        fax = api(gw, secret, "GET", f"/faxes/{fid}").json()
        seen.append(fax["recipients"][0] | {"fax_state": fax["state"]})
        if fax["state"] in ("delivered", "partial", "failed"):
            break
        time.sleep(0.02)  # a real server in real time: poll it as a client would
    final = seen[-1]
    assert final["state"] == "delivered", final
    total = final["pages_total"]
    assert total >= 10 and final["pages_confirmed"] == total and final["page"] is None
    sending = [r for r in seen if r["state"] == "sending"]
    assert len(sending) >= 3, [r["state"] for r in seen]
    assert all(r["fax_state"] == "sending" for r in sending)
    pages = [r["page"] for r in sending]
    confirmed = [r["pages_confirmed"] for r in sending]
    assert pages == sorted(pages) and len(set(pages)) >= 3, pages
    assert confirmed == sorted(confirmed) and len(set(confirmed)) >= 2, confirmed
    assert all(1 <= p <= total for p in pages)
    # The page on the line is the one after the confirmed ones (or, as it is confirmed, that one).
    assert all(c <= p <= c + 1 for p, c in zip(pages, confirmed, strict=True))
    before = [r["state"] for r in seen[: seen.index(sending[0])]]
    assert set(before) <= {"queued", "rendering", "dialing"}, before
