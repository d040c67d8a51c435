"""The address book's pages: contacts, groups, CSV import and export, the send page's picker."""

from __future__ import annotations

import re
from pathlib import Path

from starlette.testclient import TestClient

from faxout.accounts.contacts import AddressBook
from faxout.accounts.repo import Account
from faxout.intake.console.contacts import prefill
from tests.intake.apiapp import USER, InProcess
from tests.intake.console.signedin import console, csrf_of, sign_in

OTHER, OTHER_PASSWORD = "16505559999", "other pass"


def _account(made: InProcess, username: str = USER) -> Account:
    account = made.gw.accounts.get(username)
    assert account is not None
    return account


def _book(made: InProcess) -> AddressBook:
    return AddressBook(made.gw.engine)


def _other(made: InProcess) -> Account:
    return made.gw.accounts.add(
        OTHER, email="b@example.com", password_hash=made.gw.passwords.hash(OTHER_PASSWORD),
        now=made.clock.now(),
    )  # fmt: skip


def _add(client: TestClient, token: str, **fields: str | list[str]) -> int:
    answer = client.post("/contacts/new", data={"csrf": token, **fields}, follow_redirects=False)
    assert answer.status_code == 303, answer.text
    return int(re.findall(r'data-contact="(\d+)"', client.get("/contacts").text)[-1])


def _rows(html: str) -> list[str]:
    return re.findall(r'<td data-label="Name"><a href="/contacts/\d+">([^<]+)</a>', html)


def test_the_book_needs_a_signed_in_viewer(tmp_path: Path) -> None:
    with console(tmp_path, signed_in=False) as (_made, client, _token):
        answer = client.get("/contacts", follow_redirects=False)
        assert answer.status_code == 303
        assert answer.headers["location"] == "/login?next=/contacts"
        picker = client.get("/contacts.json", headers={"X-Requested-With": "fetch"})
        assert picker.status_code == 401


def test_an_empty_book_says_what_to_do(tmp_path: Path) -> None:
    with console(tmp_path) as (_made, client, _token):
        page = client.get("/contacts")
        assert page.status_code == 200 and page.headers["cache-control"] == "no-store"
        assert "The address book is empty." in page.text
        assert 'aria-current="page">Address book<' in page.text
        assert "No groups yet" in page.text


def test_adding_a_contact(tmp_path: Path) -> None:
    with console(tmp_path) as (made, client, token):
        form = client.get("/contacts/new").text
        assert '<label for="number">Fax number</label>' in form
        answer = client.post(
            "/contacts/new",
            data={"csrf": token, "name": " Ann  Smith ", "number": "(212) 555-0100", "company": "ACME"},
            follow_redirects=False,
        )  # fmt: skip
        assert answer.status_code == 303 and answer.headers["location"] == "/contacts"
        page = client.get("/contacts").text
        assert "Added Ann Smith." in page
        assert _rows(page) == ["Ann Smith"]
        assert "(212) 555-0100" in page and "+1 212-555-0100" in page and "ACME" in page
        (added,) = _book(made).contacts(_account(made).id)
        assert (added.name, added.number) == ("Ann Smith", "(212) 555-0100")
        assert f'href="/send?contact={added.id}"' in page


def test_a_refused_contact_comes_back_with_what_was_typed(tmp_path: Path) -> None:
    with console(tmp_path) as (made, client, token):
        answer = client.post(
            "/contacts/new",
            data={"csrf": token, "name": "Emergency", "number": "911", "company": "Town & Co"},
        )
        assert answer.status_code == 400
        page = answer.text
        assert 'value="Emergency"' in page and 'value="911"' in page
        assert 'value="Town &amp; Co"' in page
        assert 'aria-invalid="true" aria-describedby="number-error"' in page
        assert "faxout never dials emergency services" in page
        no_name = client.post("/contacts/new", data={"csrf": token, "number": "2125550100"})
        assert no_name.status_code == 400 and 'id="name-error">Give the name.<' in no_name.text
        assert _book(made).count(_account(made).id) == 0


def test_editing_a_contact(tmp_path: Path) -> None:
    with console(tmp_path) as (made, client, token):
        ann = _add(client, token, name="Ann", number="2125550100")
        _add(client, token, name="Bob", number="+44 20 7946 0958")
        form = client.get(f"/contacts/{ann}").text
        assert 'value="Ann"' in form and 'value="2125550100"' in form
        assert "Delete this contact" in form
        saved = client.post(
            f"/contacts/{ann}",
            data={"csrf": token, "name": "Ann Smith", "number": "+1 212 555 0100", "company": "X"},
            follow_redirects=False,
        )  # fmt: skip
        assert saved.status_code == 303
        assert "Saved Ann Smith." in client.get("/contacts").text
        same = client.post(
            f"/contacts/{ann}", data={"csrf": token, "name": "Ann", "number": "020 7946 0958"}
        )
        assert same.status_code == 400  # read in the US: not Bob's number, and not valid
        duplicate = client.post(
            f"/contacts/{ann}", data={"csrf": token, "name": "Ann", "number": "+442079460958"}
        )
        assert duplicate.status_code == 400
        assert "already in the address book as &#39;Bob&#39;" in duplicate.text
        contact = _book(made).get(_account(made).id, ann)
        assert contact is not None and contact.number == "+1 212 555 0100"


def test_deleting_a_contact(tmp_path: Path) -> None:
    with console(tmp_path) as (_made, client, token):
        ann = _add(client, token, name="Ann", number="2125550100")
        answer = client.post(
            f"/contacts/{ann}/delete", data={"csrf": token}, follow_redirects=False
        )
        assert answer.status_code == 303
        page = client.get("/contacts").text
        assert "Deleted Ann." in page and _rows(page) == []
        assert client.post(f"/contacts/{ann}/delete", data={"csrf": token}).status_code == 404


def test_search_and_pages(tmp_path: Path) -> None:
    with console(tmp_path) as (made, client, _token):
        account, book = _account(made), _book(made)
        for i in range(55):
            book.add(account, f"Person {i:02d}", f"+1 212 555 {i:04d}", now=made.clock.now())
        first = client.get("/contacts").text
        assert len(_rows(first)) == 50 and "Page 1 of 2 · 55 contacts" in first
        assert _rows(client.get("/contacts?page=2").text) == [f"Person {i}" for i in range(50, 55)]
        assert _rows(client.get("/contacts?q=person+07").text) == ["Person 07"]
        assert _rows(client.get("/contacts?q=2125550042").text) == ["Person 42"]
        assert "No contact matches" in client.get("/contacts?q=nobody").text


def test_groups(tmp_path: Path) -> None:
    with console(tmp_path) as (made, client, token):
        ann = _add(client, token, name="Ann", number="2125550100")
        bob = _add(client, token, name="Bob", number="2125550101")
        made_group = client.post(
            "/contacts/groups", data={"csrf": token, "name": "Clients"}, follow_redirects=False
        )
        assert made_group.status_code == 303
        where = made_group.headers["location"]
        group = int(where.rsplit("/", 1)[1])
        page = client.get(where).text
        assert "Created the group Clients." in page and "No members yet" in page
        added = client.post(
            f"{where}/add", data={"csrf": token, "contact": [str(ann), str(bob)]},
            follow_redirects=False,
        )  # fmt: skip
        assert added.status_code == 303
        page = client.get(where).text
        assert "2 contacts added to the group." in page
        assert f'href="/send?group={group}"' in page
        listed = client.get(f"/contacts?group={group}").text
        assert _rows(listed) == ["Ann", "Bob"] and "Send to this group" in listed
        assert prefill(_book(made), _account(made).id, group=group, contact=ann) == [
            "2125550100|Ann",
            "2125550101|Bob",
        ]
        client.post(f"{where}/remove", data={"csrf": token, "contact": str(ann)})
        assert _rows(client.get(f"/contacts?group={group}").text) == ["Bob"]
        taken = client.post("/contacts/groups", data={"csrf": token, "name": "clients"})
        assert "There is a group called &#39;clients&#39; already" in taken.text
        renamed = client.post(f"{where}/rename", data={"csrf": token, "name": "Customers"})
        assert "Renamed the group to Customers." in renamed.text
        gone = client.post(f"{where}/delete", data={"csrf": token})
        assert "Deleted the group Customers." in gone.text
        assert _rows(gone.text) == ["Ann", "Bob"]  # the contacts stay
        assert client.get(where).status_code == 404
        assert client.get(f"/contacts?group={group}").status_code == 404


def test_a_contacts_form_sets_its_groups(tmp_path: Path) -> None:
    with console(tmp_path) as (made, client, token):
        book, account = _book(made), _account(made)
        vip = book.add_group(account.id, "VIP", now=made.clock.now())
        form = client.get(f"/contacts/new?group={vip.id}").text
        assert f'name="group" value="{vip.id}" checked' in form
        ann = _add(client, token, name="Ann", number="2125550100", group=str(vip.id))
        assert book.members(account.id, vip.id)[0].id == ann
        client.post(f"/contacts/{ann}", data={"csrf": token, "name": "Ann", "number": "2125550100"})
        assert book.members(account.id, vip.id) == []


CSV = (
    "Name,Fax,Company,Groups\r\n"
    "Ann Smith,(212) 555-0100,ACME,Clients\r\n"
    "Nobody,911,,\r\n"
    "Bob,+44 20 7946 0958,,Clients; Europe\r\n"
)


def _import(client: TestClient, token: str, body: bytes, **fields: str) -> str:
    answer = client.post(
        "/contacts/import",
        data={"csrf": token, **fields},
        files={"file": ("book.csv", body, "text/csv")},
    )
    return f"{answer.status_code} {answer.text}"


def test_import_lists_the_bad_lines(tmp_path: Path) -> None:
    with console(tmp_path) as (made, client, token):
        assert 'enctype="multipart/form-data"' in client.get("/contacts/import").text
        page = _import(client, token, CSV.encode(), group="March")
        assert page.startswith("200 ")
        assert "2 contacts added, 1 line not imported." in page
        assert "The imported contacts are in the group March." in page
        assert '<td data-label="Line">3</td>' in page and "emergency services" in page
        assert "<code>Nobody,911,,</code>" in page
        again = _import(client, token, CSV.encode())
        assert "0 contacts added, 2 skipped, 1 line not imported." in again
        book = _book(made)
        groups = {g.name: g.members for g in book.groups(_account(made).id)}
        assert groups == {"Clients": 2, "Europe": 1, "March": 2}


def test_a_file_that_cannot_be_read_imports_nothing(tmp_path: Path) -> None:
    with console(tmp_path) as (made, client, token):
        page = _import(client, token, b"Name,Company\r\nAnn,ACME\r\n")
        assert page.startswith("400 ") and "none of them is the fax number" in page
        assert "Nothing was imported." in page
        assert _import(client, token, b"").startswith("400 ")
        assert "not text" in _import(client, token, b"PK\x03\x04\x00\x00\x00")
        assert _book(made).count(_account(made).id) == 0


def test_export_reads_back(tmp_path: Path) -> None:
    with console(tmp_path) as (made, client, token):
        _import(client, token, CSV.encode())
        exported = client.get("/contacts/export.csv")
        assert exported.status_code == 200
        assert exported.headers["content-type"] == "text/csv; charset=utf-8"
        assert "attachment" in exported.headers["content-disposition"]
        body = exported.content
        assert body.startswith(b"\xef\xbb\xbfName,Fax,Company,Groups\r\n")
        assert b"Ann Smith,(212) 555-0100,ACME,Clients\r\n" in body
        _other(made)
        client.cookies.clear()
        other_token = sign_in(client, OTHER, OTHER_PASSWORD)
        assert "2 contacts added." in _import(client, other_token, body)
        assert client.get("/contacts/export.csv").content == body


def test_the_pickers_json(tmp_path: Path) -> None:
    with console(tmp_path) as (_made, client, token):
        _import(client, token, CSV.encode())
        found = client.get("/contacts.json?q=ann").json()
        assert [(c["name"], c["number"], c["company"]) for c in found["contacts"]] == [
            ("Ann Smith", "(212) 555-0100", "ACME")
        ]
        assert found["groups"] == []
        every = client.get("/contacts.json").json()
        assert len(every["contacts"]) == 2
        assert [(g["name"], g["members"]) for g in every["groups"]] == [
            ("Clients", 2),
            ("Europe", 1),
        ]


def test_another_accounts_book_is_not_found(tmp_path: Path) -> None:
    with console(tmp_path) as (made, client, token):
        other = _other(made)
        book = _book(made)
        theirs = book.add(other, "Theirs", "2125550100", now=made.clock.now())
        group = book.add_group(other.id, "Theirs", now=made.clock.now())
        data = {"csrf": token, "name": "Mine", "number": "2125550101", "contact": str(theirs.id)}
        assert client.get(f"/contacts/{theirs.id}").status_code == 404
        assert client.post(f"/contacts/{theirs.id}", data=data).status_code == 404
        assert client.post(f"/contacts/{theirs.id}/delete", data=data).status_code == 404
        assert client.get(f"/contacts/groups/{group.id}").status_code == 404
        assert client.get(f"/contacts?group={group.id}").status_code == 404
        for action in ("rename", "delete", "add", "remove"):
            answer = client.post(f"/contacts/groups/{group.id}/{action}", data=data)
            assert answer.status_code == 404, action
        mine = book.add_group(_account(made).id, "Mine", now=made.clock.now())
        add = client.post(f"/contacts/groups/{mine.id}/add", data=data)
        assert add.status_code == 404
        assert client.get("/contacts.json?q=theirs").json() == {"contacts": [], "groups": []}
        assert book.get(other.id, theirs.id) == theirs and book.members(other.id, group.id) == []


def test_a_change_without_the_csrf_token_is_refused(tmp_path: Path) -> None:
    with console(tmp_path) as (made, client, token):
        ann = _add(client, token, name="Ann", number="2125550100")
        group = _book(made).add_group(_account(made).id, "G", now=made.clock.now())
        for path in (
            "/contacts/new",
            f"/contacts/{ann}",
            f"/contacts/{ann}/delete",
            "/contacts/groups",
            f"/contacts/groups/{group.id}/rename",
            f"/contacts/groups/{group.id}/delete",
        ):
            answer = client.post(path, data={"name": "X", "number": "2125550109"})
            assert answer.status_code == 403, path
            wrong = client.post(path, data={"csrf": "wrong", "name": "X"})
            assert wrong.status_code == 403, path
        upload = client.post(
            "/contacts/import", data={"csrf": "wrong"}, files={"file": ("a.csv", b"A,2125550109")}
        )
        assert upload.status_code == 403
        assert "expired" in upload.text
        assert _book(made).count(_account(made).id) == 1 and _book(made).groups(_account(made).id)
        assert csrf_of(client.get("/contacts").text) == token
