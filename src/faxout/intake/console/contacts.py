"""The address book: an account's contacts and groups, CSV import and export.

Every page is whole without JavaScript (server-rendered forms; each change a POST with the
CSRF token, answered by a redirect and a one-line message):

- ``/contacts``: the contacts (search, a group filter, pages of ``PAGE_SIZE``) and the groups;
- ``/contacts/new``, ``/contacts/{id}``: a contact's form (a refused one comes back with what
  was typed and the reason next to its field); ``/contacts/{id}/delete``;
- ``/contacts/groups/{id}``: a group's members, adding and removing them, renaming, deleting;
- ``/contacts/import`` and ``/contacts/export.csv``: in ``contactfiles`` (the import's answer
  is the report of each line, not a redirect: sending it again adds nothing);
- ``/contacts.json?q=`` for the send page's picker.

The send page reads ``/send?contact=ID`` and ``/send?group=ID`` with ``prefill``. The records
and their rules are ``faxout.accounts.contacts``'; another account's contact or group is 404.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, TypeVar
from urllib.parse import urlencode

import anyio
from fastapi import APIRouter, Request
from starlette.responses import Response

from faxout.accounts.contacts import (
    AddressBook,
    Contact,
    ContactError,
    Group,
    NotFoundError,
)
from faxout.intake.console import format as fmt
from faxout.intake.console.web import (
    ConsoleError,
    Viewer,
    ViewerDep,
    json_answer,
    page,
    read_form_all,
    redirect,
)

router = APIRouter(include_in_schema=False)
PAGE_SIZE = 50
PICKER_SIZE = 20
CANDIDATES = 50  # contacts offered to add to a group at a time
MAX_QUERY_CHARS = 100
T = TypeVar("T")


def book_of(viewer: Viewer) -> AddressBook:
    """The address books, reading numbers as the viewer's submissions are read."""
    return AddressBook(viewer.intake.engine, viewer.intake.reachable)


def prefill(
    book: AddressBook, account_id: int, *, group: int | None = None, contact: int | None = None
) -> list[str]:
    """The recipient lines (``number|name``) for ``/send?contact=ID`` or ``?group=ID``: the
    contact's, then the group's members', each once; an id not in the account's book gives
    nothing (the send page then starts empty)."""
    lines: list[str] = []
    if contact is not None:
        found = book.get(account_id, contact)
        if found is not None:
            lines.append(found.recipient)
    if group is not None:
        with contextlib.suppress(NotFoundError):
            lines.extend(book.recipients_of_group(account_id, group))
    return list(dict.fromkeys(lines))


async def run(call: Callable[[], T]) -> T:
    """``call`` (database work) off the event loop; a contact or group of no concern to the
    viewer is 404."""
    try:
        return await anyio.to_thread.run_sync(call)
    except NotFoundError as exc:
        raise ConsoleError(404, said(exc)) from exc


def said(exc: Exception) -> str:
    """An error's message as a sentence."""
    text = str(exc)
    return text[:1].upper() + text[1:] + "."


def _id(value: str | None) -> int | None:
    """A record id from a URL or form, or None when it is not one."""
    text = (value or "").strip()
    return int(text) if text.isdigit() and 0 < int(text) < 2**62 else None


def _ids(values: list[str]) -> list[int]:
    return [i for i in (_id(v) for v in values) if i is not None]


@dataclass(frozen=True)
class BookQuery:
    """What the list shows: a search, a group, a page."""

    q: str = ""
    group: int | None = None
    page: int = 1

    @staticmethod
    def of(request: Request) -> BookQuery:
        """The query of the request's URL (anything unreadable is ignored)."""
        params = request.query_params
        number = _id(params.get("page"))
        return BookQuery(
            q=params.get("q", "").strip()[:MAX_QUERY_CHARS],
            group=_id(params.get("group")),
            page=min(number or 1, 10_000),
        )

    def link(self, **changes: Any) -> str:
        """The list's URL for this query with ``changes``."""
        values: dict[str, Any] = {"q": self.q, "group": self.group, "page": self.page}
        values.update(changes)
        kept = {k: v for k, v in values.items() if v not in ("", None, 1)}
        return "/contacts?" + urlencode(kept) if kept else "/contacts"


@dataclass(frozen=True)
class Shown:
    """A contact as a row shows it."""

    contact: Contact
    international: str  # its number in international form; "" when that is how it was typed
    groups: list[Group]


def _shown(book: AddressBook, viewer: Viewer, rows: list[Contact], groups: list[Group]) -> Any:
    by_id = {g.id: g for g in groups}
    shown = []
    for contact in rows:
        e164 = book.e164(viewer.account, contact.number)
        international = fmt.number(e164) if e164 else ""
        digits = "".join(ch for ch in international if ch.isdigit() or ch == "+")
        same = digits == "".join(ch for ch in contact.number if ch.isdigit() or ch == "+")
        shown.append(
            Shown(contact, "" if same else international, [by_id[g] for g in contact.group_ids])
        )
    return shown


def _listing(viewer: Viewer, query: BookQuery) -> dict[str, Any]:
    book = book_of(viewer)
    account_id = viewer.account.id
    groups = book.groups(account_id)
    group = next((g for g in groups if g.id == query.group), None)
    if query.group is not None and group is None:
        raise NotFoundError("there is no such group: it may have been deleted")
    total = book.count(account_id, query.q, query.group)
    offset = (query.page - 1) * PAGE_SIZE
    rows = book.contacts(account_id, query.q, query.group, PAGE_SIZE, offset)
    return {
        "contacts": _shown(book, viewer, rows, groups),
        "groups": groups,
        "group": group,
        "total": total,
        "pages": max(1, math.ceil(total / PAGE_SIZE)),
        "empty": book.count(account_id) == 0,
    }


@router.get("/contacts")
async def contacts_page(request: Request, viewer: ViewerDep) -> Response:
    """The address book: contacts and groups."""
    query = BookQuery.of(request)
    found = await run(partial(_listing, viewer, query))
    return page(
        request,
        "contacts.html",
        viewer,
        title="Address book",
        nav="contacts",
        query=query,
        **found,
    )


@router.get("/contacts.json")
async def contacts_json(
    request: Request, viewer: ViewerDep, q: str = "", group: int | None = None
) -> Response:
    """Contacts and groups matching ``q``, for the send page's picker; with ``group``, that
    group's recipient lines (``number|name``) instead."""
    words = q.strip()[:MAX_QUERY_CHARS]
    book = book_of(viewer)
    account_id = viewer.account.id
    if group is not None:
        lines = await run(partial(prefill, book, account_id, group=group))
        return json_answer(request, {"lines": lines})
    rows = await run(partial(book.contacts, account_id, words, None, PICKER_SIZE))
    groups = await run(partial(book.groups, account_id))
    folded = words.casefold()
    return json_answer(
        request,
        {
            "contacts": [
                {"id": c.id, "name": c.name, "number": c.number, "company": c.company} for c in rows
            ],
            "groups": [
                {"id": g.id, "name": g.name, "members": g.members}
                for g in groups
                if folded in g.name.casefold()
            ][:PICKER_SIZE],
        },
    )


# A contact's form


def _form_page(
    request: Request,
    viewer: Viewer,
    groups: list[Group],
    values: dict[str, Any],
    *,
    contact: Contact | None = None,
    error: ContactError | None = None,
) -> Response:
    field = error.field if error and error.field in ("name", "number", "company") else ""
    return page(
        request,
        "contacts_form.html",
        viewer,
        status=400 if error else 200,
        title=f"Edit {contact.name}" if contact else "Add a contact",
        nav="contacts",
        contact=contact,
        groups=groups,
        form=values,
        errors={field: said(error)} if error and field else {},
        error=said(error) if error and not field else "",
    )


def _values(form: dict[str, list[str]]) -> dict[str, Any]:
    def one(name: str) -> str:
        return form.get(name, [""])[-1]

    return {
        "name": one("name"),
        "number": one("number"),
        "company": one("company"),
        "groups": _ids(form.get("group", [])),
    }


async def _posted(request: Request, viewer: Viewer) -> dict[str, list[str]]:
    """A urlencoded form, its CSRF token checked."""
    form = await read_form_all(request)
    viewer.check(form.get("csrf", [""])[-1])
    return form


@router.get("/contacts/new")
async def new_contact(request: Request, viewer: ViewerDep) -> Response:
    """The form for a new contact (``?group=ID`` ticks that group)."""
    groups = await run(partial(book_of(viewer).groups, viewer.account.id))
    wanted = _id(request.query_params.get("group"))
    values = {"name": "", "number": "", "company": "", "groups": [wanted] if wanted else []}
    return _form_page(request, viewer, groups, values)


@router.post("/contacts/new")
async def add_contact(request: Request, viewer: ViewerDep) -> Response:
    """Add a contact, or show the form again with what is wrong."""
    values = _values(await _posted(request, viewer))
    book = book_of(viewer)
    add = partial(
        book.add,
        viewer.account,
        values["name"],
        values["number"],
        values["company"],
        now=viewer.now(),
        groups=values["groups"],
    )
    try:
        added = await anyio.to_thread.run_sync(add)
    except ContactError as exc:
        groups = await run(partial(book.groups, viewer.account.id))
        return _form_page(request, viewer, groups, values, error=exc)
    return redirect(request, "/contacts", f"Added {added.name}.")


async def _contact(viewer: Viewer, contact_id: int) -> Contact:
    found = await run(partial(book_of(viewer).get, viewer.account.id, contact_id))
    if found is None:
        raise ConsoleError(404, "There is no such contact: it may have been deleted.")
    return found


@router.get("/contacts/{contact_id:int}")
async def edit_contact(request: Request, viewer: ViewerDep, contact_id: int) -> Response:
    """A contact's form."""
    contact = await _contact(viewer, contact_id)
    groups = await run(partial(book_of(viewer).groups, viewer.account.id))
    values = {
        "name": contact.name,
        "number": contact.number,
        "company": contact.company,
        "groups": list(contact.group_ids),
    }
    return _form_page(request, viewer, groups, values, contact=contact)


@router.post("/contacts/{contact_id:int}")
async def save_contact(request: Request, viewer: ViewerDep, contact_id: int) -> Response:
    """Save a contact's form (its groups: those ticked)."""
    values = _values(await _posted(request, viewer))
    contact = await _contact(viewer, contact_id)
    book = book_of(viewer)
    save = partial(
        book.update,
        viewer.account,
        contact_id,
        now=viewer.now(),
        name=values["name"],
        number=values["number"],
        company=values["company"],
        groups=values["groups"],
    )
    try:
        saved = await anyio.to_thread.run_sync(save)
    except ContactError as exc:  # a group deleted meanwhile too: the form says so
        groups = await run(partial(book.groups, viewer.account.id))
        return _form_page(request, viewer, groups, values, contact=contact, error=exc)
    return redirect(request, "/contacts", f"Saved {saved.name}.")


@router.post("/contacts/{contact_id:int}/delete")
async def delete_contact(request: Request, viewer: ViewerDep, contact_id: int) -> Response:
    """Delete a contact."""
    await _posted(request, viewer)
    gone = await run(partial(book_of(viewer).remove, viewer.account.id, contact_id))
    return redirect(request, "/contacts", f"Deleted {gone.name}.")


# Groups


@router.post("/contacts/groups")
async def add_group(request: Request, viewer: ViewerDep) -> Response:
    """Create a group, then show it (to add its members)."""
    form = await _posted(request, viewer)
    name = form.get("name", [""])[-1]
    book = book_of(viewer)
    try:
        made = await run(partial(book.add_group, viewer.account.id, name, now=viewer.now()))
    except ContactError as exc:
        return redirect(request, "/contacts#groups", said(exc), "error")
    return redirect(request, f"/contacts/groups/{made.id}", f"Created the group {made.name}.")


def _group_page(viewer: Viewer, group_id: int, q: str) -> dict[str, Any]:
    book = book_of(viewer)
    account_id = viewer.account.id
    group = book.group(account_id, group_id)
    if group is None:
        raise NotFoundError("there is no such group: it may have been deleted")
    groups = book.groups(account_id)
    members = book.members(account_id, group_id)
    inside = set(group.member_ids)
    others = [c for c in book.contacts(account_id, q, limit=500) if c.id not in inside]
    return {
        "group": group,
        "members": _shown(book, viewer, members, groups),
        "candidates": _shown(book, viewer, others[:CANDIDATES], groups),
        "more_candidates": len(others) > CANDIDATES,
    }


@router.get("/contacts/groups/{group_id:int}")
async def group_page(request: Request, viewer: ViewerDep, group_id: int) -> Response:
    """A group: its members, and contacts to add (``?q=`` finds them)."""
    q = request.query_params.get("q", "").strip()[:MAX_QUERY_CHARS]
    found = await run(partial(_group_page, viewer, group_id, q))
    title = found["group"].name
    return page(request, "contacts_group.html", viewer, title=title, nav="contacts", q=q, **found)


@router.post("/contacts/groups/{group_id:int}/{action}")
async def change_group(request: Request, viewer: ViewerDep, group_id: int, action: str) -> Response:
    """Rename, delete, or add or remove members (the ticked ``contact`` ids)."""
    form = await _posted(request, viewer)
    book = book_of(viewer)
    account_id = viewer.account.id
    back = f"/contacts/groups/{group_id}"
    ticked = _ids(form.get("contact", []))
    try:
        if action == "rename":
            renamed = await run(
                partial(book.rename_group, account_id, group_id, form.get("name", [""])[-1])
            )
            return redirect(request, back, f"Renamed the group to {renamed.name}.")
        if action == "delete":
            gone = await run(partial(book.remove_group, account_id, group_id))
            return redirect(request, "/contacts", f"Deleted the group {gone.name}.")
        if action == "add":
            await run(partial(book.add_to_group, account_id, group_id, ticked))
            return redirect(request, back, _counted(len(ticked), "added to the group"))
        if action == "remove":
            await run(partial(book.remove_from_group, account_id, group_id, ticked))
            return redirect(request, back, _counted(len(ticked), "taken out of the group"))
    except ContactError as exc:
        return redirect(request, back, said(exc), "error")
    raise ConsoleError(404, "There is no such page.")


def _counted(count: int, what: str) -> str:
    if count == 0:
        return "No contact was ticked: nothing changed."
    return f"{count} contact{'' if count == 1 else 's'} {what}."
