"""The address-book tests run on SQLite and PostgreSQL, with the database tests' engine."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from faxout.accounts.contacts import AddressBook
from faxout.accounts.repo import Account
from tests.db.conftest import engine
from tests.db.records import add_account

__all__ = ["engine"]


@pytest.fixture
def book(engine: Engine) -> AddressBook:
    return AddressBook(engine)


@pytest.fixture
def account(engine: Engine) -> Account:
    return add_account(engine)
