"""Text from outside (clients, far ends, files) made safe to show: in a log line, on a terminal,
in a note.

A value a client chose can carry NUL, a newline that forges a second log line, an ANSI escape
sequence that rewrites the operator's terminal, or a bidirectional override that makes a line
read differently from what it holds. ``printable`` is the one place that neutralises them: the
log formatter applies it to everything it writes, and the CLI to everything it prints.
"""

from __future__ import annotations

import re

import click

# C0 (tab and newline included: a value is one line), DEL, C1 (0x9b is CSI, an escape sequence
# by itself on many terminals), the Unicode line and paragraph separators, the bidirectional
# marks, embeddings, overrides and isolates, and lone surrogates (undecodable bytes).
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]"
)
_NAMED = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}
_LINE_END = re.compile(r"(\r?\n)")

QUOTE_CHARS = 64  # how much of a client's value a note or an error message repeats


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    named = _NAMED.get(char)
    if named is not None:
        return named
    code = ord(char)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(value: object) -> str:
    """``str(value)`` on one line, each control character written as an escape (``\\x1b``,
    ``\\n``, ``\\u202e``); everything else, non-ASCII letters included, is kept as it is."""
    text = str(value)
    if _UNSAFE.search(text) is None:
        return text
    return _UNSAFE.sub(_escape, text)


def printable_lines(text: str) -> str:
    """Like ``printable``, but the line breaks of a multi-line text (a traceback, a report)
    are kept; every other control character is escaped."""
    return "".join(
        part if _LINE_END.fullmatch(part) else printable(part) for part in _LINE_END.split(text)
    )


def quoted(value: str, limit: int = QUOTE_CHARS) -> str:
    """A client's value for a note or a message: quoted, control characters escaped, cut to
    ``limit`` characters with an ellipsis, so a note never repeats a whole field."""
    cut = value if len(value) <= limit else value[:limit] + "…"
    return repr(cut)


def echo(line: str, *, err: bool = False) -> None:
    """Print one line of CLI output, values from clients, far ends and relays included, with
    every control character escaped (a newline in a value cannot fake another row)."""
    click.echo(printable(line), err=err)
