"""The console's pages: each module's router. A new page adds its module here."""

from __future__ import annotations

from fastapi import APIRouter


def routers() -> list[APIRouter]:
    """Every page's router, in the order their paths are matched."""
    # Imported here, not at the top: the page modules import the status API, which imports
    # the intake's services, which import the console's settings (this package).
    from faxout.intake.console import (
        account,
        admin,
        admin_accounts,
        contactfiles,
        contacts,
        fax,
        faxpages,
        inbox,
        outbox,
        received,
        send,
        signin,
    )

    return [
        signin.router,
        outbox.router,
        inbox.router,
        received.router,
        account.router,
        contacts.router,
        contactfiles.router,
        send.router,
        fax.router,
        faxpages.router,
        admin.router,
        admin_accounts.router,
    ]
