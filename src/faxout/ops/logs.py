"""Logging: one line per event, as text (``key=value``) or JSON, with the event's fields.

Code logs with ``log.info("message", extra={"fields": {...}})``; the fields (request id, job id,
username…) become part of the line. Passwords are never passed as fields.
"""

from __future__ import annotations

import json
import logging
import sys
from datetime import UTC, datetime
from typing import Any


class _Formatter(logging.Formatter):
    def __init__(self, as_json: bool) -> None:
        super().__init__()
        self._json = as_json

    def format(self, record: logging.LogRecord) -> str:
        fields: dict[str, Any] = getattr(record, "fields", {}) or {}
        when = datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds")
        if self._json:
            data = {
                "time": when,
                "level": record.levelname.lower(),
                "logger": record.name,
                "msg": record.getMessage(),
                **fields,
            }
            if record.exc_info:
                data["exc"] = self.formatException(record.exc_info)
            return json.dumps(data, default=str)
        extra = " ".join(f"{k}={_quote(v)}" for k, v in fields.items())
        line = f"{when} {record.levelname:<7} {record.name}: {record.getMessage()}"
        if extra:
            line += " " + extra
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _quote(value: Any) -> str:
    text = str(value)
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
