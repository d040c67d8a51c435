"""Records for the database tests: an account, a submission with documents in a memory store."""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import Engine, Table, func, select

from faxout.accounts.repo import Account, AccountRepo
from faxout.blobs.memory import MemoryBlobStore
from faxout.jobs.create import NewDocument, NewSubmission
from faxout.jobs.model import Resolution
from faxout.jobs.numbers import Recipient

NOW = datetime(2026, 11, 26, 20, 0, 0, 123456, tzinfo=UTC)
THREADS = 8


def add_account(engine: Engine, username: str = "15551230000") -> Account:
    return AccountRepo(engine).add(
        username, email="sender@example.com", password_hash="$argon2id$x", now=NOW, name="Sender"
    )


def new_submission(
    account_id: int,
    store: MemoryBlobStore,
    *,
    request_id: str = "req-1",
    recipients: int = 2,
    send_at: datetime = NOW,
    docs: tuple[bytes, ...] = (b"%PDF-1.4 first", b"second document"),
) -> NewSubmission:
    documents_: list[NewDocument] = []
    for i, body in enumerate(docs, 1):
        upload = store.new_upload()
        upload.write(body)
        documents_.append(NewDocument(f"doc{i}.pdf", "application/pdf", upload))
    return NewSubmission(
        account_id=account_id,
        recipients=[Recipient(f"+1555000{i:04d}", f"Rcpt {i}") for i in range(recipients)],
        documents=documents_,
        resolution=Resolution.HIGH,
        cover_page="default",
        cover_text="Hello — ünïcode ✓",
        send_at=send_at,
        sendtime_raw=None,
        notes=["a note"],
        request_id=request_id,
        client_addr="127.0.0.1",
        accepted_at=NOW,
    )


def count_rows(engine: Engine, table: Table) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table)).scalar_one())
