"""Far ends for the FaxTransport contract (``test_contract.py``): for each transport, a real
peer that ends a call the way a case needs (delivered, busy, no answer, broken off after a page).

A peer's ``reach(outcome)`` is a context manager giving a ``Far``: the transport to call with,
the number to dial, and how to count the pages the far end stored. What a peer cannot produce is
listed in ``CANNOT`` with the reason, so the contract cases leave it out visibly.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from pydantic import SecretStr

from faxout.render.options import Compression
from faxout.render.tiff import TiffFWriter
from faxout.transmit.hylafax import HylaFaxConfig, HylaFaxTransport
from faxout.transmit.result import CallResult, Outcome, PageResult
from faxout.transmit.simline import Medium, SimLineConfig, SimLineTransport
from faxout.transmit.sip.config import SipConfig
from faxout.transmit.sip.receiver import ReceiverConfig, SipReceiver
from faxout.transmit.sip.session import T38Mode
from faxout.transmit.sip.transport import SipTransport
from faxout.transmit.transport import FaxTransport, ScriptedTransport
from tests.transmit import hylafax_server, sipfar
from tests.transmit.pages import read_pages, text_page

# (transport, outcome) pairs no real peer of ours can produce, and why.
CANNOT: dict[tuple[str, Outcome], str] = {
    ("hylafax", Outcome.BUSY): (
        "the private HylaFAX's two iaxmodems call each other directly over IAX2: there is no "
        "PBX or exchange in between to give a busy signal, and an idle iaxmodem always rings"
    ),
    ("hylafax", Outcome.PARTIAL): (
        "faxgetty on the receiving iaxmodem takes every page: MaxRecvPages 1 on that modem "
        "(by faxconfig or in its config file) still let both pages through when tried, and "
        "nothing else in the lab can drop the call after page 1 on cue"
    ),
    ("hylafax", Outcome.NO_ANSWER): (
        "an unanswered iaxmodem rings 45 s and its faxgetty takes 13 s to come back: 70 s of a "
        "run for what tests/transmit/test_hylafax.py::test_real_no_answer already proves"
    ),
}


def able(names: list[str], outcome: Outcome) -> list[str]:
    """The transports in ``names`` whose peer can end a call with ``outcome``."""
    return [n for n in names if (n, outcome) not in CANNOT]


@dataclass
class Far:
    """A far end ready for one call: ``transport`` dials ``number``; ``stored`` tells how many
    pages the far end stored after the call (None: this far end does not say)."""

    transport: FaxTransport
    number: str
    stored: Callable[[CallResult], int | None] = lambda _result: None


class Peer(Protocol):
    """What a contract case needs of a transport's far end."""

    def reach(self, outcome: Outcome) -> contextlib.AbstractContextManager[Far]: ...


def two_page_document(path: Path) -> Path:
    """Two fine pages as the renderer writes them (TIFF-F: MinIsWhite, one strip a page, G4):
    what the gateway hands every transport, and what HylaFAX sends without re-imaging."""
    with TiffFWriter(path, lpi=196, compression=Compression.MMR) as writer:
        for n in (1, 2):
            writer.add_page(~np.array(text_page(n, rows=900), dtype=bool))
    return path


def _pages_in(path: Path | str | None) -> int | None:
    return len(read_pages(Path(path))) if path else None


# ---------------------------------------------------------------------------------- scripted

_MCF2 = (PageResult(1, "MCF", 0), PageResult(2, "MCF", 0))
_SCRIPTS = {
    Outcome.OK: CallResult(
        Outcome.OK, 0, "OK", 2, 2, 2, _MCF2, "V.17", 14400, True, None, None, 40
    ),
    Outcome.BUSY: CallResult(Outcome.BUSY, None, "the line is busy", 2, 0, 0, line_seconds=4),
    Outcome.NO_ANSWER: CallResult(Outcome.NO_ANSWER, None, "no answer", 2, 0, 0, line_seconds=60),
    Outcome.PARTIAL: CallResult(
        Outcome.PARTIAL, 21, "no response after sending a page", 2, 2, 1, _MCF2[:1], line_seconds=30
    ),
}


class ScriptedPeer:
    """No far end at all: the scripted transport hands out the result the case asks for."""

    @contextlib.contextmanager
    def reach(self, outcome: Outcome) -> Iterator[Far]:
        yield Far(ScriptedTransport([_SCRIPTS[outcome]]), "+4930")


# ----------------------------------------------------------------------------------- simline

# the simulated line's reserved behaviour numbers (docs/transmit.md)
_SIM_NUMBERS = {
    Outcome.OK: "+4930",
    Outcome.BUSY: "+15557770001",
    Outcome.NO_ANSWER: "+15557770002",
    Outcome.PARTIAL: "+15557770011",  # reject-after:1: confirms one page, then hangs up
}


@dataclass
class SimLinePeer:
    """The virtual fax machines behind the simulated line."""

    data_dir: Path
    medium: Medium

    @contextlib.contextmanager
    def reach(self, outcome: Outcome) -> Iterator[Far]:
        transport = SimLineTransport(SimLineConfig(self.data_dir, medium=self.medium))
        yield Far(transport, _SIM_NUMBERS[outcome], lambda r: _pages_in(r.received_path))


# --------------------------------------------------------------------------------------- SIP


def _direct(port: int, ring_seconds: float = 60.0) -> SipTransport:
    """A SIP transport whose "proxy" is the far end itself (no kamailio: faster, same calls)."""
    return SipTransport(SipConfig(proxy=f"127.0.0.1:{port}", ring_seconds=ring_seconds))


@dataclass
class SipPeer:
    """faxout's own SIP receiver (a fax machine; optionally one that hangs up after a page),
    and SIPp as a UAS that answers busy or rings forever."""

    workdir: Path

    @contextlib.contextmanager
    def reach(self, outcome: Outcome) -> Iterator[Far]:
        why = sipfar.missing("sipp")
        # `make test` installs the packages: missing means a broken set-up, not a skip.
        assert not why, f"{why} (run `make setup-test` as root)"
        if outcome is Outcome.BUSY:
            keys = {"code": "486", "reason": "Busy Here", "ring": "yes"}
            with sipfar.sipp_uas(self.workdir, "reply", keys, timeout=15) as sipp:
                yield Far(_direct(sipp.port), "15550100")
        elif outcome is Outcome.NO_ANSWER:
            with sipfar.sipp_uas(self.workdir, "ring_forever", timeout=20) as sipp:
                yield Far(_direct(sipp.port, ring_seconds=3.0), "15550100")
        else:
            # PARTIAL: the receiving machine drops the line in the middle of page 2
            rx = SipReceiver(
                ReceiverConfig(
                    data_dir=self.workdir / "rx",
                    port=0,
                    t38=T38Mode.OFF,
                    hang_up_after_pages=1 if outcome is Outcome.PARTIAL else None,
                )
            )
            try:

                def stored(_: CallResult) -> int | None:
                    faxes = rx.wait_for(1, 15)
                    return faxes[-1].pages if faxes else None

                yield Far(_direct(rx.port), "15557770100", stored)
            finally:
                rx.close()


# ----------------------------------------------------------------------------------- HylaFAX


@dataclass
class HylaFaxPeer:
    """A private HylaFAX (faxq + hfaxd) sending on one iaxmodem to another one whose faxgetty
    answers; for no answer that faxgetty is stopped (and started again afterwards)."""

    lab: hylafax_server.HylaFaxLab

    def transport(self) -> HylaFaxTransport:
        return HylaFaxTransport(
            HylaFaxConfig(
                port=self.lab.port,
                user=hylafax_server.USER,
                password=SecretStr(hylafax_server.PASSWORD),
                modem=self.lab.tx,
                poll_interval=0.5,
                job_timeout=300,
            )
        )

    @contextlib.contextmanager
    def reach(self, outcome: Outcome) -> Iterator[Far]:
        before = set(self.lab.received())

        def stored(_: CallResult) -> int | None:
            new = sorted(set(self.lab.received()) - before)
            return _pages_in(new[-1]) if new else None

        if outcome is Outcome.NO_ANSWER:
            self.lab.stop_answering()  # the receiving modem rings, nobody picks up
            try:
                yield Far(self.transport(), "5550102", stored)
            finally:
                answer_again(self.lab)
        else:
            yield Far(self.transport(), "5550101", stored)


def answer_again(lab: hylafax_server.HylaFaxLab) -> None:
    """Start the receiving modem's faxgetty again after ``stop_answering`` (idempotent)."""
    name = f"faxgetty-{lab.rx}"
    if name in lab.procs:
        return
    faxgetty = hylafax_server.binary("faxgetty")
    assert faxgetty
    # a faxgetty stopped while the line rang leaves its UUCP lock behind
    Path(f"/var/lock/LCK..{lab.rx}").unlink(missing_ok=True)
    lab._start(name, [faxgetty, "-q", ".", lab.rx], lab.spool)
    lab.wait_for("both modems idle", lambda: lab.faxstat().count("Running and idle") >= 2, 60)
