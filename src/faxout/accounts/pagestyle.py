"""What an account's pages look like to the recipient: the header's format and time zone, the
station identity (TSI) and the paper. Empty values mean the server's defaults
(docs/configuration.md: "The header line", "Paper")."""

from __future__ import annotations

from dataclasses import dataclass, fields

from faxout import timezones
from faxout.render import tagline
from faxout.render.options import Paper

STATION_CHARS = 20  # T.30 allows 20 characters of TSI


@dataclass(frozen=True)
class PageStyle:
    """An account's own page settings; None leaves a value as it is (on update)."""

    time_zone: str | None = None
    station: str | None = None
    tagline: str | None = None
    paper: str | None = None


def page_columns(style: PageStyle) -> dict[str, str] | str:
    """The account columns for ``style``, or what is wrong with it."""
    out: dict[str, str] = {}
    for field in fields(style):
        value = getattr(style, field.name)
        if value is None:
            continue
        value = value.strip()
        problem = _problem(field.name, value) if value else None
        if problem:
            return problem
        out[field.name] = value
    return out


def _problem(name: str, value: str) -> str | None:
    if name == "time_zone":
        try:
            timezones.validate(value)
        except ValueError as exc:
            return str(exc)
    elif name == "station":
        if len(value) > STATION_CHARS or not (value.isascii() and value.isprintable()):
            return (
                f"station {value!r}: up to {STATION_CHARS} printable ASCII characters "
                "(a fax identity is usually the number, +1 650 555 1234)"
            )
    elif name == "tagline":
        try:
            tagline.validate(value)
        except tagline.TagLineError as exc:
            return str(exc)
    elif name == "paper" and value not in {p.value for p in Paper}:
        return f"paper {value!r}: use letter, a4 or legal ('' = by the recipient's country)"
    return None
