"""The same repository and acceptance behaviour on SQLite and PostgreSQL (one suite, both engines)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, select, text

from faxout.accounts.repo import AccountError, AccountRepo
from faxout.blobs.memory import MemoryBlobStore
from faxout.db.engine import transaction
from faxout.db.tables import accounts, documents, jobs, submissions
from faxout.errors import DatabaseError
from faxout.jobs.create import insert_submissions
from faxout.jobs.model import JobState, Resolution, SubmissionState
from faxout.jobs.repo import JobRepo
from tests.accepting import accept
from tests.db.records import NOW, THREADS, add_account, count_rows, new_submission


class TestAccountRepo:
    def test_add_then_get(self, engine: Engine) -> None:
        added = add_account(engine, "+1 (555) 123-0000")
        assert added.username == "15551230000"
        got = AccountRepo(engine).get("15551230000")
        assert got == added
        assert got.created_at == NOW
        assert got.created_at.tzinfo is not None
        assert got.fax_prohibited is False
        assert AccountRepo(engine).get("15550000000") is None

    def test_duplicate_username_is_refused(self, engine: Engine) -> None:
        add_account(engine)
        with pytest.raises(AccountError, match="already exists"):
            add_account(engine, "1-555-123-0000")
        assert AccountRepo(engine).count() == 1

    def test_update_changes_only_given_fields(self, engine: Engine) -> None:
        add_account(engine)
        repo = AccountRepo(engine)
        later = NOW + timedelta(hours=1)
        updated = repo.update("15551230000", now=later, fax_prohibited=True, name=" New ")
        assert updated.fax_prohibited is True
        assert updated.name == "New"
        assert updated.email == "sender@example.com"
        with engine.connect() as conn:
            row = conn.execute(select(accounts.c.updated_at, accounts.c.created_at)).one()
        assert row.updated_at == later
        assert row.created_at == NOW

    def test_update_unknown_account(self, engine: Engine) -> None:
        with pytest.raises(AccountError, match="no account"):
            AccountRepo(engine).update("15550000000", now=NOW, name="x")

    def test_list_andcount_rows(self, engine: Engine) -> None:
        for user in ("15553", "15551", "15552"):
            add_account(engine, user)
        repo = AccountRepo(engine)
        assert [a.username for a in repo.list()] == ["15551", "15552", "15553"]
        assert repo.count() == 3

    def test_remove(self, engine: Engine) -> None:
        add_account(engine)
        repo = AccountRepo(engine)
        repo.remove("15551230000")
        assert repo.get("15551230000") is None
        with pytest.raises(AccountError, match="no account"):
            repo.remove("15551230000")

    def test_remove_refused_once_it_has_submitted(self, engine: Engine) -> None:
        account = add_account(engine)
        accept(engine, new_submission(account.id, MemoryBlobStore()))
        with pytest.raises(AccountError, match="fax-prohibited"):
            AccountRepo(engine).remove(account.username)
        assert AccountRepo(engine).get(account.username) is not None


class TestAccept:
    def test_accept_stores_submission_documents_and_jobs(self, engine: Engine) -> None:
        account = add_account(engine)
        store = MemoryBlobStore()
        send_at = NOW + timedelta(days=3)
        sub_id = accept(engine, new_submission(account.id, store, send_at=send_at, recipients=3))

        view = JobRepo(engine).get_submission(sub_id)
        assert view is not None
        assert view.state == SubmissionState.ACCEPTED
        assert view.username == account.username
        assert view.resolution == Resolution.HIGH
        assert view.cover_text == "Hello — ünïcode ✓"
        assert view.notes == ["a note"]
        assert view.send_at == send_at
        assert view.created_at == NOW
        assert [(d.seq, d.filename, d.size) for d in view.documents] == [
            (1, "doc1.pdf", 14),
            (2, "doc2.pdf", 15),
        ]
        assert all(store.exists(d.blob_key) for d in view.documents)
        assert [(j.seq, j.number, j.name, j.state) for j in view.jobs] == [
            (i + 1, f"+1555000{i:04d}", f"Rcpt {i}", JobState.ACCEPTED) for i in range(3)
        ]
        assert all(j.send_at == send_at and j.dials == 0 for j in view.jobs)

    def test_ids_are_distinct_and_jobs_listed_newest_first(self, engine: Engine) -> None:
        account = add_account(engine)
        store = MemoryBlobStore()
        first = accept(engine, new_submission(account.id, store, request_id="a"))
        second = accept(engine, new_submission(account.id, store, request_id="b"))
        assert first != second
        listed = JobRepo(engine).list_jobs()
        assert [j.submission_id for j in listed] == [second, second, first, first]

    def test_batch_insert_in_one_transaction(self, engine: Engine) -> None:
        account = add_account(engine)
        store = MemoryBlobStore()
        subs = [new_submission(account.id, store, request_id=f"r{i}") for i in range(5)]
        with transaction(engine) as conn:
            ids = insert_submissions(
                conn, [(s, [d.upload.commit() for d in s.documents]) for s in subs]
            )
        assert len(set(ids)) == 5
        assert ids == sorted(ids)
        for sub_id, sub in zip(ids, subs, strict=True):
            view = JobRepo(engine).get_submission(sub_id)
            assert view is not None
            assert view.request_id == sub.request_id
        assert count_rows(engine, jobs) == 10
        assert count_rows(engine, documents) == 10

    def test_failed_acceptance_commits_nothing(self, engine: Engine) -> None:
        add_account(engine)
        with pytest.raises(DatabaseError):
            accept(engine, new_submission(999_999, MemoryBlobStore()))  # no such account: FK
        assert count_rows(engine, submissions) == 0
        assert count_rows(engine, jobs) == 0
        assert count_rows(engine, documents) == 0

    def test_error_inside_transaction_rolls_back(self, engine: Engine) -> None:
        account = add_account(engine)
        with pytest.raises(RuntimeError), transaction(engine) as conn:
            insert_submissions(
                conn, [(new_submission(account.id, MemoryBlobStore()), ["k1", "k2"])]
            )
            raise RuntimeError("boom")
        assert count_rows(engine, submissions) == 0

    @pytest.mark.parametrize("field", ["sendtime_raw", "content_type"])
    def test_long_client_strings_are_accepted(
        self, engine: Engine, field: str, request: pytest.FixtureRequest
    ) -> None:
        """Client-supplied text longer than its VARCHAR: SQLite ignores lengths, PostgreSQL not."""
        account = add_account(engine)
        sub = new_submission(account.id, MemoryBlobStore())
        if field == "sendtime_raw":
            sub.sendtime_raw = "26:11:26 20:00 " + "x" * 300
        else:
            sub.documents[0].content_type = "application/" + "x" * 300
        sub_id = accept(engine, sub)
        view = JobRepo(engine).get_submission(sub_id)
        assert view is not None

    def test_concurrent_acceptances_all_commit(self, engine: Engine) -> None:
        account = add_account(engine)
        store = MemoryBlobStore()
        per_thread = 10
        barrier = threading.Barrier(THREADS)

        def worker(t: int) -> list[int]:
            subs = [
                new_submission(
                    account.id, store, request_id=f"t{t}-{i}", docs=(f"{t}/{i}".encode(),)
                )
                for i in range(per_thread)
            ]
            barrier.wait(timeout=30)
            return [accept(engine, sub) for sub in subs]

        with ThreadPoolExecutor(THREADS) as pool:
            results = list(pool.map(worker, range(THREADS)))

        ids = [i for chunk in results for i in chunk]
        assert len(set(ids)) == THREADS * per_thread
        assert count_rows(engine, submissions) == THREADS * per_thread
        assert count_rows(engine, jobs) == THREADS * per_thread * 2
        with engine.connect() as conn:
            request_ids = set(conn.execute(select(submissions.c.request_id)).scalars())
        assert request_ids == {f"t{t}-{i}" for t in range(THREADS) for i in range(per_thread)}


class TestDateTimes:
    @pytest.mark.parametrize(
        "moment",
        [
            NOW,
            datetime(2026, 3, 29, 1, 30, 0, 1, tzinfo=timezone(timedelta(hours=5, minutes=30))),
            datetime(2026, 10, 25, 2, 59, 59, 999999, tzinfo=timezone(timedelta(hours=-7))),
            datetime(2099, 12, 31, 23, 59, 59, tzinfo=UTC),
            datetime(1970, 1, 1, tzinfo=UTC),
        ],
        ids=["utc", "plus0530", "minus07", "far-future", "epoch"],
    )
    def test_aware_datetimes_round_trip_as_utc(self, engine: Engine, moment: datetime) -> None:
        account = AccountRepo(engine).add(
            "15551230000", email="a@example.com", password_hash="h", now=moment
        )
        assert account.created_at == moment
        assert account.created_at.utcoffset() == timedelta(0)
        assert account.created_at.tzinfo is UTC or account.created_at.tzname() == "UTC"
        assert account.created_at.astimezone(UTC).replace(tzinfo=None) == moment.astimezone(
            UTC
        ).replace(tzinfo=None)

    def test_round_trip_ignores_the_session_time_zone(self, engine: Engine) -> None:
        """A PostgreSQL session in another zone (a server's default) changes nothing."""
        with engine.connect() as conn:
            if engine.dialect.name == "postgresql":
                conn.execute(text("SET TIME ZONE 'America/New_York'"))
            conn.execute(
                accounts.insert().values(
                    username="1555",
                    email="a@example.com",
                    name="",
                    password_hash="h",
                    fax_prohibited=False,
                    created_at=NOW,
                    updated_at=NOW,
                )
            )
            conn.commit()
            got = conn.execute(select(accounts.c.created_at)).scalar_one()
        assert got == NOW
        assert got.utcoffset() == timedelta(0)

    def test_comparisons_in_sql_use_the_instant(self, engine: Engine) -> None:
        account = add_account(engine)
        store = MemoryBlobStore()
        early = NOW.astimezone(timezone(timedelta(hours=9)))  # same instant, other offset
        accept(engine, new_submission(account.id, store, request_id="due", send_at=early))
        accept(
            engine,
            new_submission(
                account.id, store, request_id="later", send_at=NOW + timedelta(seconds=1)
            ),
        )
        with engine.connect() as conn:
            due = conn.execute(
                select(submissions.c.request_id).where(submissions.c.send_at <= NOW)
            ).scalars()
            assert list(due) == ["due"]

    def test_naive_datetime_is_refused(self, engine: Engine) -> None:
        with pytest.raises(DatabaseError, match="naive"):
            AccountRepo(engine).add(
                "15551230000", email="a@example.com", password_hash="h", now=datetime(2026, 1, 1)
            )
        assert AccountRepo(engine).count() == 0
