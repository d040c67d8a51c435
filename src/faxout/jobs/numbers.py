"""Phone numbers: account usernames and fax recipients.

Both arrive as people type them: ``+1 (650) 555-1234``, ``1-650-555-1234*101``. Punctuation
(``+``, spaces, dashes, dots, parentheses, slashes) is removed; anything else (letters, a second
``*``) makes the number invalid rather than being guessed at.

Error messages quote the value given (it ends up in a submission's notes and the delivery
report) cut to ``faxout.text.QUOTE_CHARS`` characters: a request with a thousand long invalid
recipients must not store each one twice over.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from faxout.text import quoted

_PUNCT = re.compile(r"[\s\-./()\u00a0]+")
_DIGITS = re.compile(r"[0-9]+")
_REDACTED_USERNAME = re.compile(r"\[not a username, \d+ chars\]")

USERNAME_DIGITS = (4, 15)  # E.164 allows at most 15 digits with the country code
EXTENSION_DIGITS = (1, 8)
RECIPIENT_DIGITS = (3, 20)  # short internal numbers and long carrier prefixes are both real


class InvalidNumberError(ValueError):
    """A number that cannot be dialled or used as a username; the message says why."""


def _digits(raw: str, what: str, bounds: tuple[int, int]) -> str:
    compact = _PUNCT.sub("", raw)
    if not compact:
        raise InvalidNumberError(f"{what} is empty")
    if not _DIGITS.fullmatch(compact):
        raise InvalidNumberError(
            f"{what} {quoted(raw)} may only hold digits, spaces, dashes, dots, brackets"
        )
    low, high = bounds
    if not low <= len(compact) <= high:
        raise InvalidNumberError(f"{what} {quoted(raw)} must have {low} to {high} digits")
    return compact


def normalize_username(raw: str) -> str:
    """``+1 650-555-1234 * 101`` → ``16505551234*101``; raises ``InvalidNumberError``."""
    text = raw.strip()
    number, star, ext = text.partition("*")
    if text.count("*") > 1:
        raise InvalidNumberError(f"username {quoted(raw)} has more than one '*'")
    number = number.strip()
    if number.startswith("+"):
        number = number[1:]
    if "+" in number:
        raise InvalidNumberError(f"username {quoted(raw)}: '+' may only start the number")
    digits = _digits(number, "username", USERNAME_DIGITS)
    if not star:
        return digits
    return f"{digits}*{_digits(ext, 'extension', EXTENSION_DIGITS)}"


def loggable_username(raw: str) -> str:
    """``raw`` as a log line may show it: the normalised number when it is a plausible username,
    else only its length.

    People type a password into the Username field; a value that is not a phone number (with an
    optional ``*ext``) is therefore never logged. The rule is idempotent, so a value that already
    went through it is left as it is.
    """
    if not raw or _REDACTED_USERNAME.fullmatch(raw):
        return raw
    try:
        return normalize_username(raw)
    except InvalidNumberError:
        return f"[not a username, {len(raw)} chars]"


def normalize_recipient(raw: str) -> str:
    """``+1 (650) 555-1234`` → ``+16505551234`` (a leading ``+`` is kept).

    Raises ``InvalidNumberError``.
    """
    text = raw.strip()
    plus = text.startswith("+")
    body = text[1:] if plus else text
    if "+" in body:
        raise InvalidNumberError(f"fax number {quoted(raw)}: '+' may only start the number")
    return ("+" if plus else "") + _digits(body, "fax number", RECIPIENT_DIGITS)


@dataclass(frozen=True)
class Recipient:
    """One destination of a submission."""

    number: str
    name: str


MAX_NAME_CHARS = 200


def parse_recipient(value: str) -> Recipient:
    """Parse a FaxOut ``Recipient`` value, ``number|name`` (the name is optional)."""
    number, _, name = value.partition("|")
    clean_name = " ".join(name.split())[:MAX_NAME_CHARS]
    return Recipient(number=normalize_recipient(number), name=clean_name)
