"""Recipients as pasted into the send form, and each checked as the submission reads it."""

from __future__ import annotations

import pytest

from faxout.intake.console.recipients import check_numbers, entries_of
from tests.intake.sendfixtures import account


@pytest.mark.parametrize(
    ("line", "wanted"),
    [
        ("+1 650 555 0100", [("+1 650 555 0100", "")]),
        ("+16505550100|Front desk", [("+16505550100", "Front desk")]),
        ("Front desk <+1 650 555 0100>", [("+1 650 555 0100", "Front desk")]),
        ('"Smith, John" <650-555-0100>', [("650-555-0100", "Smith, John")]),
        ("Front desk: 650 555 0100", [("650 555 0100", "Front desk")]),
        ("Front desk, 650 555 0100", [("650 555 0100", "Front desk")]),
        ("Smith, John, 650 555 0100", [("650 555 0100", "Smith, John")]),
        ("650 555 0100, 650 555 0101", [("650 555 0100", ""), ("650 555 0101", "")]),
        ("A, 650 555 0100; B: 650 555 0101", [("650 555 0100", "A"), ("650 555 0101", "B")]),
        (
            "Ada, 650 555 0100, Bob, 650 555 0101",
            [("650 555 0100", "Ada"), ("650 555 0101", "Bob")],
        ),
        ("  ;, ", []),
    ],
)
def test_each_written_form_is_read(line: str, wanted: list[tuple[str, str]]) -> None:
    assert [(e.number, e.name) for e in entries_of([line])] == wanted


def test_lines_are_numbered_as_the_textarea_shows_them() -> None:
    found = entries_of(["+16505550100", "", "Bob <+16505550101>; +16505550102"])
    assert [e.line for e in found] == [1, 3, 3]


def test_a_name_without_a_number_is_an_error() -> None:
    (entry,) = entries_of(["Front desk"])
    assert entry.error == "a name without a number" and entry.name == "Front desk"


def test_numbers_are_shown_normalised_or_refused_with_the_reason() -> None:
    checks = check_numbers(
        ["Desk <650 555 0100>", "911", "1-800-FLOWERS", "+49 30 1234567", "650-555-0100"],
        account(),
        (),
    )
    desk, emergency, letters, berlin, again = checks
    assert (desk.ok, desk.e164, desk.shown, desk.name) == (
        True, "+16505550100", "+1 650-555-0100", "Desk"
    )  # fmt: skip
    assert not emergency.ok and "emergency" in emergency.reason and emergency.line == 2
    assert letters.ok and letters.e164 == "+18003569377" and "letters" in letters.note
    assert berlin.ok and berlin.shown == "+49 30 1234567"
    assert again.ok and "given before" in again.note
    assert (
        emergency.said
        == "line 2: '911' it is an emergency number; faxout never dials emergency services"
    )
    assert desk.json()["e164"] == "+16505550100"


def test_the_accounts_dial_policy_refuses() -> None:
    only_home = account(dial_allow=("domestic",), dial_deny=("+1900",))
    abroad, premium = check_numbers(["+49 30 1234567", "+1 900 555 0100"], only_home, ())
    assert not abroad.ok and abroad.reason == "this account may only fax domestic numbers (US)"
    assert not premium.ok


def test_fictional_numbers_the_line_reaches_are_taken() -> None:
    (fictional,) = check_numbers(["+1 555 012 3461"], account(), ("+1555",))
    assert fictional.ok and fictional.e164 == "+15550123461"
    (refused,) = check_numbers(["+1 555 012 3461"], account(), ())
    assert not refused.ok
