"""The far-end behaviour table."""

from __future__ import annotations

import pytest

from faxout.errors import ConfigError
from faxout.transmit.behaviour import (
    ANSWER,
    Behaviour,
    BehaviourTable,
    Kind,
    normalise_number,
    parse_behaviour,
)


@pytest.mark.parametrize(
    ("number", "expected"),
    [
        ("+1 555 777 0001", Behaviour(Kind.BUSY)),
        ("+1 (555) 777-0002", Behaviour(Kind.NO_ANSWER)),
        ("+15557770003", Behaviour(Kind.VOICE)),
        ("+15557770004", Behaviour(Kind.NOISY)),
        ("+15557770005", Behaviour(Kind.SLOW_MODEM)),
        ("+15557770006", Behaviour(Kind.NO_ECM)),
        ("+15557770010", Behaviour(Kind.REJECT_AFTER, 0)),
        ("+15557770013", Behaviour(Kind.REJECT_AFTER, 3)),
        ("+15557770000", ANSWER),
        ("+15557779999", ANSWER),
        ("+15557770001 9", ANSWER),  # a longer number is another number
        ("15557770001", ANSWER),  # without +: not the reserved block
        ("+44 20 7946 0001", ANSWER),
    ],
)
def test_default_table(number: str, expected: Behaviour) -> None:
    assert BehaviourTable().lookup(number) == expected


def test_custom_table_exact_then_longest_prefix() -> None:
    table = BehaviourTable(
        {"+4930*": "busy", "+49301234*": "no-ecm", "+4930123499": "voice", "+4930": "noisy"}
    )
    assert table.lookup("+49 30 5555").kind is Kind.BUSY
    assert table.lookup("+49 30 1234 5").kind is Kind.NO_ECM
    assert table.lookup("+49 30 1234 99").kind is Kind.VOICE  # exact beats prefix
    assert table.lookup("+49 30 1234 999").kind is Kind.NO_ECM
    assert table.lookup("+49 30").kind is Kind.NOISY
    assert dict(table.describe())["+4930*"] == "busy"
    assert table.lookup("+15557770001") == ANSWER  # a custom table replaces the default


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("busy", Behaviour(Kind.BUSY)),
        ("No_Answer", Behaviour(Kind.NO_ANSWER)),
        (" reject-after:2 ", Behaviour(Kind.REJECT_AFTER, 2)),
        ("slow-modem", Behaviour(Kind.SLOW_MODEM)),
    ],
)
def test_parse(spec: str, expected: Behaviour) -> None:
    assert parse_behaviour(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("explode", "unknown far-end behaviour"),
        ("reject-after", "needs a page count"),
        ("reject-after:x", "needs a page count"),
        ("busy:3", "takes no argument"),
    ],
)
def test_parse_errors(spec: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        parse_behaviour(spec)


def test_table_rejects_entries_without_digits() -> None:
    with pytest.raises(ConfigError, match="without digits"):
        BehaviourTable({"+": "busy"})


def test_normalise_and_describe() -> None:
    assert normalise_number(" +1 (555) 777-0001 ") == "+15557770001"
    rows = dict(BehaviourTable().describe())
    assert rows["+15557770001"] == "busy"
    assert rows["+15557770012"] == "reject-after:2"
