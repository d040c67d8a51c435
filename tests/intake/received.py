"""Received faxes for the API and console tests: each account's own inbox (a rule routes calls
to its number there), the shared default inbox for the rest, faxes ingested from TIFFs."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import update

from faxout.db.engine import transaction
from faxout.db.tables import inbound_faxes
from faxout.inbound.inboxes import InboxRepo
from faxout.inbound.model import InboundFax, IncomingCall, ReceptionFacts
from faxout.inbound.store import InboundStore, Reception
from tests.inbound.faxfiles import fax_tiff
from tests.intake.apiapp import PASSWORD, USER, InProcess

OTHER = "16505559999"
SHARED = "+18005550199"  # no rule routes it: the shared default inbox
_refs = itertools.count(1)


@dataclass
class Line:
    """An in-process gateway's inbound side: its store and the test's folder for TIFFs."""

    made: InProcess
    tmp: Path

    @property
    def store(self) -> InboundStore:
        return self.made.gw.inbound_store("test")

    def receive(
        self,
        to: str = USER,
        *,
        pages: int = 2,
        caller: str = "+16505550100",
        caller_name: str = "Dr Smith",
        csid: str = "Smith Clinic",
        complete: bool = True,
        height: int = 2200,
        dpi: tuple[int, int] = (204, 196),
        tiff: Path | None = None,
    ) -> InboundFax:
        """A fax to ``to`` received whole (``pages`` 0: a call in which no page arrived)."""
        ref = f"call-{next(_refs)}"
        call = IncomingCall("test", ref, caller, caller_name, to)
        facts = ReceptionFacts(
            pages=pages, complete=complete, csid=csid, bit_rate=14400, ecm=True, line_seconds=42.5
        )
        if pages == 0:
            reception = self.begin(to, ref)
            return reception.finish(facts)
        if tiff is None:
            tiff = fax_tiff(self.tmp / f"{ref}.tif", pages, height=height, dpi=dpi)
        fax = self.store.ingest(call, tiff, facts)
        assert fax is not None
        return fax

    def begin(self, to: str = USER, ref: str | None = None) -> Reception:
        """A call answered and still coming in."""
        call = IncomingCall("test", ref or f"call-{next(_refs)}", "+16505550100", "", to)
        reception = self.store.begin(call)
        assert reception is not None
        return reception

    def purge(self, fax: InboundFax) -> None:
        """What retention does: the image gone, the facts kept."""
        assert fax.blob_key is not None
        self.made.gw.store.delete(fax.blob_key)
        with transaction(self.made.gw.engine) as conn:
            conn.execute(
                update(inbound_faxes)
                .where(inbound_faxes.c.id == fax.id)
                .values(blob_key=None, purged_at=self.made.clock.now())
            )


def line_of(made: InProcess, tmp: Path) -> Line:
    """``made`` with ``OTHER`` besides ``USER``, each with an inbox its number routes to."""
    gw = made.gw
    gw.accounts.add(
        OTHER,
        email="o@example.com",
        password_hash=gw.passwords.hash(PASSWORD),
        now=made.clock.now(),
        name="Other",
    )
    repo = InboxRepo(gw.engine, made.clock)
    for username in (USER, OTHER):
        account = gw.accounts.get(username)
        assert account is not None
        repo.add_rule(repo.for_account(account.id).id, called=username)
    return Line(made, tmp)


def token_for(made: InProcess, username: str, *scopes: str) -> dict[str, str]:
    """An Authorization header for a token of ``username``."""
    account = made.gw.accounts.get(username)
    assert account is not None
    api = made.app.state.intake.api
    secret = api.tokens.create(account.id, scopes or ("read", "send"), made.clock.now())[0]
    return {"Authorization": f"Bearer {secret}"}


def make_operator(made: InProcess, username: str = USER) -> None:
    """Give ``username`` the operator role (who sees the shared inboxes)."""
    made.gw.accounts.update(username, now=made.clock.now(), operator=True)
