"""The fax header line ("tag line"): its format and fields (taglineink.py prints it).

The renderer leaves the top ``HEADER_BAND_IN`` of every page blank (render/geometry.py); at
send time faxout draws the header there itself, so every page that leaves is exactly the
paper's length. (spandsp's own header *adds* rows above the image: a Letter page became
11.16 in long.) The band is cleared to white first, so a page that arrived with ink there (a
TIFF-F passed through) still gets a readable header.

**Format** (HylaFAX's ``TagLineFormat``): ``|`` separates fields spread across the line (the
first flush left, the last flush right, the others centred in equal shares); ``strftime``
codes give the time of the call in the account's zone; ``%%`` codes give the fax:

=======  ===============================================
``%%s``  the sender's name (the account's name)
``%%n``  the sender's fax number
``%%l``  the station identity (TSI)
``%%r``  the recipient's name
``%%d``  the recipient's number
``%%P``  this page's number, the cover page counted
``%%T``  the pages of the whole fax, the cover counted
``%%C``  on a resumed call: ", resumed at page N"
``%%i``  the job id
``%%%``  a literal ``%``
=======  ===============================================

A resumed call sends pages with their original numbers ("Page 5 of 11"), so the recipient can
tell a continuation from a new fax.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

DEFAULT_FORMAT = "%Y-%m-%d %H:%M %Z|From %%s %%n|To %%r %%d|Page %%P of %%T%%C"
MAX_FORMAT_CHARS = 300
_CODES = frozenset("snlrdPTCi%")
_FAX_CODE = re.compile(r"%%(.)")


class TagLineError(ValueError):
    """A header format that cannot be used; the message says why."""


@dataclass(frozen=True)
class TagFields:
    """What one call's header says, apart from the page numbers."""

    sender_name: str
    sender_number: str
    station: str
    recipient_name: str
    recipient_number: str
    job_id: int
    resumed_at: int = 1  # the first page of this call (1: not resumed)


def validate(fmt: str) -> str:
    """``fmt`` if it is a usable header format, else ``TagLineError`` naming the problem."""
    if len(fmt) > MAX_FORMAT_CHARS:
        raise TagLineError(f"header format over {MAX_FORMAT_CHARS} characters")
    if not fmt.isprintable():
        raise TagLineError("header format holds control characters")
    for code in _FAX_CODE.findall(fmt):
        if code not in _CODES:
            raise TagLineError(
                f"header format: unknown code %%{code} (known: %%s %%n %%l %%r %%d %%P %%T "
                "%%C %%i %%%)"
            )
    try:
        datetime(2026, 1, 1).strftime(_FAX_CODE.sub("", fmt))
    except ValueError as exc:
        raise TagLineError(f"header format: {exc}") from exc
    return fmt


def stamp_time(fmt: str, when: datetime) -> str:
    """Apply the ``strftime`` codes of ``fmt`` for ``when`` (an aware datetime in the zone to
    show), leaving the ``%%`` codes for :func:`fields_of`."""
    parts = fmt.split("%%")
    return "%%".join(when.strftime(part) if part else "" for part in parts)


def fields_of(template: str, tag: TagFields, page: int, total: int) -> list[str]:
    """The header's fields for ``page`` of ``total``: ``template`` is the format with its time
    already applied (:func:`stamp_time`)."""
    resumed = f", resumed at page {tag.resumed_at}" if tag.resumed_at > 1 else ""
    values = {
        "s": tag.sender_name,
        "n": tag.sender_number,
        "l": tag.station,
        "r": tag.recipient_name,
        "d": tag.recipient_number,
        "P": str(page),
        "T": str(total),
        "C": resumed,
        "i": str(tag.job_id),
        "%": "%",
    }
    line = _FAX_CODE.sub(lambda m: values.get(m.group(1), ""), template)
    # An empty name leaves "From  +1 …": collapse runs of spaces a missing value left.
    return [" ".join(field.split()) for field in line.split("|")]
