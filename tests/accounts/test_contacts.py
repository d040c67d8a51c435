"""The address book: contacts, groups, and the rules they are kept by."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import Engine

from faxout.accounts import contactbase, contacts
from faxout.accounts.contacts import AddressBook, ContactError, NotFoundError
from faxout.accounts.repo import Account, AccountRepo
from faxout.db.tables import contact_group_members
from tests.db.records import NOW, add_account, count_rows

LATER = NOW + timedelta(minutes=5)


@pytest.fixture
def other(engine: Engine) -> Account:
    return add_account(engine, "15551230001")


def test_a_contact_keeps_its_number_as_typed(book: AddressBook, account: Account) -> None:
    added = book.add(account, "  Ann   Smith ", " (650) 555-1234 ", " ACME ", now=NOW)
    assert (added.name, added.number, added.company) == ("Ann Smith", "(650) 555-1234", "ACME")
    assert added.created_at == added.updated_at == NOW
    assert book.get(account.id, added.id) == added
    assert book.e164(account, added.number) == "+16505551234"
    assert added.recipient == "(650) 555-1234|Ann Smith"


@pytest.mark.parametrize(
    ("number", "reason"),
    [
        ("", "give the fax number"),
        ("911", "emergency number"),
        ("1-900-555-1234", "premium-rate"),
        ("12", "too short"),
        ("650 555 1234,,9", "only digits"),
    ],
)
def test_a_number_a_submission_refuses_is_refused(
    book: AddressBook, account: Account, number: str, reason: str
) -> None:
    with pytest.raises(ContactError, match=reason):
        book.add(account, "Ann", number, now=NOW)
    assert book.count(account.id) == 0


def test_the_accounts_dialling_lists_apply(engine: Engine, book: AddressBook) -> None:
    add_account(engine)
    domestic = AccountRepo(engine).update("15551230000", now=NOW, dial_allow=("domestic",))
    with pytest.raises(ContactError, match="may only fax domestic numbers"):
        book.add(domestic, "London", "+44 20 7946 0958", now=NOW)
    assert book.add(domestic, "Here", "212 555 0100", now=NOW).number == "212 555 0100"


def test_names_are_checked(book: AddressBook, account: Account) -> None:
    with pytest.raises(ContactError, match="give the name"):
        book.add(account, "  ", "+16505551234", now=NOW)
    with pytest.raises(ContactError, match="longer than 200"):
        book.add(account, "x" * 201, "+16505551234", now=NOW)
    assert book.add(account, "a\nb\x1bc", "+16505551234", now=NOW).name == "a b c"


def test_one_number_is_in_a_book_once_however_written(
    book: AddressBook, account: Account, other: Account
) -> None:
    book.add(account, "Ann", "+1 650 555 1234", now=NOW)
    with pytest.raises(ContactError, match="already in the address book as 'Ann'"):
        book.add(account, "Bob", "650.555.1234", now=NOW)
    assert book.add(other, "Ann's twin", "6505551234", now=NOW).number == "6505551234"


def test_update_changes_what_is_given(book: AddressBook, account: Account) -> None:
    ann = book.add(account, "Ann", "+16505551234", "ACME", now=NOW)
    bob = book.add(account, "Bob", "+12125550100", now=NOW)
    moved = book.update(account, ann.id, now=LATER, number="+44 20 7946 0958")
    assert (moved.name, moved.number, moved.company) == ("Ann", "+44 20 7946 0958", "ACME")
    assert moved.updated_at == LATER and moved.created_at == NOW
    # Its own number again is no duplicate; another contact's is.
    assert book.update(account, ann.id, now=LATER, number="+442079460958").id == ann.id
    with pytest.raises(ContactError, match="already in the address book as 'Bob'"):
        book.update(account, ann.id, now=LATER, number="212-555-0100")
    assert book.update(account, bob.id, now=LATER, name="Robert", company="").name == "Robert"


def test_another_accounts_contact_is_not_found(
    book: AddressBook, account: Account, other: Account
) -> None:
    theirs = book.add(other, "Theirs", "+16505551234", now=NOW)
    assert book.get(account.id, theirs.id) is None
    with pytest.raises(NotFoundError):
        book.update(account, theirs.id, now=LATER, name="Mine")
    with pytest.raises(NotFoundError):
        book.remove(account.id, theirs.id)
    group = book.add_group(account.id, "Mine", now=NOW)
    with pytest.raises(NotFoundError):
        book.add_to_group(account.id, group.id, [theirs.id])
    with pytest.raises(NotFoundError):
        book.members(other.id, group.id)
    with pytest.raises(NotFoundError):
        book.add(other, "X", "+12125550100", now=NOW, groups=[group.id])
    assert book.get(other.id, theirs.id) == theirs


def test_remove_deletes_the_contact_and_its_memberships(
    engine: Engine, book: AddressBook, account: Account
) -> None:
    group = book.add_group(account.id, "Clients", now=NOW)
    ann = book.add(account, "Ann", "+16505551234", now=NOW, groups=[group.id])
    assert ann.group_ids == (group.id,)
    assert book.remove(account.id, ann.id) == ann
    assert book.get(account.id, ann.id) is None
    assert count_rows(engine, contact_group_members) == 0
    assert book.groups(account.id)[0].members == 0


def _sample(book: AddressBook, account: Account) -> dict[str, int]:
    rows = [
        ("Ann Smith", "(650) 555-1234", "ACME"),
        ("bob jones", "+1 212 555 0100", "Jones & Co"),
        ("Carl 100%", "+44 20 7946 0958", "under_score"),
        ("Dora", "+49 30 1234567", "ACME"),
    ]
    return {name: book.add(account, name, number, co, now=NOW).id for name, number, co in rows}


@pytest.mark.parametrize(
    ("search", "names"),
    [
        ("", ["Ann Smith", "bob jones", "Carl 100%", "Dora"]),
        ("SMITH", ["Ann Smith"]),
        ("acme", ["Ann Smith", "Dora"]),
        ("6505551234", ["Ann Smith"]),
        ("555-0100", ["bob jones"]),
        ("+44 20", ["Carl 100%"]),
        ("%", ["Carl 100%"]),
        ("_", ["Carl 100%"]),
        ("o_e", []),
        ("nobody", []),
    ],
)
def test_search_finds_name_number_or_company(
    book: AddressBook, account: Account, search: str, names: list[str]
) -> None:
    _sample(book, account)
    assert [c.name for c in book.contacts(account.id, search)] == names
    assert book.count(account.id, search) == len(names)


def test_lists_page_and_filter_by_group(
    book: AddressBook, account: Account, other: Account
) -> None:
    ids = _sample(book, account)
    book.add(other, "Zed", "+16505559876", now=NOW)
    assert [c.name for c in book.contacts(account.id, limit=2, offset=1)] == [
        "bob jones",
        "Carl 100%",
    ]
    group = book.add_group(account.id, "Europe", now=NOW)
    book.set_members(account.id, group.id, [ids["Dora"], ids["Carl 100%"]])
    assert [c.name for c in book.contacts(account.id, group_id=group.id)] == ["Carl 100%", "Dora"]
    assert [c.name for c in book.contacts(account.id, "dora", group_id=group.id)] == ["Dora"]
    assert book.count(account.id, group_id=group.id) == 2
    assert book.contacts(other.id, group_id=group.id) == []


def test_groups_hold_members(book: AddressBook, account: Account) -> None:
    ids = _sample(book, account)
    clients = book.add_group(account.id, " Clients ", now=NOW)
    assert (clients.name, clients.members) == ("Clients", 0)
    with pytest.raises(ContactError, match="group called 'clients' already"):
        book.add_group(account.id, "clients", now=NOW)
    book.add_to_group(account.id, clients.id, [ids["Dora"], ids["Ann Smith"]])
    again = book.add_to_group(account.id, clients.id, [ids["Dora"]])
    assert again.member_ids == (ids["Ann Smith"], ids["Dora"])
    assert [c.name for c in book.members(account.id, clients.id)] == ["Ann Smith", "Dora"]
    assert book.recipients_of_group(account.id, clients.id) == [
        "(650) 555-1234|Ann Smith",
        "+49 30 1234567|Dora",
    ]
    after = book.remove_from_group(account.id, clients.id, [ids["Ann Smith"]])
    assert after.member_ids == (ids["Dora"],)
    assert book.set_members(account.id, clients.id, []).members == 0


def test_groups_are_renamed_and_removed(book: AddressBook, account: Account) -> None:
    ann = book.add(account, "Ann", "+16505551234", now=NOW)
    first = book.add_group(account.id, "First", now=NOW)
    book.add_group(account.id, "Second", now=NOW)
    assert book.rename_group(account.id, first.id, "first").name == "first"  # its own name
    with pytest.raises(ContactError, match="already"):
        book.rename_group(account.id, first.id, "SECOND")
    book.add_to_group(account.id, first.id, [ann.id])
    assert book.remove_group(account.id, first.id).name == "first"
    assert [g.name for g in book.groups(account.id)] == ["Second"]
    assert book.get(account.id, ann.id) == ann  # the contact stays
    with pytest.raises(NotFoundError):
        book.rename_group(account.id, first.id, "Again")


def test_another_accounts_group_is_not_found(
    book: AddressBook, account: Account, other: Account
) -> None:
    theirs = book.add_group(other.id, "Theirs", now=NOW)
    assert book.group(account.id, theirs.id) is None
    for change in (
        lambda: book.rename_group(account.id, theirs.id, "Mine"),
        lambda: book.remove_group(account.id, theirs.id),
        lambda: book.set_members(account.id, theirs.id, []),
        lambda: book.recipients_of_group(account.id, theirs.id),
    ):
        with pytest.raises(NotFoundError):
            change()
    assert book.group(other.id, theirs.id) == theirs


def test_a_book_has_limits(
    book: AddressBook, account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(contacts, "MAX_CONTACTS", 2)
    monkeypatch.setattr(contactbase, "MAX_GROUPS", 1)
    book.add(account, "Ann", "+16505551234", now=NOW)
    book.add(account, "Bob", "+12125550100", now=NOW)
    with pytest.raises(ContactError, match="at most 2 contacts"):
        book.add(account, "Carl", "+442079460958", now=NOW)
    book.add_group(account.id, "One", now=NOW)
    with pytest.raises(ContactError, match="at most 1 groups"):
        book.add_group(account.id, "Two", now=NOW)
