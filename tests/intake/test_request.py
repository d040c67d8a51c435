"""Field semantics: numbers, send time, cover page, resolution."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from faxout.intake.faxout.parser import ParsedForm
from faxout.intake.faxout.request import interpret, parse_sendtime
from faxout.jobs.dialplan import DialPolicy
from faxout.jobs.numbers import InvalidNumberError, normalize_username

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
US = DialPolicy(region="US")


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("16505551234", "16505551234"),
        ("+1 650-555-1234", "16505551234"),
        ("+1 (650) 555.1234*101", "16505551234*101"),
        (" 1650 555 1234 * 7 ", "16505551234*7"),
    ],
)
def test_usernames_normalise(raw: str, want: str) -> None:
    assert normalize_username(raw) == want


@pytest.mark.parametrize("raw", ["", "abc", "1*2*3", "12", "1+650", "1650555*", "1" * 16])
def test_bad_usernames(raw: str) -> None:
    with pytest.raises(InvalidNumberError):
        normalize_username(raw)


@pytest.mark.parametrize(
    ("raw", "want"),
    [
        ("01:02:27 13:45", datetime(2027, 2, 1, 13, 45, tzinfo=UTC)),
        ("1:2:27 3:05", datetime(2027, 2, 1, 3, 5, tzinfo=UTC)),
        ("01:02:2027  13:45", datetime(2027, 2, 1, 13, 45, tzinfo=UTC)),
    ],
)
def test_sendtime(raw: str, want: datetime) -> None:
    assert parse_sendtime(raw) == want


@pytest.mark.parametrize(
    "raw", ["", "30:02:27 10:00", "01:13:27 10:00", "01:02:27 24:00", "01/02/27 10:00", "01:02:27"]
)
def test_invalid_sendtime(raw: str) -> None:
    assert parse_sendtime(raw) is None


def form(**fields: list[str]) -> ParsedForm:
    return ParsedForm(fields={k.lower(): v for k, v in fields.items()})


def test_interpret_defaults() -> None:
    req = interpret(form(recipient=["+1 650 555 1234"]), NOW, list, US)
    assert (req.resolution, req.cover_page, req.send_at, req.notes) == (
        "high",
        "default",
        NOW,
        [],
    )


def test_interpret_future_and_past_sendtime() -> None:
    assert interpret(form(sendtime=["02:06:26 08:00"]), NOW, list, US).send_at == datetime(
        2026, 6, 2, 8, 0, tzinfo=UTC
    )
    past = interpret(form(sendtime=["01:06:26 08:00"]), NOW, list, US)
    assert past.send_at == NOW and "in the past" in past.notes[0]


@pytest.mark.parametrize(
    ("given", "want"),
    [
        ("none", "none"),
        ("NONE", "none"),
        ("", "default"),
        ("Default", "default"),
        ("letterhead", "Letterhead"),
    ],
)
def test_interpret_cover(given: str, want: str) -> None:
    assert interpret(form(coverpage=[given]), NOW, lambda: ["Letterhead"], US).cover_page == want
