"""An address book to and from CSV, as spreadsheets and other address books write it.

Reading (``read_csv``, ``parse``):

- The delimiter is found, not asked for: ``,``, ``;`` (spreadsheets in locales with a decimal
  comma) or a tab, whichever splits the first lines into the same number of fields (a header
  naming a fax column settles it).
- A first row naming the columns (in any order, case and punctuation aside: ``Name``,
  ``Full name``, ``Contact``; ``Fax``, ``Fax number``, ``Number``, ``Business fax``;
  ``Company``, ``Organisation``; ``Group``/``Groups`` with several names separated by ``;``;
  ``First name`` and ``Last name`` when there is no name) is a header; columns it does not
  know are left out and listed. Without a header the columns are name, fax number and
  (optionally) company.
- Bytes (``decode_upload``) may be UTF-8 with or without a BOM, UTF-16 with a BOM, or Windows
  ANSI (cp1252, which Excel writes as "CSV").

Importing (``faxout.accounts.contacts.AddressBook.import_csv``) takes the good lines and lists
each bad one with its reason: one wrong number in a list of 300 should not keep the other 299
out. A file that cannot be read as a whole (not text, too large, no fax column) imports
nothing. Nothing is ever half imported: the lines are all checked first, then written in one
transaction.

Writing (``write_csv``) gives a file this module reads back as it was: name, fax, company,
groups. A name that a spreadsheet would take for a formula (``=``, ``+``, ``-``, ``@``) is
written behind an apostrophe, which spreadsheets show as text and reading removes.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from faxout.accounts.contactbase import Contact, ContactError

MAX_CSV_BYTES = 2 * 1024 * 1024
MAX_CSV_ROWS = 10_000
DELIMITERS = (",", ";", "\t")
SNIFF_LINES = 20
SHOWN_CHARS = 100  # of a bad line, in the import's report
HEADER = ("Name", "Fax", "Company", "Groups")

# Header names (folded by _folded) and the field each one fills; a field named by several
# columns takes the first of them that is not empty on a line.
_FIELDS: dict[str, str] = {
    **dict.fromkeys(
        ("name", "full name", "fullname", "contact", "contact name", "display name", "recipient"),
        "name",
    ),
    **dict.fromkeys(("first name", "firstname", "given name"), "first"),
    **dict.fromkeys(("last name", "lastname", "surname", "family name"), "last"),
    **dict.fromkeys(
        (
            "fax",
            "fax number",
            "faxnumber",
            "fax no",
            "fax nr",
            "number",
            "business fax",
            "work fax",
            "home fax",
            "other fax",
        ),
        "number",
    ),
    **dict.fromkeys(
        ("company", "company name", "organisation", "organization", "org", "business", "firm"),
        "company",
    ),
    **dict.fromkeys(("group", "groups", "category", "categories", "list", "lists"), "groups"),
}
_HEADER_PUNCT = re.compile(r"[\s_\-.:#/]+")
_FORMULA = ("=", "+", "-", "@", "\t", "\r")
_DIGIT = re.compile(r"[0-9]")


@dataclass(frozen=True)
class Row:
    """One line of a file, read into its fields (not yet checked)."""

    line: int  # where it starts in the file, from 1
    name: str
    number: str
    company: str
    groups: tuple[str, ...]
    text: str  # the line as the file had it, cut, for a report


@dataclass(frozen=True)
class Parsed:
    """A file's lines, and the header's columns that were left out."""

    rows: list[Row]
    header: bool
    ignored: tuple[str, ...] = ()


def decode_upload(data: bytes) -> str:
    """An uploaded file's text, or ``ContactError`` when it is too large or not text."""
    if len(data) > MAX_CSV_BYTES:
        raise ContactError(
            f"the file is larger than {MAX_CSV_BYTES // (1024 * 1024)} MB: split it in parts"
        )
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        text = data.decode("utf-16", errors="replace")
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            text = data.decode("cp1252", errors="replace")
    return _text(text)


def _text(text: str) -> str:
    if "\x00" in text:
        raise ContactError(
            "the file is not text (a spreadsheet, perhaps): save it as CSV and upload that"
        )
    return text.removeprefix("\ufeff")


def _folded(cell: str) -> str:
    return " ".join(_HEADER_PUNCT.sub(" ", cell.strip().lower()).split())


def _fields_of(header: Sequence[str]) -> dict[str, list[int]]:
    fields: dict[str, list[int]] = {}
    for index, cell in enumerate(header):
        field = _FIELDS.get(_folded(cell))
        if field is not None:
            fields.setdefault(field, []).append(index)
    return fields


def _split(line: str, delimiter: str) -> list[str]:
    try:
        return next(csv.reader([line], delimiter=delimiter), [])
    except csv.Error:
        return [line]


def sniff(text: str) -> str:
    """The delimiter of ``text``: ``,``, ``;`` or a tab."""
    lines = [line for line in text.splitlines()[: SNIFF_LINES * 2] if line.strip()][:SNIFF_LINES]
    if not lines:
        return ","
    for delimiter in DELIMITERS:  # a header naming a fax column settles it
        if "number" in _fields_of(_split(lines[0], delimiter)):
            return delimiter

    def score(delimiter: str) -> tuple[int, int, int]:
        counts = [len(_split(line, delimiter)) for line in lines]
        split = sum(1 for c in counts if c > 1)
        usual = max(counts.count(c) for c in counts)
        return split, usual, max(counts)

    # Most lines split, then the most alike, then the most fields: "Smith, Ann;+1 650…" is ';'.
    return max(DELIMITERS, key=score)


def _unguarded(cell: str) -> str:
    """A cell without the apostrophe a spreadsheet (or ``write_csv``) put before a formula
    character to keep it text."""
    value = cell.strip()
    if value.startswith("'") and value[1:2] in _FORMULA:
        return value[1:]
    return value


def _looks_like_data(cells: Sequence[str]) -> bool:
    return any(len(_DIGIT.findall(cell)) >= 4 for cell in cells)


def _pick(cells: Sequence[str], indexes: Sequence[int]) -> str:
    for index in indexes:
        if index < len(cells) and _unguarded(cells[index]):
            return _unguarded(cells[index])
    return ""


def _row(line: int, cells: Sequence[str], fields: dict[str, list[int]], delimiter: str) -> Row:
    name = _pick(cells, fields.get("name", ()))
    if not name:
        parts = (_pick(cells, fields.get("first", ())), _pick(cells, fields.get("last", ())))
        name = " ".join(p for p in parts if p)
    groups = _pick(cells, fields.get("groups", ()))
    return Row(
        line=line,
        name=name,
        number=_pick(cells, fields.get("number", ())),
        company=_pick(cells, fields.get("company", ())),
        groups=tuple(g.strip() for g in groups.split(";") if g.strip()),
        text=delimiter.join(cells)[:SHOWN_CHARS],
    )


def parse(text: str) -> Parsed:
    """The lines of a CSV file, or ``ContactError`` when it cannot be read as one (then
    nothing of it is to be imported). Empty lines are passed over."""
    text = _text(text)
    if len(text.encode("utf-8", errors="replace")) > MAX_CSV_BYTES:
        raise ContactError(
            f"the file is larger than {MAX_CSV_BYTES // (1024 * 1024)} MB: split it in parts"
        )
    delimiter = sniff(text)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    records: list[tuple[int, list[str]]] = []
    start = 1
    try:
        for cells in reader:
            if any(c.strip() for c in cells):
                records.append((start, cells))
                if len(records) > MAX_CSV_ROWS + 1:  # + 1: a header
                    raise ContactError(
                        f"the file has more than {MAX_CSV_ROWS} lines: split it in parts"
                    )
            start = reader.line_num + 1
    except csv.Error as exc:
        raise ContactError(f"line {start} cannot be read as CSV ({exc}): fix it and retry") from exc
    if not records:
        raise ContactError("the file is empty: it needs a line for each contact")
    first = records[0][1]
    fields = _fields_of(first)
    header = "number" in fields or (bool(fields) and not _looks_like_data(first))
    if header and "number" not in fields:
        raise ContactError(
            "the first line names columns but none of them is the fax number: "
            "call that column Fax (or leave out the header: name, fax, company)"
        )
    if not header:
        fields = {"name": [0], "number": [1], "company": [2]}
    ignored = tuple(c.strip() for c in first if c.strip() and _FIELDS.get(_folded(c)) is None)
    rows = [_row(line, cells, fields, delimiter) for line, cells in records[header:]]
    if len(rows) > MAX_CSV_ROWS:
        raise ContactError(f"the file has more than {MAX_CSV_ROWS} lines: split it in parts")
    return Parsed(rows=rows, header=header, ignored=ignored if header else ())


def _guarded(value: str) -> str:
    return "'" + value if value.startswith(_FORMULA) else value


def write_csv(entries: Iterable[tuple[Contact, Sequence[str]]]) -> str:
    """A CSV file (comma-separated, a header, CRLF line ends) of contacts with the names of
    their groups; ``parse`` reads it back as it was."""
    out = io.StringIO(newline="")
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(HEADER)
    for contact, groups in entries:
        writer.writerow(
            (
                _guarded(contact.name),
                contact.number,  # digits and + only: nothing a spreadsheet would run
                _guarded(contact.company),
                _guarded("; ".join(groups)),
            )
        )
    return out.getvalue()
