"""``create_once`` under concurrent requests with one Idempotency-Key, on SQLite and PostgreSQL:
one submission, every request answered with it; another body is refused; a day later the key
is free again."""

from __future__ import annotations

import threading
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import Engine

from faxout.blobs.memory import MemoryBlobStore
from faxout.db.tables import idempotency_keys, submissions
from faxout.jobs.create import Created, KeyReused, create_once, store_documents
from tests.db.records import NOW, add_account, count_rows, new_submission


def test_one_submission_for_many_requests_at_once(engine: Engine) -> None:
    account = add_account(engine)
    store = MemoryBlobStore()
    answers: list[Created | KeyReused] = []
    barrier = threading.Barrier(6)

    def request() -> None:
        sub = new_submission(account.id, store)
        keys = store_documents(sub)
        barrier.wait()
        answers.append(create_once(engine, sub, keys, key="k", request_hash="h"))

    threads = [threading.Thread(target=request) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(answers) == 6 and all(isinstance(a, Created) for a in answers)
    assert len({a.submission_id for a in answers}) == 1
    assert sorted(a.replayed for a in answers if isinstance(a, Created)) == [False] + [True] * 5
    assert count_rows(engine, submissions) == 1 and count_rows(engine, idempotency_keys) == 1


def test_another_body_is_refused_and_a_day_later_the_key_is_free(engine: Engine) -> None:
    account = add_account(engine)
    store = MemoryBlobStore()
    sub = new_submission(account.id, store)
    first = create_once(engine, sub, store_documents(sub), key="k", request_hash="h1")
    assert isinstance(first, Created) and not first.replayed
    other = new_submission(account.id, store)
    refused = create_once(engine, other, store_documents(other), key="k", request_hash="h2")
    assert refused == KeyReused(first.submission_id)
    later = replace(other, accepted_at=NOW + timedelta(hours=25))
    fresh = create_once(engine, later, store_documents(later), key="k", request_hash="h2")
    assert isinstance(fresh, Created) and not fresh.replayed
    assert fresh.submission_id != first.submission_id
