"""Which rows name a document-store key: the one answer to "is this blob still referenced".

The store is content-addressed (``faxout.blobs.store``): the same bytes uploaded twice, a fax
resent from another's documents, a received fax sent on, all share one key. So a key may be
removed only once no row names it any more. Whoever removes blobs (deleting a received fax,
retention) asks here, so a new column that holds keys is added in one place: ``HOLDERS``.

A purged submission's ``documents`` rows keep their key (the column is NOT NULL, and the key
is the SHA-256 of what was sent, a fact): they hold nothing once ``submissions.purged_at`` is
set. Every other holder's key is cleared when its bytes go.

Ask inside the transaction that drops the rows' own references, and remove the blob before it
commits or right after: the answer is only as fresh as the statement that gave it (a new row
naming the same bytes, committed in between, is not seen).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import Column, Connection, Select, select, union

from faxout.db.tables import documents, inbound_faxes, jobs, submissions

# Every column that holds a key (a documents row only while its submission is not purged).
HOLDERS: tuple[Column[Any], ...] = (
    inbound_faxes.c.blob_key,
    documents.c.blob_key,
    submissions.c.rendered_key,
    jobs.c.rendered_key,
    jobs.c.cover_key,
)
_BATCH = 500  # keys per IN (...): well under every engine's limit on bound parameters


def _held(column: Column[Any], keys: list[str]) -> Select[Any]:
    query = select(column.label("key")).where(column.in_(keys))
    if column is not documents.c.blob_key:
        return query
    # The submission's purged_at per document found by key (a correlated lookup by primary
    # key): as a join, an engine may walk every live submission's documents instead.
    purged = (
        select(submissions.c.purged_at)
        .where(submissions.c.id == documents.c.submission_id)
        .scalar_subquery()
    )
    return query.where(purged.is_(None))


def held_keys(conn: Connection, keys: Iterable[str]) -> set[str]:
    """Those of ``keys`` that some row still names."""
    wanted = sorted(set(keys))
    held: set[str] = set()
    for start in range(0, len(wanted), _BATCH):
        chunk = wanted[start : start + _BATCH]
        query = union(*(_held(column, chunk) for column in HOLDERS))
        held.update(conn.execute(query).scalars())
    return held


def unreferenced(conn: Connection, keys: Iterable[str]) -> set[str]:
    """Those of ``keys`` that no row names: safe to remove from the store now."""
    wanted = set(keys)
    return wanted - held_keys(conn, wanted)
