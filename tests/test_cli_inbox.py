"""``faxout inbox``, run as an operator runs it: inboxes, routing rules, block lists and the
received faxes, on a data directory whose faxes came in through the real inbound store.

The commands run in this process (click's runner through the whole ``faxout`` group, lazy
loading and error handling included): a subprocess takes seconds on a busy machine. The one
thing only a fresh process shows, what ``faxout inbox list`` imports, is checked in one."""

from __future__ import annotations

import itertools
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pypdfium2
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import update

from faxout.db.engine import transaction
from faxout.db.migrate import upgrade
from faxout.db.tables import inbound_faxes
from faxout.inbound.listing import ACTIONS, EveryInbox, InboundFaxes
from faxout.inbound.model import InboundFax, IncomingCall, ReceptionFacts
from faxout.inbound.store import InboundStore, Refuse
from faxout.ops.cli import cli
from faxout.ops.gateway import Gateway, build_gateway
from faxout.ops.settings import Settings
from tests.inbound.faxfiles import fax_tiff
from tests.server import faxout_env
from tests.test_cli_imports import HEAVY, PROBE

USER, OTHER = "16505551234", "4930123456"
SALES = "+1 650 555 0100"  # a number of ours the trunk sends faxes to
_refs = itertools.count(1)


@dataclass
class Site:
    """A data directory, the gateway on it (to receive faxes as the receivers do), and the
    command line on it."""

    data_dir: Path
    gw: Gateway
    tmp: Path

    def run(self, *args: str) -> Result:
        """``faxout --data-dir DIR ARGS…`` as a user types it."""
        return CliRunner().invoke(
            cli, ["--data-dir", str(self.data_dir), *args], prog_name="faxout"
        )

    def ok(self, *args: str) -> str:
        """The output of a command that must succeed."""
        done = self.run(*args)
        assert done.exit_code == 0, (args, done.output, done.exception)
        return done.stdout

    def refused(self, *args: str) -> str:
        """The error of a command that must fail as a user error (status 1 or 2, no trace)."""
        done = self.run(*args)
        assert done.exit_code in (1, 2), (args, done.output, done.exception)
        assert "Traceback" not in done.output
        return " ".join(done.stderr.split())  # click wraps long usage errors

    @property
    def store(self) -> InboundStore:
        return self.gw.inbound_store("test")

    def receive(
        self, to: str = SALES, *, pages: int = 2, caller: str = "+1 415 555 0111", csid: str = ""
    ) -> InboundFax:
        """A fax received as a receiver stores one (``pages`` 0: the call broke first)."""
        call = IncomingCall("test", f"call-{next(_refs)}", caller, "Dr Smith", to)
        facts = ReceptionFacts(
            pages=pages, complete=True, csid=csid, bit_rate=14400, ecm=True, line_seconds=42.5,
            t30_code=0, t30_text="OK",
        )  # fmt: skip
        if pages == 0:
            reception = self.store.begin(call)
            assert reception is not None
            return reception.finish(facts)
        tiff = fax_tiff(self.tmp / f"{call.call_ref}.tif", pages)
        fax = self.store.ingest(call, tiff, facts)
        assert fax is not None
        return fax

    def faxes(self) -> InboundFaxes:
        return InboundFaxes(self.gw.engine, self.gw.store, self.gw.clock)


@pytest.fixture
def site(data_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Site]:
    for name in [k for k in os.environ if k.startswith("FAXOUT_")]:
        monkeypatch.delenv(name)
    # The commands make this process private (umask 077), as they do a real one: give the
    # other tests in this process their umask back.
    umask = os.umask(0o022)
    os.umask(umask)
    gw = build_gateway(Settings(data_dir=data_dir))
    upgrade(gw.engine)
    for username, email in ((USER, "al@example.com"), (OTHER, "bo@example.com")):
        gw.accounts.add(username, email=email, password_hash="x", now=gw.clock.now())
    try:
        yield Site(data_dir, gw, tmp_path)
    finally:
        gw.engine.dispose()
        os.umask(umask)


def _rows(output: str) -> dict[str, list[str]]:
    """A table's rows by their first column, each split into its words."""
    return {line.split()[0]: line.split() for line in output.splitlines()[1:] if line.strip()}


# -- help -----------------------------------------------------------------------------------

COMMANDS = [
    ("list",), ("add",), ("set",), ("remove",), ("faxes",), ("fax",),
    ("route", "add"), ("route", "list"), ("route", "remove"), ("route", "test"),
    ("block", "add"), ("block", "list"), ("block", "remove"),
]  # fmt: skip


def test_every_command_explains_itself_with_an_example(site: Site) -> None:
    top = site.ok("--help")
    assert "inbox" in top and "Received faxes: inboxes, routing rules, block lists." in top
    group = site.ok("inbox", "--help")
    for name in ("add", "list", "set", "remove", "route", "block", "faxes", "fax"):
        assert f"\n  {name} " in group, name
    assert "...\n" not in group.split("Commands:")[1]  # every short help whole, none cut off
    for command in COMMANDS:
        shown = site.ok("inbox", *command, "--help")
        assert f"faxout inbox {' '.join(command)}" in shown.split("Options:")[0], command


def test_inbox_list_loads_no_heavy_library(site: Site) -> None:
    site.ok("inbox", "add", "sales")
    done = subprocess.run(
        [sys.executable, "-c", PROBE, "inbox", "list"],
        capture_output=True,
        text=True,
        env=faxout_env(site.data_dir),
        timeout=60,
        check=True,
    )
    *output, modules = done.stdout.strip().splitlines()
    assert "sales" in "\n".join(output)
    loaded = set(json.loads(modules))
    assert "sqlalchemy" in loaded and not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


# -- inboxes --------------------------------------------------------------------------------


def test_inboxes_are_made_listed_changed_and_removed(site: Site) -> None:
    assert "no inboxes yet; faxes no rule claims go to 'inbox'" in site.ok("inbox", "list")
    made = site.ok(
        "inbox", "add", "sales", "--email", "a@example.com, b@example.com", "--attach", "tiff"
    )
    assert made.strip() == (
        "inbox sales made (shared, mails to a@example.com, b@example.com, attaches tiff)"
    )
    made = site.ok("inbox", "add", "legal", "--account", "+1 (650) 555-1234", "--attach", "link")
    assert made.strip() == (
        f"inbox legal made ({USER}'s, mails to owner (al@example.com), attaches link)"
    )

    listed = site.ok("inbox", "list")
    assert listed.splitlines()[0].split() == [
        "NAME",
        "OWNER",
        "ATTACH",
        "UNREAD",
        "TOTAL",
        "MAIL",
        "TO",
    ]
    rows = _rows(listed)
    assert rows["legal"] == ["legal", USER, "link", "0", "0", "owner", "(al@example.com)"]
    assert rows["sales"] == ["sales", "shared", "tiff", "0", "0", "a@example.com,", "b@example.com"]

    assert "inbox sales updated (4930123456's, mails to owner (bo@example.com), attaches pdf)" in (
        site.ok("inbox", "set", "sales", "--account", OTHER, "--email", "", "--attach", "pdf")
    )
    assert "(shared, mails to nobody, attaches pdf)" in site.ok("inbox", "set", "sales", "--shared")
    changed = site.ok("inbox", "set", "legal", "--email", "law@example.com")
    assert f"({USER}'s, mails to law@example.com, attaches link)" in changed
    as_json = {b["name"]: b for b in json.loads(site.ok("inbox", "list", "--json"))}
    assert as_json["legal"] == {
        "name": "legal", "account": USER, "email": ["law@example.com"], "attach": "link",
        "unread": 0, "total": 0, "default": False,
    }  # fmt: skip
    assert as_json["sales"]["account"] is None

    assert site.ok("inbox", "remove", "legal").splitlines() == [
        "inbox legal removed",
        f"(a fax to {USER}'s own number makes it an inbox again)",
    ]
    assert site.ok("inbox", "remove", "sales").strip() == "inbox sales removed"  # shared
    site.ok("inbox", "add", "sales")
    assert "legal" not in _rows(site.ok("inbox", "list"))


def test_wrong_inbox_inputs_are_refused_saying_why(site: Site) -> None:
    site.ok("inbox", "add", "sales")
    assert "there is already an inbox 'sales'; `faxout inbox set` changes it" in site.refused(
        "inbox", "add", "sales"
    )
    assert "there is no account 4930999999; `faxout user list` shows them" in site.refused(
        "inbox", "add", "x", "--account", "4930999999"
    )
    assert "Invalid value for --account" in site.refused("inbox", "add", "x", "--account", "12")
    assert "'not-an-address' is not an email address (name@example.com)" in site.refused(
        "inbox", "add", "x", "--email", "ok@example.com,not-an-address"
    )
    assert "'zip' is not one of 'pdf', 'tiff', 'link'" in site.refused(
        "inbox", "add", "x", "--attach", "zip"
    )
    assert "1 to 100 printable characters" in site.refused("inbox", "add", "x" * 101)
    assert "there is no inbox 'nosuch'; `faxout inbox list` shows them" in site.refused(
        "inbox", "set", "nosuch", "--shared"
    )
    assert "nothing to change: give --email, --attach, --account or --shared" in site.refused(
        "inbox", "set", "sales"
    )
    assert "--account and --shared: give one of them" in site.refused(
        "inbox", "set", "sales", "--account", USER, "--shared"
    )
    assert "is not an email address" in site.refused("inbox", "set", "sales", "--email", "a@b")
    assert "there is no inbox 'nosuch'" in site.refused("inbox", "remove", "nosuch")
    assert [n for n in _rows(site.ok("inbox", "list"))] == ["sales"]  # nothing was made


def test_a_used_inbox_is_not_removed_and_the_refusal_says_what_to_do(
    site: Site, monkeypatch: pytest.MonkeyPatch
) -> None:
    site.ok("inbox", "add", "sales")
    site.ok("inbox", "add", "archive")
    rule = site.ok("inbox", "route", "add", "sales", "--called", "*5550100").split()[1]
    fax = site.receive()
    assert fax.inbox == "sales"
    assert _rows(site.ok("inbox", "list"))["sales"][2:5] == ["pdf", "1", "1"]

    refused = site.refused("inbox", "remove", "sales")
    assert f"routing rule {rule} sends calls to 'sales': remove it first" in refused
    assert "`faxout inbox route remove ID`" in refused
    site.ok("inbox", "route", "remove", rule)
    refused = site.refused("inbox", "remove", "sales")
    assert "'sales' holds 1 received fax: " in refused
    assert "`faxout inbox remove sales --move-faxes-to INBOX` moves them first" in refused
    assert "there is no inbox 'nosuch'" in site.refused(
        "inbox", "remove", "sales", "--move-faxes-to", "nosuch"
    )
    assert "another inbox" in site.refused("inbox", "remove", "sales", "--move-faxes-to", "sales")
    done = site.ok("inbox", "remove", "sales", "--move-faxes-to", "archive")
    assert done.strip() == "inbox sales removed; its faxes are in archive"
    assert _rows(site.ok("inbox", "list"))["archive"][2:5] == ["pdf", "1", "1"]

    site.receive("+1 800 555 0199")  # no rule: the default inbox, made for it
    refused = site.refused("inbox", "remove", "inbox")
    assert "'inbox' is the default inbox" in refused and "[inbound] default_inbox" in refused
    monkeypatch.setenv("FAXOUT_INBOUND__DEFAULT_EMAIL", "desk@example.com")
    refused = site.refused("inbox", "set", "inbox", "--email", "me@example.com")
    assert "its addresses are [inbound] default_email (desk@example.com)" in refused
    assert "change that setting instead" in refused
    assert "attaches link" in site.ok("inbox", "set", "inbox", "--attach", "link")


# -- routing --------------------------------------------------------------------------------


def test_routing_rules_are_added_listed_and_removed(site: Site) -> None:
    site.ok("inbox", "add", "sales")
    site.ok("inbox", "add", "legal", "--account", USER)
    assert (
        site.ok("inbox", "route", "list").strip()
        == "no rules: a call goes to the inbox of the account whose number it called, "
        "else to 'inbox' (default)"
    )
    first = site.ok("inbox", "route", "add", "sales", "--called", "+1 (650) 555-0100")
    assert first.strip() == "rule 1 (position 10): called 16505550100, caller any, CSID any → sales"
    site.ok("inbox", "route", "add", "legal", "--caller", "+49 30 *", "--csid", "Smith  CLINIC")
    early = site.ok("inbox", "route", "add", "legal", "--called", "*0100", "--position", "5")
    assert early.strip() == "rule 3 (position 5): called *0100, caller any, CSID any → legal"

    listed = site.ok("inbox", "route", "list").splitlines()
    assert listed[0].split() == ["ID", "POS", "CALLED", "CALLER", "CSID", "INBOX"]
    assert [line.split() for line in listed[1:4]] == [
        ["3", "5", "*0100", "any", "any", "legal"],
        ["1", "10", "16505550100", "any", "any", "sales"],
        ["2", "20", "any", "4930*", "smith", "clinic", "legal"],
    ]
    assert listed[4] == (
        "any other call goes to the inbox of the account whose number it called, "
        "else to 'inbox' (default)"
    )
    as_json = json.loads(site.ok("inbox", "route", "list", "--json"))
    assert as_json[2] == {
        "id": 2, "position": 20, "called": "", "caller": "4930*", "csid": "smith clinic",
        "inbox": "legal",
    }  # fmt: skip

    assert site.ok("inbox", "route", "remove", "3").strip() == "rule 3 removed"
    assert [r["id"] for r in json.loads(site.ok("inbox", "route", "list", "--json"))] == [1, 2]


def test_wrong_routing_inputs_are_refused_saying_why(site: Site) -> None:
    site.ok("inbox", "add", "sales")
    assert "'0800-FAX': a number pattern holds digits, + ( ) - . / spaces" in site.refused(
        "inbox", "route", "add", "sales", "--called", "0800-FAX"
    )
    assert "'--' has no digits or wildcards" in site.refused(
        "inbox", "route", "add", "sales", "--caller", "--"
    )
    assert "a CSID pattern is at most 64 characters" in site.refused(
        "inbox", "route", "add", "sales", "--csid", "x" * 65
    )
    assert (
        "there is no inbox 'nosuch'; `faxout inbox list` shows them, `faxout inbox add nosuch`"
        in (site.refused("inbox", "route", "add", "nosuch", "--called", "1"))
    )
    assert "give --called, --caller or --csid" in site.refused("inbox", "route", "add", "sales")
    assert "there is no rule 7; `faxout inbox route list`" in site.refused(
        "inbox", "route", "remove", "7"
    )
    assert "Missing option '--called'" in site.refused("inbox", "route", "test")
    assert json.loads(site.ok("inbox", "route", "list", "--json")) == []


def test_route_test_says_what_the_receivers_do(site: Site) -> None:
    site.ok("inbox", "add", "sales")
    site.ok("inbox", "add", "legal", "--account", USER)
    site.ok("inbox", "route", "add", "sales", "--called", "*5550100")
    site.ok("inbox", "route", "add", "legal", "--called", "*5550100", "--csid", "smith*",
            "--position", "1")  # fmt: skip
    site.ok("inbox", "route", "add", "legal", "--called", "*5550142")
    site.ok("inbox", "block", "add", "+1 900 *", "--note", "premium junk")
    site.ok("inbox", "block", "add", "+44 *", "--account", USER)

    said = site.ok("inbox", "route", "test", "--called", "6505550100", "--caller", "4930123")
    assert said.splitlines() == [
        "answered, ringing for the inbox 'sales' (rule 1)",
        "it lands there unless a CSID rule claims it (--csid tries one)",
    ]
    said = site.ok("inbox", "route", "test", "--called", SALES, "--caller", "4930123",
                   "--csid", "SMITH Clinic")  # fmt: skip
    assert said.splitlines()[1] == "with CSID 'SMITH Clinic' it lands in the inbox 'legal' (rule 2)"
    said = site.ok("inbox", "route", "test", "--called", "123", "--caller", "+1 900 555 1212")
    assert said.splitlines() == [
        "refused before answer (SIP 603) by block 1 (everyone's list: premium junk)",
        "it rang for the inbox 'inbox' (the default)",
    ]
    # An account's block refuses the calls for its inboxes, and only those.
    said = site.ok("inbox", "route", "test", "--called", "6505550142", "--caller", "+44 20 7946")
    assert said.startswith("refused before answer (SIP 603) by block 2 (its account's list)")
    said = site.ok("inbox", "route", "test", "--called", "6505550100", "--caller", "+44 20 7946")
    assert said.startswith("answered, ringing for the inbox 'sales'")
    # No rule for an account's own number: its inbox (legal, the one it owns), its blocks.
    said = site.ok("inbox", "route", "test", "--called", "+1 650 555 1234", "--caller", "4930")
    assert said.splitlines()[0] == (
        f"answered, ringing for the inbox 'legal' (account {USER}'s own number)"
    )
    said = site.ok("inbox", "route", "test", "--called", USER, "--caller", "+44 20 7946")
    assert said.startswith("refused before answer (SIP 603) by block 2 (its account's list)")

    # What it said is what the store does with the same calls.
    store = site.store
    for called, caller, csid in (
        ("6505550100", "4930123", None),
        (SALES, "4930123", "SMITH Clinic"),
        ("123", "4930123", "anyone"),
        ("6505550142", "+44 20 7946", None),
        ("+1 650 555 1234", "4930", None),
        (USER, "+44 20 7946", "anyone"),
        (OTHER, "4930", None),  # its inbox is made on its first fax: named before that
    ):
        call = IncomingCall("test", "probe", caller, "", called)
        said = site.ok("inbox", "route", "test", "--called", called, "--caller", caller,
                       *(("--csid", csid) if csid else ()))  # fmt: skip
        refused = isinstance(store.screen(call), Refuse)
        assert said.startswith("refused") == refused
        # The inbox it rang for (on a refusal's second line), or its final one with a CSID.
        line = said.splitlines()[1 if refused else -1 if csid else 0]
        assert f"the inbox '{store.route(call, None if refused else csid).name}'" in line, said


# -- block lists ----------------------------------------------------------------------------


def test_blocks_are_added_listed_and_removed(site: Site) -> None:
    assert "no sender is blocked" in site.ok("inbox", "block", "list")
    made = site.ok("inbox", "block", "add", "+1 900 *", "--note", "premium junk")
    assert made.strip() == "block 1: calls from 1900* to every inbox are refused"
    made = site.ok("inbox", "block", "add", "*", "--account", USER, "--note", "withheld")
    assert made.strip() == f"block 2: calls from * to {USER}'s inboxes are refused"
    listed = site.ok("inbox", "block", "list").splitlines()
    assert listed[0].split() == ["ID", "CALLER", "FOR", "NOTE"]
    assert [line.split() for line in listed[1:]] == [
        ["1", "1900*", "everyone", "premium", "junk"],
        ["2", "*", USER, "withheld"],
    ]
    assert json.loads(site.ok("inbox", "block", "list", "--json"))[1] == {
        "id": 2, "caller": "*", "account": USER, "note": "withheld",
    }  # fmt: skip
    assert site.ok("inbox", "block", "remove", "1").strip() == "block 1 removed"
    assert [b["id"] for b in json.loads(site.ok("inbox", "block", "list", "--json"))] == [2]

    assert "a number pattern holds digits" in site.refused("inbox", "block", "add", "spam")
    assert "say which caller to block" in site.refused("inbox", "block", "add", " ")
    assert "there is no account 4930999999" in site.refused(
        "inbox", "block", "add", "1", "--account", "4930999999"
    )
    assert "there is no block 1; `faxout inbox block list`" in site.refused(
        "inbox", "block", "remove", "1"
    )


# -- received faxes -------------------------------------------------------------------------


def test_received_faxes_are_listed_by_inbox_state_and_unread(site: Site) -> None:
    assert site.ok("inbox", "faxes").strip() == "no received faxes"
    site.ok("inbox", "add", "sales")
    site.ok("inbox", "route", "add", "sales", "--called", "*5550100")
    read = site.receive(csid="Smith Clinic")
    archived = site.receive(pages=1, caller="")
    other = site.receive("+1 800 555 0199", pages=3)
    failed = site.receive(pages=0)
    faxes, everyone = site.faxes(), EveryInbox()
    ACTIONS["read"](faxes, everyone, read.id)
    ACTIONS["archive"](faxes, everyone, archived.id)

    listed = site.ok("inbox", "faxes").splitlines()
    assert listed[0].split() == [
        "ID", "STARTED", "(UTC)", "FROM", "CSID", "TO", "INBOX", "PAGES", "STATE", "FLAGS"
    ]  # fmt: skip
    rows = _rows("\n".join(listed))
    assert list(rows) == [str(f.id) for f in (failed, other, archived, read)]  # newest first
    when = f"{read.started_at:%Y-%m-%d %H:%M}".split()
    assert rows[str(read.id)] == [
        str(read.id), *when, "+1", "415", "555", "0111", "Smith", "Clinic", SALES.split()[0],
        *SALES.split()[1:], "sales", "2", "received", "read",
    ]  # fmt: skip
    assert (
        rows[str(archived.id)][3] == "withheld" and rows[str(archived.id)][-1] == "unread,archived"
    )
    assert rows[str(other.id)][-4:] == ["inbox", "3", "received", "unread"]
    assert rows[str(failed.id)][-3:] == ["0", "failed", "unread"]

    def ids(*args: str) -> list[int]:
        return [f["id"] for f in json.loads(site.ok("inbox", "faxes", "--json", *args))]

    assert ids("sales") == [failed.id, archived.id, read.id]
    assert ids("sales", "--unread") == [failed.id, archived.id]
    assert ids("--state", "failed,partial") == [failed.id]
    assert ids("--state", "received", "--state", "failed", "--limit", "2") == [failed.id, other.id]
    assert site.ok("inbox", "faxes", "--limit", "3").splitlines()[-1] == (
        "(the newest 3; --limit shows more)"
    )
    assert site.ok("inbox", "faxes", "sales", "--state", "partial").strip() == (
        "no received faxes match"
    )
    unread_total = _rows(site.ok("inbox", "list"))
    assert unread_total["sales"][2:5] == ["pdf", "2", "3"]
    assert unread_total["inbox"][:5] == ["inbox", "(default)", "shared", "pdf", "1"]

    assert "there is no inbox 'nosuch'" in site.refused("inbox", "faxes", "nosuch")
    assert "'bogus' is not one of receiving, received, partial, failed" in site.refused(
        "inbox", "faxes", "--state", "bogus"
    )
    # Looking is not reading: nothing was marked read.
    assert [f.read_at is None for f in faxes.page(everyone)] == [True, True, True, False]


def test_one_fax_is_shown_and_written_as_a_pdf(site: Site) -> None:
    fax = site.receive(pages=2, csid="Smith Clinic")
    shown = site.ok("inbox", "fax", str(fax.id)).splitlines()
    assert shown[0] == f"received fax {fax.id}: received, 2 pages"
    facts = {line.split()[0]: " ".join(line.split()[1:]) for line in shown[1:]}
    assert facts["inbox"] == "inbox"
    assert facts["from"] == "+1 415 555 0111 (Dr Smith)"
    assert facts["CSID"] == "Smith Clinic" and facts["to"] == SALES
    assert facts["line"] == "14,400 bit/s, ECM, 204x196, 42.5 s on the line"
    assert facts["T.30"] == "0 OK"  # code 0 is a code too
    assert facts["read"] == "no" and facts["archived"] == "no"
    assert facts["image"] == f"{fax.size} bytes"
    assert json.loads(site.ok("inbox", "fax", str(fax.id), "--json"))["csid"] == "Smith Clinic"

    out = site.tmp / "out" / "received.pdf"
    out.parent.mkdir()
    wrote = site.ok("inbox", "fax", str(fax.id), "--pdf", str(out)).splitlines()[-1]
    assert wrote.startswith(f"wrote {out} (2 pages, ")
    pdf = pypdfium2.PdfDocument(out)
    try:
        assert len(pdf) == 2
        width, _ = pdf[0].get_size()
        assert width == pytest.approx(1728 / 204 * 72, abs=0.5)  # the fax's own width
    finally:
        pdf.close()
    assert [p.name for p in out.parent.iterdir()] == ["received.pdf"]  # no part file left


def test_a_fax_without_an_image_writes_no_pdf_and_says_why(site: Site) -> None:
    failed = site.receive(pages=0)
    out = site.tmp / "none.pdf"
    assert f"fax {failed.id} has no PDF: no page arrived" in site.refused(
        "inbox", "fax", str(failed.id), "--pdf", str(out)
    )
    assert not out.exists()
    coming = site.store.begin(IncomingCall("test", "still-on", "+14155550111", "", SALES))
    assert coming is not None
    assert f"fax {coming.inbound_id} has no PDF: it is still being received" in site.refused(
        "inbox", "fax", str(coming.inbound_id), "--pdf", str(out)
    )
    purged = site.receive()
    with transaction(site.gw.engine) as conn:  # what retention does: the image gone, facts kept
        conn.execute(
            update(inbound_faxes)
            .where(inbound_faxes.c.id == purged.id)
            .values(blob_key=None, purged_at=site.gw.clock.now())
        )
    shown = site.ok("inbox", "fax", str(purged.id))
    assert "  image     its image was removed by retention; its facts are kept" in shown
    assert "was removed by retention" in site.refused(
        "inbox", "fax", str(purged.id), "--pdf", str(out)
    )
    assert not out.exists()
    assert _rows(site.ok("inbox", "faxes"))[str(purged.id)][-1] == "unread,purged"
    assert _rows(site.ok("inbox", "faxes"))[str(coming.inbound_id)][-2] == "receiving"
    assert "there is no received fax 999; `faxout inbox faxes` lists them" in site.refused(
        "inbox", "fax", "999"
    )
    assert "'x' is not a valid integer" in site.refused("inbox", "fax", "x")
