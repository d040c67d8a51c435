"""An account's dialling: its region, its allow and deny lists."""

from __future__ import annotations

import pytest

from faxout.jobs.dialplan import (
    DialPolicy,
    dial_pattern,
    dialling_columns,
    patterns_of,
    read_recipient,
)
from faxout.jobs.numbers import Number, Recipient, Refused


def policy(allow: tuple[str, ...] = (), deny: tuple[str, ...] = (), **kw: str) -> DialPolicy:
    username = kw.get("username", "16505551234")
    return DialPolicy.for_account(username, kw.get("region", ""), allow, deny, ())


def test_the_account_region_reads_national_numbers() -> None:
    assert policy().read("(650) 555-0101") == Number("+16505550101")
    german = policy(username="4930123456")
    assert german.read("030 1234567") == Number("+49301234567")
    assert policy(region="DE").read("030 1234567") == Number("+49301234567")
    assert isinstance(policy().read("030 1234567"), Refused)


@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("+1", "+1"),
        ("+44 20", "+4420"),
        ("+1-900", "+1900"),
        ("de", "DE"),
        ("Domestic", "domestic"),
    ],
)
def test_patterns(text: str, stored: str) -> None:
    assert dial_pattern(text) == stored


@pytest.mark.parametrize("text", ["", "1", "+", "USA", "+1x", "everywhere"])
def test_not_patterns(text: str) -> None:
    assert dial_pattern(text) is None
    assert "is not a number pattern" in str(dialling_columns(None, (text,), None))


def test_domestic_only() -> None:
    home = policy(allow=("domestic",))
    assert home.read("+1 212 555 0100") == Number("+12125550100")
    refused = home.read("+44 20 7946 0000")
    assert refused == Refused("this account may only fax domestic numbers (US)")
    # Canada shares +1 but is abroad.
    assert isinstance(home.read("+1 416 555 0100"), Refused)


def test_deny_wins_over_allow() -> None:
    rules = policy(allow=("US", "+4420"), deny=("+1212",))
    assert rules.read("+44 20 7946 0000") == Number("+442079460000")
    assert rules.read("212 555 0100") == Refused("this account may not fax numbers starting +1212")
    assert rules.read("+49 30 1234567") == Refused(
        "this account may only fax numbers in US, numbers starting +4420"
    )


def test_lists_never_let_an_emergency_number_through() -> None:
    assert "emergency" in str(policy(allow=("+1",)).read("911"))


def test_stored_columns_round_trip_and_bad_ones_read_as_empty() -> None:
    columns = dialling_columns("de", ("domestic", "+44 20", "+4420"), ())
    assert columns == {"region": "DE", "dial_allow": '["domestic", "+4420"]', "dial_deny": "[]"}
    assert isinstance(columns, dict)
    assert patterns_of(columns["dial_allow"]) == ("domestic", "+4420")
    assert patterns_of("not json") == patterns_of('{"a": 1}') == ()
    assert "two-letter" in str(dialling_columns("DEU", None, None))


def test_a_recipient_value_is_number_and_tidied_name() -> None:
    us = policy()
    assert read_recipient("650 555 0101", us) == (Recipient("+16505550101", ""), "")
    assert read_recipient("650 555 0101|  Dr.   Who |x", us) == (
        Recipient("+16505550101", "Dr. Who |x"),
        "",
    )
    assert read_recipient("911|Fire", us) == Refused(
        "it is an emergency number; faxout never dials emergency services"
    )
