"""The accounts, for operators: list, create, allow or stop faxing, reset a password, give or
take the operator role, unlock a throttled sign-in.

The account functions are those of ``faxout user`` (``AccountRepo``, the gateway's password
hashing through ``Authenticator.hash_password``, ``LoginLocks``), so the console and the
command line do the same; a typed password follows the rules of a person changing their own
(``account.check_password``). An operator
may not take their own operator role (nobody would be left to give it back), and resetting
their own password keeps them signed in; anyone else's ends that account's sessions, as the
sessions carry a fingerprint of the password hash.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from typing import Any

import anyio
from fastapi import APIRouter, Request
from starlette.responses import Response

from faxout.accounts.repo import Account, AccountError
from faxout.intake.console.account import MIN_PASSWORD_CHARS, check_password
from faxout.intake.console.admin import unlock_account
from faxout.intake.console.session import Session, unix
from faxout.intake.console.web import (
    ConsoleError,
    Viewer,
    ViewerDep,
    page,
    read_form,
    redirect,
    set_session,
)
from faxout.intake.overview import faxes_per_account
from faxout.jobs.numbers import InvalidNumberError, normalize_username

router = APIRouter(include_in_schema=False)
MAX_FIELD = 320  # the longest an email address may be; every other field is shorter


@dataclass(frozen=True)
class Row:
    """An account in the list, with how many faxes it has submitted."""

    account: Account
    faxes: int


def _rows(viewer: Viewer) -> list[Row]:
    counts = faxes_per_account(viewer.intake.engine)
    return [Row(a, counts.get(a.id, 0)) for a in viewer.api.accounts.list()]


def _new_password(form: dict[str, str], username: str) -> str:
    """What is wrong with the form's ``password`` and ``password2`` (the rules of a person's
    own password change, ``account.check_password``); "" when nothing is."""
    return check_password(form.get("password", ""), form.get("password2", ""), username)


def _list_page(
    request: Request, viewer: Viewer, rows: list[Row], *, status: int = 200, **form: Any
) -> Response:
    return page(
        request,
        "admin_accounts.html",
        viewer,
        status=status,
        title="Accounts",
        nav="admin",
        rows=rows,
        form=form,
        min_password=MIN_PASSWORD_CHARS,
    )


@router.get("/admin/accounts")
async def accounts(request: Request, viewer: ViewerDep) -> Response:
    """Every account, and the form that creates one."""
    viewer.need_operator()
    rows = await anyio.to_thread.run_sync(_rows, viewer)
    return _list_page(request, viewer, rows, fax_allowed=True)


def _create(viewer: Viewer, form: dict[str, str]) -> str | Account:
    """The new account, or what is wrong with the form."""
    try:
        username = normalize_username(form.get("username", ""))
    except InvalidNumberError as exc:
        return str(exc)
    error = _new_password(form, username)
    if error:
        return error
    try:
        return viewer.api.accounts.add(
            username,
            email=form.get("email", ""),
            name=form.get("name", ""),
            password_hash=viewer.intake.authenticator.hash_password(form["password"]),
            fax_prohibited=not form.get("fax_allowed"),
            operator=bool(form.get("operator")),
            now=viewer.now(),
        )
    except (AccountError, InvalidNumberError) as exc:
        return str(exc)


@router.post("/admin/accounts")
async def create(request: Request, viewer: ViewerDep) -> Response:
    """Create an account; the form comes back with what was typed (not the passwords) when
    something is wrong with it."""
    viewer.need_operator()
    form = {k: v[:MAX_FIELD] for k, v in (await read_form(request)).items()}
    viewer.check(form.get("csrf"))
    made = await anyio.to_thread.run_sync(_create, viewer, form)
    if isinstance(made, Account):
        return redirect(request, f"/admin/accounts/{made.username}", f"{made.username} created.")
    rows = await anyio.to_thread.run_sync(_rows, viewer)
    kept = {k: form.get(k, "") for k in ("username", "email", "name")}
    return _list_page(
        request,
        viewer,
        rows,
        status=400,
        error=made,
        fax_allowed=bool(form.get("fax_allowed")),
        operator=bool(form.get("operator")),
        **kept,
    )


def _account(viewer: Viewer, username: str) -> Account:
    account = viewer.api.accounts.get(username)
    if account is None:
        raise ConsoleError(404, f"There is no account {username}.")
    return account


def _account_page(
    request: Request,
    viewer: Viewer,
    account: Account,
    *,
    status: int = 200,
    error: str = "",
    generated: str = "",
) -> Response:
    locks = viewer.api.locks
    held = (
        [x for x in locks.active(viewer.now()) if x.username == account.username] if locks else []
    )
    return page(
        request,
        "admin_account.html",
        viewer,
        status=status,
        title=account.username,
        nav="admin",
        account=account,
        locks=held,
        error=error,
        generated=generated,
        own=account.id == viewer.account.id,
        min_password=MIN_PASSWORD_CHARS,
    )


@router.get("/admin/accounts/{username}")
async def account_page(request: Request, viewer: ViewerDep, username: str) -> Response:
    """One account: its settings and the operator's actions on it."""
    viewer.need_operator()
    account = await anyio.to_thread.run_sync(_account, viewer, username)
    return _account_page(request, viewer, account)


async def _change(
    request: Request, viewer: Viewer, username: str
) -> tuple[Account, dict[str, str]]:
    """The account an action is on, and the action's checked form."""
    viewer.need_operator()
    form = await read_form(request)
    viewer.check(form.get("csrf"))
    return await anyio.to_thread.run_sync(_account, viewer, username), form


@router.post("/admin/accounts/{username}/fax")
async def fax(request: Request, viewer: ViewerDep, username: str) -> Response:
    """Allow (``allowed=1``) or stop the account's faxing (its sign-in is kept)."""
    account, form = await _change(request, viewer, username)
    allowed = form.get("allowed") == "1"
    await anyio.to_thread.run_sync(
        lambda: viewer.api.accounts.update(
            account.username, fax_prohibited=not allowed, now=viewer.now()
        )
    )
    said = "may send faxes again" if allowed else "may no longer send faxes"
    return redirect(request, f"/admin/accounts/{account.username}", f"{account.username} {said}.")


@router.post("/admin/accounts/{username}/operator")
async def operator(request: Request, viewer: ViewerDep, username: str) -> Response:
    """Give (``operator=1``) or take the operator role; never one's own."""
    account, form = await _change(request, viewer, username)
    give = form.get("operator") == "1"
    back = f"/admin/accounts/{account.username}"
    if not give and account.id == viewer.account.id:
        return redirect(
            request, back, "You cannot take your own operator role: ask another operator.", "error"
        )
    await anyio.to_thread.run_sync(
        lambda: viewer.api.accounts.update(account.username, operator=give, now=viewer.now())
    )
    said = "is an operator now" if give else "is no longer an operator"
    return redirect(request, back, f"{account.username} {said}.")


@router.post("/admin/accounts/{username}/password")
async def password(request: Request, viewer: ViewerDep, username: str) -> Response:
    """Set a new password: the one typed twice, or (``generate=1``) one made here and shown
    this once (in the answer itself, never in a cookie or a URL). The account's other sessions
    end; an operator resetting their own stays signed in."""
    account, form = await _change(request, viewer, username)
    if form.get("generate") == "1":
        new, error = secrets.token_urlsafe(12), ""
    else:
        new, error = form.get("password", ""), _new_password(form, account.username)
    if error:
        return _account_page(request, viewer, account, status=400, error=error)
    hashed = await anyio.to_thread.run_sync(viewer.intake.authenticator.hash_password, new)
    changed = await anyio.to_thread.run_sync(
        lambda: viewer.api.accounts.update(account.username, password_hash=hashed, now=viewer.now())
    )
    if changed.id == viewer.account.id:
        now = unix(viewer.now())
        set_session(request, Session.anonymous().signed_in_as(changed.id, hashed, now))
    if form.get("generate") == "1":
        return _account_page(request, viewer, changed, generated=new)
    return redirect(
        request, f"/admin/accounts/{account.username}", f"{account.username} has a new password."
    )


@router.post("/admin/accounts/{username}/unlock")
async def unlock(request: Request, viewer: ViewerDep, username: str) -> Response:
    """Lift the account's login locks."""
    account, _ = await _change(request, viewer, username)
    text, kind = await anyio.to_thread.run_sync(unlock_account, viewer, account.username)
    return redirect(request, f"/admin/accounts/{account.username}", text, kind)
