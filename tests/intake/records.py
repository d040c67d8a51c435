"""Read what the gateway stored, straight from its database and document store."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import select

from faxout.blobs.local import LocalBlobStore
from faxout.db.engine import make_engine
from faxout.db.tables import submissions
from faxout.jobs.repo import JobRepo, SubmissionView


def submission_by_request(data_dir: Path, request_id: str) -> SubmissionView | None:
    engine = make_engine(f"sqlite:///{data_dir / 'faxout.db'}")
    try:
        with engine.connect() as conn:
            sub_id = conn.execute(
                select(submissions.c.id).where(submissions.c.request_id == request_id)
            ).scalar()
        return JobRepo(engine).get_submission(sub_id) if sub_id else None
    finally:
        engine.dispose()


def document_bytes(data_dir: Path, key: str) -> bytes:
    store = LocalBlobStore(data_dir / "documents", data_dir / "spool")
    with store.open(key) as fh:
        return fh.read()
