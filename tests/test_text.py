"""Control characters never reach a log line or a terminal raw; secrets never reach the log."""

from __future__ import annotations

import json
import logging

import pytest

from faxout.ops.logs import setup_logging
from faxout.text import printable, printable_lines, quoted

HOSTILE = "Bob\x00\x1b[2J\x1b]0;owned\x07\r\nFAKE 2026 INFO forged\x9b31m\u202eevil\x7f"


def test_printable_escapes_every_control_character() -> None:
    shown = printable(HOSTILE)
    assert shown == (
        "Bob\\x00\\x1b[2J\\x1b]0;owned\\x07\\r\\nFAKE 2026 INFO forged\\x9b31m\\u202eevil\\x7f"
    )
    assert shown.isprintable()
    assert printable("Müller, 東京 ✓") == "Müller, 東京 ✓"
    assert printable(42) == "42"


def test_printable_lines_keeps_line_breaks_only() -> None:
    assert printable_lines("one\x1b[31m\r\ntwo\tthree\n") == "one\\x1b[31m\r\ntwo\\tthree\n"


def test_quoted_is_short_and_printable() -> None:
    assert quoted("x" * 10_000) == repr("x" * 64 + "…")
    assert quoted("a\x1bb") == "'a\\x1bb'"


@pytest.fixture
def logged(capsys: pytest.CaptureFixture[str]) -> object:
    def run(fmt: str) -> str:
        setup_logging("INFO", fmt)
        try:
            log = logging.getLogger("faxout.test")
            log.info(
                "name %s",
                HOSTILE,
                extra={
                    "fields": {
                        "reason": HOSTILE,
                        "username": "correct horse battery",
                        "password": "hunter2",
                        "count": 3,
                    }
                },
            )
            try:
                raise ValueError(HOSTILE)
            except ValueError:
                log.exception("broke")
        finally:
            logging.getLogger().handlers[:] = []
        return capsys.readouterr().err

    return run


def test_text_log_line_shows_escapes_and_no_secret(logged: object) -> None:
    err = logged("text")  # type: ignore[operator]
    assert "\x1b" not in err and "\x00" not in err and "\x9b" not in err and "\u202e" not in err
    first = err.splitlines()[0]
    assert "name Bob\\x00\\x1b[2J" in first and "\\r\\nFAKE" in first
    # a value with spaces is quoted JSON-style: unquoted, it reads as the escaped text
    quoted_reason = first.split("reason=", 1)[1].split(" username=")[0]
    assert json.loads(quoted_reason) == printable(HOSTILE)
    assert "count=3" in first
    # a password typed into Username, and the password field itself, never appear
    assert "correct horse" not in err and "hunter2" not in err
    assert 'username="[not a username, 21 chars]"' in first and "password=[redacted]" in first
    # the forged line stays inside its own line, in the message and in the traceback
    assert not any(line.startswith("FAKE") for line in err.splitlines())


def test_json_log_line_shows_escapes_and_no_secret(logged: object) -> None:
    lines = logged("json").splitlines()  # type: ignore[operator]
    record = json.loads(lines[0])
    assert record["msg"].startswith("name Bob\\x00\\x1b[2J")
    assert record["reason"].isprintable() and "\\x1b" in record["reason"]
    assert record["username"] == "[not a username, 21 chars]"
    assert record["password"] == "[redacted]"
    assert record["count"] == 3
    broke = json.loads(lines[1])
    assert "\x1b" not in broke["exc"] and "ValueError: Bob\\x00\\x1b[2J" in broke["exc"]
