"""Address books from and to CSV: what a file may look like, and what an import does with it."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from faxout.accounts import contactimport
from faxout.accounts.contactcsv import MAX_CSV_BYTES, decode_upload, parse, sniff
from faxout.accounts.contacts import AddressBook, ContactError
from faxout.accounts.repo import Account
from tests.db.records import NOW, add_account


@pytest.mark.parametrize(
    ("text", "delimiter"),
    [
        ("Ann,+16505551234\nBob,+12125550100\n", ","),
        ("Smith, Ann;+1 650 555 1234;ACME\nJones, Bob;+1 212 555 0100;X\n", ";"),
        ("Ann\t+16505551234\tACME, Inc\n", "\t"),
        ("Company;Fax;Name\nA, B;+16505551234;Ann\n", ";"),
        ("", ","),
    ],
)
def test_the_delimiter_is_found(text: str, delimiter: str) -> None:
    assert sniff(text) == delimiter


def test_a_header_names_columns_in_any_order() -> None:
    parsed = parse(
        "\ufeffOrganisation,Notes,FAX NUMBER,Full Name,Groups\r\n"
        'ACME,"call first",+1 650 555 1234,Ann Smith,"Clients; Europe"\r\n'
    )
    assert parsed.header and parsed.ignored == ("Notes",)
    (row,) = parsed.rows
    assert (row.line, row.name, row.number, row.company) == (
        2,
        "Ann Smith",
        "+1 650 555 1234",
        "ACME",
    )
    assert row.groups == ("Clients", "Europe")


def test_an_address_books_export_reads_too() -> None:
    # As Outlook writes it: first and last names, several fax columns, the first filled wins.
    parsed = parse(
        "First Name,Last Name,Company,Business Fax,Home Fax\n"
        "Ann,Smith,ACME,,+16505551234\n"
        ",,Jones & Co,+12125550100,\n"
    )
    assert [(r.name, r.number, r.company) for r in parsed.rows] == [
        ("Ann Smith", "+16505551234", "ACME"),
        ("", "+12125550100", "Jones & Co"),
    ]


def test_without_a_header_the_columns_are_name_number_company() -> None:
    parsed = parse("Ann,+16505551234,ACME\n\n  \nBob,+12125550100\n")
    assert not parsed.header
    assert [(r.line, r.name, r.number, r.company) for r in parsed.rows] == [
        (1, "Ann", "+16505551234", "ACME"),
        (4, "Bob", "+12125550100", ""),
    ]


def test_line_numbers_count_lines_inside_quotes() -> None:
    parsed = parse('Name,Fax,Company\nAnn,+16505551234,"two\nlines"\nBob,+12125550100,\n')
    assert [r.line for r in parsed.rows] == [2, 4]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "the file is empty"),
        ("Name,Company\nAnn,ACME\n", "none of them is the fax number"),
        ("Ann,+1\x00650\n", "not text"),
        ("Ann,+16505551234\n" * 10_001, "more than 10000 lines"),
        ("x" * (MAX_CSV_BYTES + 1), "larger than 2 MB"),
    ],
)
def test_a_file_that_cannot_be_read_is_refused(text: str, reason: str) -> None:
    with pytest.raises(ContactError, match=reason):
        parse(text)


def test_uploads_are_decoded() -> None:
    assert decode_upload("\ufeffMüller,+49301234567".encode()) == "Müller,+49301234567"
    assert decode_upload("Müller,+49301234567".encode("cp1252")) == "Müller,+49301234567"
    assert decode_upload("Müller,+49301234567".encode("utf-16")) == "Müller,+49301234567"
    with pytest.raises(ContactError, match="not text"):
        decode_upload(b"PK\x03\x04\x00\x00")
    with pytest.raises(ContactError, match="larger than"):
        decode_upload(b" " * (MAX_CSV_BYTES + 1))


GOOD_AND_BAD = (
    "name;fax;company;groups\n"
    "Ann Smith;(650) 555-1234;ACME;Clients\n"
    "Nobody;911;;\n"
    ";+12125550100;Jones & Co;clients; Europe\n"
    "Ann again;+1 650 555 1234;;\n"
    ";;;\n"
    "No number;;;\n"
    "Carl;+44 20 7946 0958;;Europe\n"
)


def test_import_takes_the_good_lines_and_lists_the_bad(book: AddressBook, account: Account) -> None:
    result = book.import_csv(account, GOOD_AND_BAD, NOW, group="March mailing")
    assert (result.added, result.updated) == (3, 0)
    assert [(i.line, i.reason) for i in result.errors] == [
        (3, "fax number '911': it is an emergency number; faxout never dials emergency services"),
        (7, "give the fax number"),
    ]
    assert [(i.line, i.reason, i.text) for i in result.skipped] == [
        (5, "the same number as line 2, imported once", "Ann again;+1 650 555 1234;;"),
    ]
    assert result.group == "March mailing"
    names = {c.name: c for c in book.contacts(account.id)}
    assert sorted(names) == ["Ann Smith", "Carl", "Jones & Co"]  # the company stands in
    groups = {g.name: g for g in book.groups(account.id)}
    assert sorted(groups) == ["Clients", "Europe", "March mailing"]
    assert groups["Clients"].member_ids == (names["Ann Smith"].id, names["Jones & Co"].id)
    assert groups["March mailing"].members == 3


def test_numbers_in_the_book_are_skipped_or_updated(book: AddressBook, account: Account) -> None:
    ann = book.add(account, "Ann", "+16505551234", "Old Co", now=NOW)
    text = "Name,Fax,Group\nAnn Smith,650-555-1234,VIP\n"
    kept = book.import_csv(account, text, NOW)
    assert (kept.added, kept.updated) == (0, 0)
    assert [i.reason for i in kept.skipped] == [
        "already in the address book as 'Ann', left as it is"
    ]
    after = book.get(account.id, ann.id)
    assert after is not None and (after.name, after.company) == ("Ann", "Old Co")
    assert len(after.group_ids) == 1  # it joined the file's group all the same
    updated = book.import_csv(account, text, NOW, update_existing=True)
    assert (updated.added, updated.updated, updated.skipped) == (0, 1, ())
    after = book.get(account.id, ann.id)
    assert after is not None and (after.name, after.company, after.number) == (
        "Ann Smith",
        "Old Co",
        "+16505551234",
    )


def test_an_import_past_the_limit_imports_nothing(
    book: AddressBook, account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(contactimport, "MAX_CONTACTS", 2)
    book.add(account, "Ann", "+16505551234", now=NOW)
    with pytest.raises(ContactError, match="holds 1 contacts and the file 2 new ones"):
        book.import_csv(account, "Bob,+12125550100\nCarl,+442079460958\n", NOW, group="New")
    assert book.count(account.id) == 1 and book.groups(account.id) == []


def test_export_reads_back_as_it_was(engine: Engine, book: AddressBook, account: Account) -> None:
    book.import_csv(account, GOOD_AND_BAD, NOW)
    book.add(account, "=HYPERLINK(1)", "+49 30 1234567", '@risk, "quoted"', now=NOW)
    text = book.export_csv(account.id)
    assert text.startswith("Name,Fax,Company,Groups\r\n")
    assert '\'=HYPERLINK(1),+49 30 1234567,"\'@risk, ""quoted""",' in text
    copy = add_account(engine, "15551230001")
    result = book.import_csv(copy, text, NOW)
    assert (result.added, result.errors, result.skipped) == (4, (), ())

    def shape(account_id: int) -> list[tuple[str, str, str, list[str]]]:
        names = {g.id: g.name for g in book.groups(account_id)}
        return [
            (c.name, c.number, c.company, [names[g] for g in c.group_ids])
            for c in book.contacts(account_id)
        ]

    assert shape(copy.id) == shape(account.id)
    assert book.export_csv(copy.id) == text
