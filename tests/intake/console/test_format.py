"""How the console writes times, numbers and check findings."""

from __future__ import annotations

from datetime import UTC, datetime

from faxout.intake.console.format import number, size, ticks, when, zone_of


def test_backticked_words_become_code_and_the_rest_stays_escaped() -> None:
    shown = str(ticks("run `faxout dispatch` or <script>`x`</script> & stop"))
    assert shown == (
        "run <code>faxout dispatch</code> or &lt;script&gt;<code>x</code>&lt;/script&gt; &amp; stop"
    )


def test_times_are_in_the_browsers_zone_else_the_accounts_else_utc() -> None:
    moment = datetime(2026, 12, 2, 14, 5, tzinfo=UTC)
    assert zone_of("Europe/Berlin", "America/New_York") == "Europe/Berlin"
    assert zone_of("Nowhere/Land", "America/New_York") == "America/New_York"
    assert zone_of("", "") == "UTC"
    assert when(moment, "Europe/Berlin") == "2 Dec 2026 15:05 CET"
    assert when(None) == "" and when("not a time") == ""


def test_numbers_and_sizes_read_as_people_read_them() -> None:
    assert number("+16505550100") == "+1 650-555-0100"
    assert number("15550100200") == "+1 555-010-0200"
    assert number("99") == "99"  # not a number phonenumbers knows: as stored
    assert size(512) == "512 bytes" and size(9216) == "9.0 KB"
