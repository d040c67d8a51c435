"""Phone numbers: account usernames and fax recipients.

Usernames arrive as people type them: ``+1 (650) 555-1234``, ``1-650-555-1234*101``.
Punctuation (``+``, spaces, dashes, dots, parentheses, slashes) is removed; anything else
(letters, a second ``*``) makes the username invalid rather than being guessed at.

Recipients are read with ``phonenumbers`` (Google's libphonenumber) into E.164
(``+15550123461``), the only form kept inside faxout (``read_number``). A number written
nationally is read in the account's region; one with ``+``, ``00``/``011`` or its country code is
international. Refused, each with a reason in plain words: emergency numbers, short codes,
premium-rate numbers, extensions, numbers with no such number in the numbering plan. Letters are
read as on a phone keypad (``1-800-FLOWERS``), with a note saying what was dialled.

Error messages quote the value given (it ends up in a submission's notes and the delivery
report) cut to ``faxout.text.QUOTE_CHARS`` characters: a request with a thousand long invalid
recipients must not store each one twice over.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

import phonenumbers as pn
from phonenumbers import (
    CountryCodeSource,
    PhoneMetadata,
    PhoneNumber,
    PhoneNumberType,
    ValidationResult,
)

from faxout.text import quoted

_PUNCT = re.compile(r"[\s\-./()\u00a0]+")
_DIGITS = re.compile(r"[0-9]+")
_REDACTED_USERNAME = re.compile(r"\[not a username, \d+ chars\]")
# What a typed fax number may hold: digits, keypad letters and the punctuation people write.
# A ',' (pause), ';', '*' or '#' would let a sender drive the line beyond the number.
_RECIPIENT_CHARS = re.compile(r"[0-9A-Za-z+\s\-./()\u00a0]+")
_LETTER = re.compile(r"[A-Za-z]")

USERNAME_DIGITS = (4, 15)  # E.164 allows at most 15 digits with the country code
EXTENSION_DIGITS = (1, 8)
NANP = 1  # the North American Numbering Plan's country code: 3-digit area codes everywhere


class InvalidNumberError(ValueError):
    """A username that cannot be used; the message says why."""


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


def _parsed(e164: str) -> PhoneNumber | None:
    try:
        return pn.parse(e164)
    except pn.NumberParseException:
        return None


def _country_of(number: PhoneNumber) -> str | None:
    region = pn.region_code_for_number(number)
    if region and region != pn.REGION_CODE_FOR_NON_GEO_ENTITY:
        return str(region)
    # Outside the numbering plan (the simulated line's +1 555 numbers): the country of the code.
    main = pn.region_code_for_country_code(number.country_code or 0)
    return None if main in (pn.UNKNOWN_REGION, pn.REGION_CODE_FOR_NON_GEO_ENTITY) else str(main)


def region_of(number_e164: str) -> str | None:
    """The ISO 3166 country of an E.164 number (``+15550123461`` → ``US``, ``+4930…`` → ``DE``).

    A number outside its numbering plan (a test number) gets the main country of its country
    code; None for a non-geographic code (``+800``) or a value that is not E.164.
    """
    number = _parsed(number_e164) if number_e164.startswith("+") else None
    return _country_of(number) if number is not None else None


def home_number(username: str) -> str | None:
    """An account's own number in E.164 (its username without ``*ext``), or None."""
    digits = username.partition("*")[0]
    number = _parsed("+" + digits) if digits.isdigit() else None
    return pn.format_number(number, pn.PhoneNumberFormat.E164) if number is not None else None


def readable(number: str) -> str:
    """An E.164 number as people write it: ``+16505551234`` → ``+1 650-555-1234``; a number
    without its country code (a local extension) as given. For an account's own number:
    ``readable(home_number(username) or username)``."""
    parsed = _parsed(number) if number.startswith("+") else None
    if parsed is None:
        return number
    return str(pn.format_number(parsed, pn.PhoneNumberFormat.INTERNATIONAL))


def account_region(username: str, region: str) -> str | None:
    """The region an account's national numbers are read in: ``region`` when set, else the
    country of the account's own number (``16505551234`` → ``US``)."""
    if region:
        return region.upper()
    home = home_number(username)
    return region_of(home) if home else None


@dataclass(frozen=True)
class Number:
    """A recipient's number as faxout dials it: E.164, and a note when the sender wrote letters
    (the report shows the digits, which do not look like what was written)."""

    e164: str
    note: str = ""


@dataclass(frozen=True)
class Refused:
    """A number faxout will not dial; ``reason`` says why in plain words."""

    reason: str


def _area_code(home: PhoneNumber) -> str:
    nsn = pn.national_significant_number(home)
    if home.country_code == NANP:
        return nsn[:3] if len(nsn) == 10 else ""
    return nsn[: pn.length_of_geographical_area_code(home)]


@functools.cache
def _longest_short_number(country_code: int) -> int:
    """The most digits an emergency or short number of ``country_code`` has, in any of its
    regions (6 for +1). A longer number is neither, and asking each region (25 for +1) for
    every recipient made a 10,000-recipient broadcast take seconds."""
    longest = 0
    for region in pn.region_codes_for_country_code(country_code):
        meta = PhoneMetadata.short_metadata_for_region(region)
        if meta is None:
            continue
        for desc in (meta.general_desc, meta.emergency, meta.short_code):
            if desc is not None and desc.possible_length:
                longest = max(longest, *desc.possible_length)
    return longest


def _may_be_short(number: PhoneNumber) -> bool:
    """Whether ``number`` is short enough to be an emergency or short number."""
    nsn = pn.national_significant_number(number)
    return len(nsn) <= _longest_short_number(number.country_code or 0)


def _is_emergency(number: PhoneNumber) -> bool:
    nsn = pn.national_significant_number(number)
    regions = pn.region_codes_for_country_code(number.country_code or 0)
    return any(pn.is_emergency_number(nsn, region) for region in regions)


def _completed(number: PhoneNumber, home: str | None) -> PhoneNumber:
    """A local number (``555-1234``) in the area code of the account's own number, as a phone
    on the account's line would dial it; unchanged when the number is complete."""
    if pn.is_possible_number_with_reason(number) != ValidationResult.IS_POSSIBLE_LOCAL_ONLY:
        return number
    own = _parsed(home) if home else None
    if own is None or own.country_code != number.country_code or not _area_code(own):
        return number
    whole = _parsed(f"+{number.country_code}{_area_code(own)}{number.national_number}")
    return whole if whole is not None else number


def _whole(number: PhoneNumber) -> bool:
    """Whether ``number`` has the length of a complete number of its country (not a local one)."""
    return pn.is_possible_number_with_reason(number) == ValidationResult.IS_POSSIBLE


def _refusal(number: PhoneNumber, nationally: bool) -> str:
    """Why a number that is not a valid number is refused (``nationally``: it was read in the
    account's region, perhaps meant as a number abroad)."""
    why = pn.is_possible_number_with_reason(number)
    if why in (ValidationResult.TOO_SHORT, ValidationResult.IS_POSSIBLE_LOCAL_ONLY):
        return "it is too short: give the whole number with its area code"
    if why is ValidationResult.TOO_LONG:
        return "it has too many digits"
    where = _country_of(number)
    if where is None:
        return "it is not a phone number"
    if nationally:
        return f"it is not a valid number in {where} (a number abroad needs + and its country code)"
    return f"it is not a valid number in {where}"


def read_number(
    raw: str,
    region: str | None,
    *,
    home: str | None = None,
    reachable: tuple[str, ...] = (),
) -> Number | Refused:
    """Read one typed fax number into E.164, or say why it is refused.

    ``region`` reads national numbers (None: only ``+…`` numbers can be read); ``home`` (the
    account's own E.164 number) completes a local number with its area code; ``reachable`` are
    E.164 prefixes of fictional numbers the line reaches anyway (the simulated line's own
    ``+1555``): such a number is dialled if it has the length of a real one.
    """
    text = raw.strip()
    if not text:
        return Refused("no number given")
    if not _RECIPIENT_CHARS.fullmatch(text) or "+" in text[1:]:
        return Refused("a fax number holds only digits, a leading '+', spaces, dashes and dots")
    try:
        number = pn.parse(text, region, keep_raw_input=True)
    except pn.NumberParseException:
        if region is None and not text.startswith("+"):
            return Refused("write it with + and the country code (the account has no country)")
        return Refused("it is not a phone number")
    if number.extension:
        return Refused("it has an extension, which a fax call cannot dial")
    if _may_be_short(number):
        if _is_emergency(number):
            return Refused("it is an emergency number; faxout never dials emergency services")
        if pn.is_valid_short_number(number):
            return Refused("it is a short code (a carrier or service number), not a fax number")
    nationally = number.country_code_source == CountryCodeSource.FROM_DEFAULT_COUNTRY
    number = _completed(number, home)
    e164 = pn.format_number(number, pn.PhoneNumberFormat.E164)
    if pn.is_valid_number(number):
        kind = pn.number_type(number)
        if kind == PhoneNumberType.PREMIUM_RATE:
            return Refused(
                "it is a premium-rate number (charged extra); faxout does not dial those"
            )
    elif not (_whole(number) and any(e164.startswith(p) for p in reachable)):
        return Refused(_refusal(number, nationally))
    if _LETTER.search(text):
        return Number(e164, f"{quoted(text)} was dialled as {e164} (letters as on a phone keypad)")
    return Number(e164)


@dataclass(frozen=True)
class Recipient:
    """One destination of a submission."""

    number: str
    name: str


MAX_NAME_CHARS = 200


def recipient_name(value: str) -> str:
    """The name part of a FaxOut ``Recipient`` value (``number|name``), tidied and bounded."""
    return " ".join(value.partition("|")[2].split())[:MAX_NAME_CHARS]
