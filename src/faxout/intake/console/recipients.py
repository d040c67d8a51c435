"""Recipients as people paste them into the send form, and each one checked as it is typed.

The rules (docs/console.md, "Sending"):

- One recipient per line; on a line, ``;`` separates recipients, and so does ``,``.
- A recipient is written ``number``, ``number|name`` (the FaxOut form), ``name <number>``
  (as in e-mail; the name may be quoted), ``name: number`` or ``name, number``.
- The comma is both a separator and the ``name, number`` form; they are told apart by digits:
  a piece between commas that holds no digit is a name, and belongs to the number after it
  (``Smith, John, +1 650 555 1234`` is one recipient, "Smith, John"). A name with a digit in it
  (``Office 2``) is written ``Office 2 <number>`` or ``Office 2: number``.
- Blank lines and blank pieces are passed over; a name with no number after it is an error.

Each number is read exactly as a submission reads it (``DialPolicy.read``: the account's
region, its own number for local numbers, its allow and deny lists), so a line shown as fine
here is accepted when sent; lines are numbered from 1 as the textarea shows them.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from typing import Any

from faxout.accounts.repo import Account
from faxout.jobs.dialplan import DialPolicy
from faxout.jobs.numbers import MAX_NAME_CHARS, Refused, readable

MAX_NUMBER_CHARS = 64  # as the API's ``to[].number``
MAX_CHECKED = 1000  # entries checked in one call; the form takes far fewer (limits)
_ANGLE = re.compile(r"^(?P<name>[^<>]*)<(?P<number>[^<>]*)>\s*$")
_DIGIT = re.compile(r"[0-9]")


@dataclass(frozen=True)
class Entry:
    """One recipient as written: where (``line``, from 1), the text, and its parts."""

    line: int
    text: str
    number: str
    name: str = ""
    error: str = ""  # what is wrong with how it is written ("" when nothing)


def _name(text: str) -> str:
    name = " ".join(text.split()).strip("\"'")
    return " ".join(name.split())[:MAX_NAME_CHARS]


def _entry(line: int, text: str, names: list[str]) -> Entry:
    """One piece that holds a number, with the names that stood before it."""
    if (angle := _ANGLE.match(text)) is not None:
        number, name = angle["number"], angle["name"]
    elif "|" in text:
        number, _, name = text.partition("|")
    elif ":" in text:
        name, _, number = text.partition(":")
    else:
        number, name = text, ""
    whole = ", ".join(_name(n) for n in [*names, name] if _name(n))
    shown = ", ".join([*names, text])
    return Entry(line, shown, number.strip(), _name(whole))


def entries_of(lines: list[str]) -> list[Entry]:
    """The recipients written on ``lines`` (the textarea's lines), in order."""
    found: list[Entry] = []
    for n, line in enumerate(lines, start=1):
        for chunk in line.split(";"):
            names: list[str] = []
            for piece in (p.strip() for p in chunk.split(",")):
                if not piece:
                    continue
                if _DIGIT.search(piece) is None and not _ANGLE.match(piece):
                    names.append(piece)  # a name: its number follows
                    continue
                found.append(_entry(n, piece, names))
                names = []
            if names:
                text = ", ".join(names)
                found.append(Entry(n, text, "", _name(text), "a name without a number"))
    return found


def entries_of_text(text: str) -> list[Entry]:
    """The recipients of the textarea's whole text (any line ending)."""
    return entries_of(text.splitlines())


@dataclass(frozen=True)
class NumberCheck:
    """What the form says of one recipient: ``ok`` with its E.164 number (``e164``) and the
    number as people write it (``shown``), or the ``reason`` it is refused."""

    line: int
    text: str
    name: str
    ok: bool
    e164: str = ""
    shown: str = ""
    note: str = ""  # said of an accepted number: letters read as digits, a repeat
    reason: str = ""

    def json(self) -> dict[str, Any]:
        """As the numbers check answers it."""
        return asdict(self)

    @property
    def said(self) -> str:
        """The refusal as the form shows it: ``line 3: "555" it is too short …``."""
        return f"line {self.line}: {self.text[:60]!r} {self.reason}"


def policy_of(account: Account, reachable: tuple[str, ...]) -> DialPolicy:
    """How ``account``'s recipients are read, as a submission reads them."""
    return DialPolicy.for_account(
        account.username, account.region, account.dial_allow, account.dial_deny, reachable
    )


def check_entries(entries: list[Entry], policy: DialPolicy) -> list[NumberCheck]:
    """Each of ``entries`` (at most ``MAX_CHECKED``) read under ``policy``."""
    checks: list[NumberCheck] = []
    seen: set[str] = set()
    for entry in entries[:MAX_CHECKED]:
        if entry.error or len(entry.number) > MAX_NUMBER_CHARS:
            why = entry.error or f"it is longer than {MAX_NUMBER_CHARS} characters"
            checks.append(NumberCheck(entry.line, entry.text, entry.name, False, reason=why))
            continue
        read = policy.read(entry.number)
        if isinstance(read, Refused):
            checks.append(
                NumberCheck(entry.line, entry.text, entry.name, False, reason=read.reason)
            )
            continue
        note = read.note
        if read.e164 in seen:
            note = "given before; faxed once"
        seen.add(read.e164)
        checks.append(
            NumberCheck(
                entry.line, entry.text, entry.name, True, read.e164, readable(read.e164), note
            )
        )
    if len(entries) > MAX_CHECKED:
        rest = entries[MAX_CHECKED]
        why = f"not checked: more than {MAX_CHECKED} recipients"
        checks.append(NumberCheck(rest.line, rest.text, rest.name, False, reason=why))
    return checks


def check_numbers(
    lines: list[str], account: Account, reachable: tuple[str, ...]
) -> list[NumberCheck]:
    """Every recipient written on ``lines``, checked for ``account`` (``reachable``: the
    fictional prefixes the line reaches, ``Intake.reachable``)."""
    return check_entries(entries_of(lines), policy_of(account, reachable))
