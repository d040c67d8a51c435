"""``FaxFilter`` on SQLite and PostgreSQL: the SQL fax state agrees with the status API's own
rule (``views.fax_state``) for every mix of submission and job states; labels are stored with
the submission and read back; the other filters narrow the list."""

from __future__ import annotations

import itertools
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import Engine, update

from faxout.blobs.memory import MemoryBlobStore
from faxout.db.engine import transaction
from faxout.db.tables import jobs, submissions
from faxout.intake.api.views import fax_state, recipient_state
from faxout.jobs.create import insert_submissions, store_documents
from faxout.jobs.model import JobState, SubmissionState
from faxout.jobs.repo import FAX_STATES, FaxFilter, JobRepo
from tests.db.records import NOW, add_account, new_submission

# (job state, pages confirmed): every recipient state the API tells apart at the fax level.
JOB_KINDS = [
    (JobState.READY, 0),
    (JobState.DIALING, 0),
    (JobState.DONE, 2),
    (JobState.FAILED, 0),
    (JobState.FAILED, 1),
    (JobState.INTERRUPTED, 0),
    (JobState.CANCELED, 0),
    (JobState.RENDER_FAILED, 0),
]


def _make(engine: Engine, store: MemoryBlobStore, account_id: int, n: int) -> int:
    sub = new_submission(account_id, store, recipients=n)
    keys = store_documents(sub)
    with transaction(engine) as conn:
        return insert_submissions(conn, [(sub, keys)])[0]


def test_the_sql_fax_state_is_the_api_fax_state(engine: Engine) -> None:
    account = add_account(engine)
    store = MemoryBlobStore()
    repo = JobRepo(engine)
    cases: list[tuple[SubmissionState, tuple[tuple[JobState, int], ...]]] = []
    for sub_state in (SubmissionState.ACCEPTED, SubmissionState.RENDERING):
        cases.append((sub_state, ((JobState.ACCEPTED, 0),)))
        # Canceled while its rendering was under way: canceled, not rendering.
        cases.append((sub_state, ((JobState.CANCELED, 0),)))
        cases.append((sub_state, ((JobState.CANCELED, 0), (JobState.ACCEPTED, 0))))
    cases.append((SubmissionState.RENDER_FAILED, ((JobState.RENDER_FAILED, 0),)))
    for pair in itertools.combinations_with_replacement(JOB_KINDS, 2):
        cases.append((SubmissionState.READY, pair))
    expected: dict[int, str] = {}
    for sub_state, kinds in cases:
        sid = _make(engine, store, account.id, len(kinds))
        with transaction(engine) as conn:
            conn.execute(update(submissions).where(submissions.c.id == sid).values(state=sub_state))
            for seq, (state, pages) in enumerate(kinds, 1):
                conn.execute(
                    update(jobs)
                    .where(jobs.c.submission_id == sid, jobs.c.seq == seq)
                    .values(state=state, pages_confirmed=pages)
                )
        view = repo.get_submission(sid)
        assert view is not None
        expected[sid] = fax_state(view, [recipient_state(j, NOW) for j in view.jobs])
    assert set(expected.values()) == set(FAX_STATES)  # every state is exercised
    assert expected[min(expected) + 1] == "canceled"
    for state in FAX_STATES:
        found = repo.submission_ids(account.username, limit=1000, only=FaxFilter(states=(state,)))
        assert sorted(found) == sorted(i for i, s in expected.items() if s == state), state
    both = repo.submission_ids(
        account.username, limit=1000, only=FaxFilter(states=("delivered", "canceled"))
    )
    assert sorted(both) == sorted(i for i, s in expected.items() if s in ("delivered", "canceled"))


def test_labels_are_kept_with_the_submission_and_filter_the_list(engine: Engine) -> None:
    account = add_account(engine)
    store = MemoryBlobStore()
    repo = JobRepo(engine)
    base = new_submission(account.id, store)
    subs = [
        replace(base, labels={"order": "4711", "team": "billing"}),
        replace(base, labels={"order": "4712", "team": "billing"}),
        replace(base, labels={}, accepted_at=NOW + timedelta(hours=1)),
    ]
    keys = store_documents(base)
    with transaction(engine) as conn:
        ids = insert_submissions(conn, [(s, keys) for s in subs])
    view = repo.get_submission(ids[0])
    assert view is not None and view.labels == {"order": "4711", "team": "billing"}
    got = repo.get_submission(ids[2])
    assert got is not None and got.labels == {}

    def listed(only: FaxFilter) -> list[int]:
        return repo.submission_ids(account.username, only=only)

    assert listed(FaxFilter(labels=(("team", "billing"),))) == ids[1::-1]
    assert listed(FaxFilter(labels=(("team", "billing"), ("order", "4712")))) == [ids[1]]
    assert listed(FaxFilter(labels=(("team", "sales"),))) == []
    assert listed(FaxFilter(number="+15550000001")) == ids[::-1]
    assert listed(FaxFilter(number="+15550009999")) == []
    assert listed(FaxFilter(created_after=NOW + timedelta(minutes=1))) == [ids[2]]
    assert listed(FaxFilter(created_before=NOW + timedelta(minutes=1))) == ids[1::-1]
    page = repo.submission_ids(
        account.username, limit=1, before=ids[1], only=FaxFilter(labels=(("team", "billing"),))
    )
    assert page == [ids[0]]  # the cursor goes on within the filter
