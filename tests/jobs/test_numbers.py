"""Recipients' numbers: what is read as what, what is refused and why."""

from __future__ import annotations

import pytest

from faxout.jobs.numbers import Number, Refused, account_region, read_number, region_of

US_HOME = "+16505551234"  # an account in area code 650
SIMLINE = ("+1555",)


def e164(raw: str, region: str | None = "US", **kw: object) -> str:
    read = read_number(raw, region, **kw)  # type: ignore[arg-type]
    assert isinstance(read, Number), read
    return read.e164


def reason(raw: str, region: str | None = "US", **kw: object) -> str:
    read = read_number(raw, region, **kw)  # type: ignore[arg-type]
    assert isinstance(read, Refused), read
    return read.reason


@pytest.mark.parametrize(
    ("raw", "region"),
    [
        ("911", "US"),
        ("112", "DE"),
        ("112", "US"),
        ("999", "GB"),
        ("+44 999", "US"),
    ],
)
def test_emergency_numbers_are_refused(raw: str, region: str) -> None:
    assert "emergency number" in reason(raw, region, reachable=SIMLINE)


@pytest.mark.parametrize(("raw", "region"), [("123", "US"), ("55", "US"), ("22", "DE")])
def test_short_numbers_are_refused(raw: str, region: str) -> None:
    assert "too short" in reason(raw, region)


def test_service_short_codes_are_refused() -> None:
    assert "short code" in reason("118118", "GB")


@pytest.mark.parametrize(
    ("raw", "region"),
    [
        ("1-900-555-1234", "US"),
        ("+1 900 976 1234", "DE"),
        ("0900 1234567", "DE"),
        ("+49 900 1234567", "US"),
        ("09091 234567", "GB"),
    ],
)
def test_premium_rate_numbers_are_refused(raw: str, region: str) -> None:
    assert "premium-rate" in reason(raw, region, reachable=SIMLINE)


@pytest.mark.parametrize(
    "raw",
    ["+1 555 012 3461", "15550123461", "1 (555) 012-3461", "+1.555.012.3461", "011 1 555 012 3461"],
)
def test_every_notation_of_one_number_is_one_e164(raw: str) -> None:
    assert e164(raw, reachable=SIMLINE) == "+15550123461"


def test_national_numbers_are_read_in_the_region() -> None:
    assert e164("(650) 555-1234") == "+16505551234"
    assert e164("030 1234567", "DE") == "+49301234567"
    assert e164("0049 30 1234567", "DE") == "+49301234567"
    assert e164("020 7946 0000", "GB") == "+442079460000"
    # The same digits without + are a US number for a US account, and there is none.
    assert "not a valid number in US" in reason("4930123456")
    assert e164("+49 30 123456") == "+4930123456"


def test_without_a_region_only_international_numbers_can_be_read() -> None:
    assert e164("+49 30 1234567", None) == "+49301234567"
    assert "country code" in reason("030 1234567", None)


def test_a_local_number_takes_the_accounts_area_code() -> None:
    assert e164("555-1234", home=US_HOME) == "+16505551234"
    assert "too short" in reason("555-1234")  # no home number: nothing to complete it with


def test_fictional_numbers_only_on_a_line_that_reaches_them() -> None:
    assert e164("+1 555 777 0004", reachable=SIMLINE) == "+15557770004"
    assert "not a valid number" in reason("+1 555 777 0004")  # a real line: no such number
    assert "too short" in reason("+1 555 0123", reachable=SIMLINE)


def test_letters_are_read_as_on_a_keypad_with_a_note() -> None:
    read = read_number("1-800-FLOWERS", "US")
    assert read == Number(
        "+18003569377", "'1-800-FLOWERS' was dialled as +18003569377 (letters as on a phone keypad)"
    )
    assert reason("call-me") == "it is not a phone number"


@pytest.mark.parametrize("raw", ["650 555 1234,,9", "650 555 1234#", "*67 650 555 1234", "5+5"])
def test_dialling_characters_are_refused(raw: str) -> None:
    assert "only digits" in reason(raw)


def test_extensions_are_refused() -> None:
    assert "extension" in reason("+1 650 555 1234 ext. 12")


def test_region_of_numbers_and_accounts() -> None:
    assert region_of("+16505551234") == "US"
    assert region_of("+14165550100") == "CA"
    assert region_of("+442079460000") == "GB"
    assert region_of("+15557770004") == "US"  # a test number: the main country of +1
    assert region_of("+80012345678") is None
    assert region_of("5551234") is None
    assert account_region("16505551234", "") == "US"
    assert account_region("4930123456*12", "") == "DE"
    assert account_region("16505551234", "de") == "DE"
