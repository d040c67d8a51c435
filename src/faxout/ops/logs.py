"""Logging: one line per event, as text (``key=value``) or JSON, with the event's fields.

Code logs with ``log.info("message", extra={"fields": {...}})``; the fields (request id, job id,
username…) become part of the line. Passwords are never passed as fields.

What reaches the log is made harmless here, whatever the caller passed:

- every message, field value and traceback goes through ``faxout.text.printable``: NUL, newlines
  (a forged second line), ANSI escape sequences and bidirectional overrides appear as escapes
  (``\\x1b[31m``), in the text and in the JSON format (where a reader's ``jq -r`` would
  otherwise print them raw); in the text format a traceback's lines are indented, so no line
  of it passes for a record;
- a field named like a secret (``password``, ``secret``, ``token``…) is never written, and a
  ``username`` that is not a plausible account number is written as its length only: a password
  typed into the Username field must not end up in the log (``loggable_username``).
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any

from faxout.jobs.numbers import loggable_username
from faxout.text import printable

_SECRET_WORDS = ("password", "passwd", "secret", "token", "credential", "authorization")
REDACTED = "[redacted]"


def safe_field(key: str, value: Any) -> Any:
    """A log field's value as it may be written: secrets redacted, a username that may be a
    mistyped password reduced to its length, text made printable; numbers stay numbers."""
    lowered = key.lower()
    if any(word in lowered for word in _SECRET_WORDS):
        return REDACTED
    if lowered == "username" and isinstance(value, str):
        return loggable_username(value)
    if value is None or isinstance(value, bool | int | float):
        return value
    if isinstance(value, list | tuple):
        return [safe_field(key, item) for item in value]
    if isinstance(value, dict):
        return {printable(k): safe_field(str(k), v) for k, v in value.items()}
    return printable(value)


class _Formatter(logging.Formatter):
    def __init__(self, as_json: bool) -> None:
        super().__init__()
        self._json = as_json

    def format(self, record: logging.LogRecord) -> str:
        raw: dict[str, Any] = getattr(record, "fields", {}) or {}
        fields = {printable(k): safe_field(str(k), v) for k, v in raw.items()}
        when = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        message = printable(record.getMessage())
        name = printable(record.name)
        if self._json:
            data = {
                "time": when,
                "level": record.levelname.lower(),
                "logger": name,
                "msg": message,
                **fields,
            }
            if record.exc_info:
                data["exc"] = "\n".join(_lines(self.formatException(record.exc_info)))
            return json.dumps(data, default=printable)
        extra = " ".join(f"{k}={_quote(v)}" for k, v in fields.items())
        line = f"{when} {record.levelname:<7} {name}: {message}"
        if extra:
            line += " " + extra
        if record.exc_info:
            # Indented: an exception message can hold a newline, and what follows it must not
            # pass for a record of its own (those start with a time at the first column).
            block = self.formatException(record.exc_info)
            line += "".join(f"\n    {text}" for text in _lines(block))
        return line


def _lines(block: str) -> list[str]:
    """A multi-line text (a traceback) as printable lines."""
    return [printable(text) for text in block.split("\n")]


def _quote(value: Any) -> str:
    text = printable(value)
    if not text or any(c.isspace() or c in '"=' for c in text):
        return json.dumps(text)
    return text


def setup_logging(level: str = "INFO", fmt: str = "text") -> None:
    """Send faxout's (and uvicorn's) logs to stderr in the chosen format."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_Formatter(fmt == "json"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)
    for name in ("uvicorn", "uvicorn.error"):
        logging.getLogger(name).handlers[:] = []
        logging.getLogger(name).propagate = True
    # Libraries that narrate every step at INFO; faxout logs what matters with ids.
    for name in ("alembic", "huey", "huey.consumer", "weasyprint", "fontTools"):
        logging.getLogger(name).setLevel(max(root.level, logging.WARNING))
    # The per-request line replaces uvicorn's access log.
    logging.getLogger("uvicorn.access").disabled = True
