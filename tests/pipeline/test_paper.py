"""Paper by destination: each recipient's pages have its own paper's length."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import update

from faxout.db.engine import transaction
from faxout.db.tables import accounts
from faxout.render.options import Paper
from tests.pipeline.harness import Harness


@pytest.fixture
def h(tmp_path: Path) -> Harness:
    return Harness(tmp_path)


def test_each_recipient_gets_the_paper_of_its_country(h: Harness) -> None:
    # A US account faxes London and Chicago: A4 there, Letter here (normal resolution rows).
    sid = h.submit(["+13125550100", "+442079460000", "5551001"], cover="default")
    h.tick()
    sub = h.gw.jobs.get_submission(sid)
    assert sub is not None and sub.state == "done" and sub.render_count == 1
    papers = {j.number: (j.paper, j.pages) for j in sub.jobs}
    assert papers["+13125550100"] == ("letter", None)  # the submission's (first) paper
    assert papers["+442079460000"] == ("a4", sub.pages)  # rendered again: its own pages
    assert papers["5551001"] == ("letter", None)  # national: the account's own country
    rows = {s.number: s.first.shape for s in h.line.sent}
    assert rows == {
        "+442079460000": (1146, 1728),
        "+13125550100": (1078, 1728),
        "5551001": (1078, 1728),
    }


@pytest.mark.parametrize("chosen", ["legal", "a4"])
def test_an_accounts_own_paper_wins(h: Harness, chosen: str) -> None:
    with transaction(h.gw.engine) as conn:
        conn.execute(update(accounts).where(accounts.c.id == h.account.id).values(paper=chosen))
    sid = h.submit(["+13125550100"], cover="default")
    h.tick()
    (sent,) = h.line.sent
    assert h.job(sid).paper == chosen
    assert sent.first.shape == ({"legal": 1372, "a4": 1146}[chosen], 1728)
    assert sent.pages == 2  # the cover page on the same paper


def test_destination_rule() -> None:
    assert Paper.for_destination("+15550100", "4930123") is Paper.LETTER
    assert Paper.for_destination("+4930123", "15550100") is Paper.A4
    assert Paper.for_destination("0301234", "4930123") is Paper.A4
    assert Paper.for_destination("5551001", "15550100") is Paper.LETTER
    assert Paper.for_destination("+4930123", "15550100", "legal") is Paper.LEGAL
