"""Creation: the one place a request becomes a durable submission and its jobs.

Guarantee (docs/guarantees.md): once ``store_documents`` has returned and ``insert_submissions``
has been committed (``faxout.intake.committer`` does both), (1) every document's bytes are fsynced
in the document store under their content key, and (2) the submission, its documents and one job
per recipient are committed in a single database transaction (SQLite: WAL, ``synchronous=FULL``).
The caller answers ``0`` only after that, so a crash one millisecond after the answer loses
nothing. A failure at any step raises and nothing is committed: blobs stored before a failed
commit are unreferenced and harmless (content-addressed, reused by a later identical upload).

What is stored is bounded here, whoever built the ``NewSubmission``:

- a send time more than ``MAX_SEND_AHEAD`` (366 days) after acceptance is refused: the FaxOut
  contract treats an unusable ``Sendtime`` as "now", so the fax is sent at once, with a note. No
  stored time can then lie so far ahead that adding a kill time or a retry delay overflows.
- notes: each cut to ``MAX_NOTE_CHARS``; at most ``MAX_NOTES`` of them and ``MAX_NOTES_BYTES``
  in all, then one "and N more" note. A request full of invalid recipients otherwise stored a
  note per recipient, each quoting its whole value.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, insert, select
from sqlalchemy.exc import IntegrityError

from faxout.blobs.store import Upload
from faxout.db.engine import reading, transaction
from faxout.db.tables import documents, idempotency_keys, jobs, submission_labels, submissions
from faxout.errors import DatabaseError
from faxout.jobs.events import Event, emit_for_faxes
from faxout.jobs.model import JobState, Resolution, SubmissionState
from faxout.jobs.numbers import Recipient
from faxout.text import quoted

MAX_SEND_AHEAD = timedelta(days=366)
MAX_NOTES = 50
MAX_NOTE_CHARS = 300
MAX_NOTES_BYTES = 16 * 1024


@dataclass
class NewDocument:
    """A document to keep with the submission."""

    filename: str
    content_type: str
    upload: Upload


@dataclass
class NewSubmission:
    """Everything an accepted request consists of."""

    account_id: int
    recipients: list[Recipient]
    documents: list[NewDocument]
    resolution: Resolution
    cover_page: str
    cover_text: str
    send_at: datetime
    sendtime_raw: str | None
    notes: list[str]
    request_id: str
    client_addr: str
    accepted_at: datetime
    # Free key/value pairs a program filters its faxes by (checked by the API; none from FaxOut).
    labels: dict[str, str] = field(default_factory=dict)


def settled_send_at(sub: NewSubmission) -> tuple[datetime, str | None]:
    """The send time to store for ``sub``, and a note when the one asked for was refused."""
    if sub.send_at - sub.accepted_at <= MAX_SEND_AHEAD:
        return sub.send_at, None
    asked = sub.sendtime_raw or sub.send_at.isoformat()
    return sub.accepted_at, f"send time {quoted(asked, 40)} is more than a year ahead; sent at once"


def capped_notes(notes: list[str]) -> list[str]:
    """``notes`` as stored: each cut to ``MAX_NOTE_CHARS``, at most ``MAX_NOTES`` of them and
    ``MAX_NOTES_BYTES`` in all, the rest counted in a last note."""
    kept: list[str] = []
    used = 0
    for index, note in enumerate(notes):
        cut = note if len(note) <= MAX_NOTE_CHARS else note[: MAX_NOTE_CHARS - 1] + "…"
        size = len(cut.encode("utf-8", "surrogatepass"))
        if len(kept) == MAX_NOTES or used + size > MAX_NOTES_BYTES:
            rest = len(notes) - index
            kept.append(f"and {rest} more note{'' if rest == 1 else 's'}, not kept")
            break
        kept.append(cut)
        used += size
    return kept


def store_documents(sub: NewSubmission) -> list[str]:
    """Make every document of ``sub`` durable (fsync); their keys. Blocking: run in a thread."""
    return [doc.upload.commit() for doc in sub.documents]


# Built once: a statement object reused keeps its cache key, so SQLAlchemy skips re-deriving it
# (the group committer runs these for every batch; building them anew was a third of its time).
_INSERT_SUBMISSIONS = insert(submissions).returning(submissions.c.id, sort_by_parameter_order=True)
_INSERT_DOCUMENTS = insert(documents)
_INSERT_LABELS = insert(submission_labels)
_INSERT_JOBS = insert(jobs)


def insert_submissions(conn: Connection, subs: list[tuple[NewSubmission, list[str]]]) -> list[int]:
    """Insert several submissions with their documents and jobs; their ids, in order.

    One executemany for the submissions (their ids come back in the order given), then one
    each for all the documents, labels and jobs: the group committer's batches cost a few
    statements, not three per request.
    """
    if not subs:
        return []
    rows: list[dict[str, object]] = []
    settled: list[datetime] = []
    for sub, _keys in subs:
        send_at, refused = settled_send_at(sub)
        settled.append(send_at)
        notes = capped_notes([refused, *sub.notes] if refused else sub.notes)
        rows.append(
            {
                "account_id": sub.account_id,
                "state": SubmissionState.ACCEPTED.value,
                "resolution": sub.resolution.value,
                "cover_page": sub.cover_page,
                "cover_text": sub.cover_text,
                "send_at": send_at,
                # Client text is informational: cut to the column (PostgreSQL enforces it).
                "sendtime_raw": sub.sendtime_raw[:100] if sub.sendtime_raw else None,
                "notes": json.dumps(notes),
                "request_id": sub.request_id,
                "client_addr": sub.client_addr[:64],
                "created_at": sub.accepted_at,
            }
        )
    ids = [int(i) for i in conn.execute(_INSERT_SUBMISSIONS, rows).scalars()]
    doc_rows: list[dict[str, object]] = []
    job_rows: list[dict[str, object]] = []
    label_rows: list[dict[str, object]] = []
    for (sub, keys), sub_id, send_at in zip(subs, ids, settled, strict=True):
        now = sub.accepted_at
        doc_rows += [
            {
                "submission_id": sub_id,
                "seq": seq,
                "filename": doc.filename[:255],
                "content_type": doc.content_type[:200],
                "blob_key": key,
                "size": doc.upload.size,
            }
            for seq, (doc, key) in enumerate(zip(sub.documents, keys, strict=True), 1)
        ]
        job_rows += [
            {
                "submission_id": sub_id,
                "seq": seq,
                "number": rcpt.number,
                "name": rcpt.name[:200],
                "state": JobState.ACCEPTED.value,
                "send_at": send_at,
                "next_attempt_at": None,
                "dials": 0,
                "tries": 0,
                "version": 0,
                "created_at": now,
                "updated_at": now,
            }
            for seq, rcpt in enumerate(sub.recipients, 1)
        ]
        label_rows += [
            {"submission_id": sub_id, "key": key[:64], "value": value[:256]}
            for key, value in sub.labels.items()
        ]
    if doc_rows:
        conn.execute(_INSERT_DOCUMENTS, doc_rows)
    if label_rows:
        conn.execute(_INSERT_LABELS, label_rows)
    if job_rows:
        conn.execute(_INSERT_JOBS, job_rows)
    emit_for_faxes(conn, max(sub.accepted_at for sub, _ in subs), Event.QUEUED, ids)
    return ids


IDEMPOTENCY_WINDOW = timedelta(hours=24)


@dataclass(frozen=True)
class Created:
    """The submission an idempotent request made, or made before (``replayed``)."""

    submission_id: int
    replayed: bool = False


@dataclass(frozen=True)
class KeyReused:
    """The idempotency key was used, within the window, for a different request."""

    submission_id: int


def create_once(
    engine: Engine,
    sub: NewSubmission,
    keys: list[str],
    *,
    key: str,
    request_hash: str,
) -> Created | KeyReused:
    """Insert ``sub`` unless the account used ``key`` in the last 24 hours: then the same
    request (``request_hash``) gets the submission it made then, another one ``KeyReused``.

    Guarantee: however many requests with one key arrive at once, one submission is made. On
    SQLite the transactions take turns; on PostgreSQL the loser's insert of the key fails on
    its unique index after the winner commits, its whole transaction (its submission too) is
    rolled back, and it answers with the winner's submission.
    """
    now = sub.accepted_at
    try:
        with transaction(engine) as conn:
            row = _key_row(conn, sub.account_id, key)
            if row is not None and row.created_at > now - IDEMPOTENCY_WINDOW:
                return _answer(row, request_hash)
            if row is not None:  # used more than a day ago: the key is free again
                conn.execute(delete(idempotency_keys).where(idempotency_keys.c.id == row.id))
            (sub_id,) = insert_submissions(conn, [(sub, keys)])
            conn.execute(
                insert(idempotency_keys).values(
                    account_id=sub.account_id,
                    key=key,
                    request_hash=request_hash,
                    submission_id=sub_id,
                    created_at=now,
                )
            )
            return Created(sub_id)
    except DatabaseError as exc:
        if not isinstance(exc.__cause__, IntegrityError):
            raise
    with reading(engine) as conn:  # a concurrent request with this key committed first
        row = _key_row(conn, sub.account_id, key)
    if row is None:
        raise DatabaseError("idempotency key conflict, but the key is not there")
    return _answer(row, request_hash)


def _key_row(conn: Connection, account_id: int, key: str) -> Any:
    return conn.execute(
        select(idempotency_keys).where(
            idempotency_keys.c.account_id == account_id, idempotency_keys.c.key == key
        )
    ).first()


def _answer(row: Any, request_hash: str) -> Created | KeyReused:
    if row.request_hash != request_hash:
        return KeyReused(int(row.submission_id))
    return Created(int(row.submission_id), replayed=True)
