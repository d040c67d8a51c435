"""``accept``: what the intake does for one submission (documents fsynced, rows committed),
for tests that need accepted submissions without going through HTTP."""

from __future__ import annotations

from sqlalchemy import Engine

from faxout.db.engine import transaction
from faxout.jobs.create import NewSubmission, insert_submissions, store_documents


def accept(engine: Engine, sub: NewSubmission) -> int:
    """Make ``sub`` durable as the group committer does, in a transaction of its own; its id."""
    keys = store_documents(sub)
    with transaction(engine) as conn:
        return insert_submissions(conn, [(sub, keys)])[0]
