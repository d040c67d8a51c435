"""The demo account ``faxout serve`` creates on first start, so a newcomer can fax at once."""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass

from faxout.accounts.repo import AccountError
from faxout.ops.gateway import Gateway

DEMO_USERNAME = "15550100000"
DEMO_EMAIL = "demo@localhost"
DEMO_FILE = "demo-account.json"


@dataclass(frozen=True)
class DemoAccount:
    """Credentials of the demo account."""

    username: str
    password: str
    created: bool


def ensure_demo_account(gw: Gateway) -> DemoAccount | None:
    """Create the demo account when there is no account at all; None when it is not in use.

    The password is random and kept (mode 600) in the data directory, so later starts can show it
    again; deleting the account or the file retires it.
    """
    path = gw.settings.data_dir / DEMO_FILE
    if path.is_file():
        data = json.loads(path.read_text())
        if gw.accounts.get(data["username"]) is not None:
            return DemoAccount(data["username"], data["password"], created=False)
        return None
    if not gw.settings.demo_account or gw.accounts.count() > 0:
        return None
    password = secrets.token_urlsafe(12)
    try:
        gw.accounts.add(
            DEMO_USERNAME,
            email=DEMO_EMAIL,
            name="Demo account",
            password_hash=gw.passwords.hash(password),
            now=gw.clock.now(),
        )
    except AccountError:
        return None
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        json.dump({"username": DEMO_USERNAME, "password": password}, fh)
    return DemoAccount(DEMO_USERNAME, password, created=True)
