"""A console in this process (``tests.intake.apiapp``) and a browser-like client signed in."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from starlette.testclient import TestClient

from tests.intake.apiapp import PASSWORD, USER, InProcess, in_process

CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The CSRF token a page's forms carry."""
    found = CSRF.search(html)
    assert found, "the page has no form with a CSRF token"
    return found.group(1)


def sign_in(client: TestClient, username: str = USER, password: str = PASSWORD) -> str:
    """Sign ``client`` in through the form; the session's CSRF token."""
    token = csrf_of(client.get("/login").text)
    answer = client.post(
        "/login",
        data={"username": username, "password": password, "csrf": token},
        follow_redirects=False,
    )
    assert answer.status_code == 303, answer.text
    return csrf_of(client.get("/").text)


@contextmanager
def console(tmp: Path, *, signed_in: bool = True) -> Iterator[tuple[InProcess, TestClient, str]]:
    """The app, a client (signed in as ``USER`` unless told otherwise) and its CSRF token."""
    made = in_process(tmp)
    with TestClient(made.app, base_url="http://testserver") as client:
        token = sign_in(client) if signed_in else ""
        yield made, client, token
