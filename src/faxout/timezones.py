"""Time zones by IANA name (``Europe/Berlin``), for the times people read: fax headers and
reports. Empty means the server's own zone (``/etc/localtime`` or ``TZ``)."""

from __future__ import annotations

import zoneinfo
from datetime import datetime


def validate(name: str) -> str:
    """``name`` if it is a known IANA zone; ``ValueError`` saying what to write otherwise."""
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(
            f"unknown time zone {name!r}: use an IANA name such as Europe/Berlin or "
            "America/New_York (see /usr/share/zoneinfo)"
        ) from exc
    return name


def local(when: datetime, name: str) -> datetime:
    """``when`` (aware) as it reads in zone ``name`` ("" = the server's zone)."""
    if not name:
        return when.astimezone()
    try:
        return when.astimezone(zoneinfo.ZoneInfo(name))
    except (zoneinfo.ZoneInfoNotFoundError, ValueError):
        return when.astimezone()  # a zone removed since it was set: the server's, not a crash
