"""Routing rules and block lists: which inbox a call goes to, and who is refused.

A rule has up to three patterns, for the called number, the caller's number and the sender's
CSID (its TSI); an empty pattern matches anything, and a rule matches when all of its patterns
do. Rules are tried by position (then id); the first match wins, and no match means the
default inbox. Number patterns compare digits only (``+1 (650) 555-0100`` is ``16505550100``)
with ``*`` for any run of digits and ``?`` for one, so ``*5550100`` matches that number
whether the trunk sends it national or international. CSID patterns compare case-insensitively,
spaces squeezed.

The CSID is only known once the fax has started (phase B), after the call was answered: when
a call rings, rules with a CSID pattern are skipped, and the inbox chosen then decides whose
block list applies. The final inbox is chosen again at the end, with the CSID.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from fnmatch import fnmatchcase

_NOT_DIGIT = re.compile(r"[^0-9*?]")
PATTERN_CHARS = re.compile(r"^[0-9+*?()\-. /]*$")


class BadPatternError(ValueError):
    """A routing or blocking pattern that could never match a number as intended."""


def digits(number: str) -> str:
    """The digits of a number as a caller or trunk wrote it (``sip:+1650…@host`` included)."""
    if number.startswith(("sip:", "sips:", "tel:")):
        number = number.split(":", 1)[1].split("@", 1)[0].split(";", 1)[0]
    return re.sub(r"[^0-9]", "", number)


def number_pattern(raw: str) -> str:
    """``raw`` checked and reduced to what it matches against (digits, ``*`` and ``?``)."""
    text = raw.strip()
    if not PATTERN_CHARS.match(text):
        raise BadPatternError(
            f"{raw!r}: a number pattern holds digits, + ( ) - . / spaces, * (any digits) "
            "and ? (one digit)"
        )
    pattern = _NOT_DIGIT.sub("", text)
    if text and not pattern:
        raise BadPatternError(f"{raw!r} has no digits or wildcards")
    return pattern


def csid_text(csid: str) -> str:
    """A CSID as it is compared: case folded, spaces squeezed."""
    return " ".join(csid.split()).casefold()


@dataclass(frozen=True)
class Rule:
    """One routing rule (a row of ``inbound_routes``)."""

    id: int
    inbox_id: int
    position: int
    called: str = ""
    caller: str = ""
    csid: str = ""

    def matches(self, called: str, caller: str, csid: str | None) -> bool:
        """Whether the call matches; ``csid`` None: not known yet (the call is ringing)."""
        if self.csid and csid is None:
            return False
        if self.called and not fnmatchcase(digits(called), self.called):
            return False
        if self.caller and not fnmatchcase(digits(caller), self.caller):
            return False
        return not self.csid or fnmatchcase(csid_text(csid or ""), csid_text(self.csid))


def choose(rules: Iterable[Rule], called: str, caller: str, csid: str | None) -> Rule | None:
    """The first matching rule by position, or None (the default inbox)."""
    for rule in sorted(rules, key=lambda r: (r.position, r.id)):
        if rule.matches(called, caller, csid):
            return rule
    return None


@dataclass(frozen=True)
class Block:
    """One blocked sender (a row of ``inbound_blocks``); ``account_id`` None: every inbox."""

    id: int
    account_id: int | None
    caller: str
    note: str = ""


def blocking(blocks: Sequence[Block], caller: str, account_id: int | None) -> Block | None:
    """The block that refuses ``caller`` for an inbox of ``account_id``, or None. A caller
    with no number (withheld) is refused only by the pattern ``*``."""
    number = digits(caller)
    for block in blocks:
        if block.account_id is not None and block.account_id != account_id:
            continue
        if fnmatchcase(number, block.caller) and (number or block.caller == "*"):
            return block
    return None
