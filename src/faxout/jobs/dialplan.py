"""Who may fax where: an account's region, its allow and deny lists, the line's own numbers.

An account's lists hold patterns, each one of:

- an E.164 prefix: ``+1``, ``+44 20``, ``+1900`` (spaces, dashes and dots are ignored);
- a country, as its ISO 3166 code: ``US``, ``DE`` (the country of the number, so ``US`` is not
  Canada although both are ``+1``);
- ``domestic``: the account's own country (its ``region``, else the country of its number).

A number matching a ``dial_deny`` pattern is refused; when ``dial_allow`` is not empty, a number
must match one of its patterns. Deny wins over allow: ``allow ["domestic"]``, ``deny ["+1900"]``.
Emergency, premium-rate and other numbers that ``numbers.read_number`` refuses stay refused
whatever the lists say.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from faxout.jobs.numbers import (
    Number,
    Recipient,
    Refused,
    account_region,
    home_number,
    read_number,
    recipient_name,
    region_of,
)

DOMESTIC = "domestic"
_PREFIX = re.compile(r"\+[0-9]{1,15}")
_SPACING = re.compile(r"[\s\-.]+")
_COUNTRY = re.compile(r"[A-Za-z]{2}")


def dial_pattern(text: str) -> str | None:
    """``text`` as a stored pattern (``+44 20`` → ``+4420``, ``de`` → ``DE``), or None when it is
    not one."""
    value = _SPACING.sub("", text)
    if value.lower() == DOMESTIC:
        return DOMESTIC
    if _PREFIX.fullmatch(value):
        return value
    if _COUNTRY.fullmatch(value):
        return value.upper()
    return None


def patterns_of(stored: str) -> tuple[str, ...]:
    """The patterns of a ``dial_allow``/``dial_deny`` column (a JSON list); nothing usable in it
    reads as an empty list."""
    try:
        values = json.loads(stored or "[]")
    except ValueError:
        return ()
    if not isinstance(values, list):
        return ()
    return tuple(p for p in (dial_pattern(str(v)) for v in values) if p is not None)


def dialling_columns(
    region: str | None, allow: tuple[str, ...] | None, deny: tuple[str, ...] | None
) -> dict[str, str] | str:
    """The ``accounts`` column values of the dialling settings given (None: unchanged), or what
    is wrong with one of them."""
    values: dict[str, str] = {}
    if region is not None:
        if region and not _COUNTRY.fullmatch(region):
            return f"region {region!r} is not a two-letter country code like US or DE"
        values["region"] = region.upper()
    for column, given in (("dial_allow", allow), ("dial_deny", deny)):
        if given is None:
            continue
        patterns = [dial_pattern(text) for text in given]
        for text, pattern in zip(given, patterns, strict=True):
            if pattern is None:
                return f"{text!r} is not a number pattern: give +PREFIX, a country code or domestic"
        values[column] = json.dumps(list(dict.fromkeys(patterns)))
    return values


def _describe(pattern: str, region: str | None) -> str:
    if pattern == DOMESTIC:
        return f"domestic numbers ({region})" if region else "domestic numbers"
    if pattern.startswith("+"):
        return f"numbers starting {pattern}"
    return f"numbers in {pattern}"


@dataclass(frozen=True)
class DialPolicy:
    """How one account's recipients are read and which ones it may fax.

    ``reachable``: E.164 prefixes of fictional numbers the configured line reaches (see
    ``transmit.dialrules``).
    """

    region: str | None = None
    home: str | None = None
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    reachable: tuple[str, ...] = ()

    @classmethod
    def for_account(
        cls,
        username: str,
        region: str,
        allow: tuple[str, ...],
        deny: tuple[str, ...],
        reachable: tuple[str, ...],
    ) -> DialPolicy:
        """The policy of the account ``username`` (its ``region`` column: "" = its number's)."""
        return cls(account_region(username, region), home_number(username), allow, deny, reachable)

    def _matches(self, pattern: str, e164: str) -> bool:
        if pattern.startswith("+"):
            return e164.startswith(pattern)
        country = region_of(e164)
        wanted = self.region if pattern == DOMESTIC else pattern
        return country is not None and country == wanted

    def barred(self, e164: str) -> str | None:
        """Why the lists keep this account from faxing ``e164``; None when they let it."""
        for pattern in self.deny:
            if self._matches(pattern, e164):
                return f"this account may not fax {_describe(pattern, self.region)}"
        if self.allow and not any(self._matches(p, e164) for p in self.allow):
            allowed = ", ".join(_describe(p, self.region) for p in self.allow)
            return f"this account may only fax {allowed}"
        return None

    def read(self, number: str) -> Number | Refused:
        """Read a typed number for this account: E.164 and a note, or why it is refused."""
        read = read_number(number, self.region, home=self.home, reachable=self.reachable)
        if isinstance(read, Refused):
            return read
        why = self.barred(read.e164)
        return Refused(why) if why else read


def read_recipient(value: str, policy: DialPolicy) -> tuple[Recipient, str] | Refused:
    """A FaxOut ``Recipient`` value (``number|name``, the name optional) as a recipient and a
    note ("" when none is due), or why it is left out."""
    number, _, _ = value.partition("|")
    read = policy.read(number)
    if isinstance(read, Refused):
        return read
    return Recipient(number=read.e164, name=recipient_name(value)), read.note
