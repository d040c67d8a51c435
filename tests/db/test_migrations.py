"""Alembic migrations run on SQLite and PostgreSQL, both ways, and end at the tables' schema."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, func, insert, inspect, select

from faxout.db import migrate
from faxout.db.engine import make_engine
from faxout.db.tables import metadata


def _tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names()) - {"alembic_version"}


def _diff(engine: Engine, *, server_defaults: bool = False) -> list[Any]:
    opts = {"compare_type": True, "compare_server_default": server_defaults}
    with engine.connect() as conn:
        context = MigrationContext.configure(conn, opts=opts)
        return list(compare_metadata(context, metadata))


def _revisions() -> list[str]:
    """Every revision, oldest first."""
    script = ScriptDirectory.from_config(migrate._config())
    return [rev.revision for rev in reversed(list(script.walk_revisions()))]


def test_up_down_up(empty_engine: Engine) -> None:
    assert migrate.current_revision(empty_engine) is None

    migrate.upgrade(empty_engine)
    assert migrate.current_revision(empty_engine) == migrate.head_revision()
    assert _tables(empty_engine) == set(metadata.tables)

    migrate.downgrade(empty_engine, "base")
    assert migrate.current_revision(empty_engine) is None
    assert _tables(empty_engine) == set()

    migrate.upgrade(empty_engine)
    assert migrate.current_revision(empty_engine) == migrate.head_revision()
    assert _tables(empty_engine) == set(metadata.tables)


def test_each_revision_steps_up_down_up(empty_engine: Engine) -> None:
    revisions = _revisions()
    assert revisions[-1] == migrate.head_revision()
    for rev in revisions:
        migrate.upgrade(empty_engine, rev)
        assert migrate.current_revision(empty_engine) == rev
        migrate.downgrade(empty_engine, "-1")
        migrate.upgrade(empty_engine, rev)
        assert migrate.current_revision(empty_engine) == rev


def test_upgrade_again_is_a_no_op(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)
    migrate.upgrade(empty_engine)
    assert migrate.current_revision(empty_engine) == migrate.head_revision()


def test_migrated_schema_matches_the_tables(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)
    assert _diff(empty_engine) == []


def test_schema_matches_after_down_and_up(empty_engine: Engine) -> None:
    migrate.upgrade(empty_engine)
    migrate.downgrade(empty_engine, "base")
    migrate.upgrade(empty_engine)
    assert _diff(empty_engine) == []


def test_server_defaults_match_on_postgresql(pg_url: str) -> None:
    """Server defaults too (PostgreSQL only: on SQLite alembic misreads ``''`` defaults)."""
    engine = make_engine(pg_url)
    try:
        migrate.upgrade(engine)
        assert _diff(engine, server_defaults=True) == []
    finally:
        engine.dispose()


def test_upgrading_to_head_keeps_every_row(empty_engine: Engine) -> None:
    """Rows written at the previous revision are all there after the upgrade to the newest:
    no migration may lose an accepted fax (a SQLite batch that drops and recreates a table
    cascades to every row that references it)."""
    from faxout.db.engine import transaction
    from faxout.db.tables import accounts, attempts, documents, jobs, outbox, submissions
    from tests.db.records import NOW

    # Rows are written with plain inserts: today's code may need tables the old schema lacks.
    migrate.upgrade(empty_engine, _revisions()[-2])
    with transaction(empty_engine) as conn:
        account_id = conn.execute(
            insert(accounts).values(
                username="15550100000", email="a@example.com", name="", password_hash="x",
                fax_prohibited=False, created_at=NOW, updated_at=NOW,
            ).returning(accounts.c.id)
        ).scalar_one()  # fmt: skip
        sid = conn.execute(
            insert(submissions).values(
                account_id=account_id, state="accepted", resolution="fine", cover_page="none",
                cover_text="", send_at=NOW, notes="[]", request_id="r1", client_addr="",
                created_at=NOW,
            ).returning(submissions.c.id)
        ).scalar_one()  # fmt: skip
        conn.execute(
            insert(documents).values(
                submission_id=sid, seq=1, filename="a.txt", content_type="text/plain",
                blob_key="k", size=5,
            )
        )  # fmt: skip
        job_id = conn.execute(
            insert(jobs).values(
                submission_id=sid, seq=1, number="15550123456", name="", state="accepted",
                send_at=NOW, dials=0, tries=0, version=0, created_at=NOW, updated_at=NOW,
            ).returning(jobs.c.id)
        ).scalar_one()  # fmt: skip
        conn.execute(
            insert(attempts).values(
                job_id=job_id, attempt_no=1, phase="finished", worker="w", transport="simline",
                first_page=1, outcome="ok", claimed_at=NOW,
            )
        )  # fmt: skip
        conn.execute(
            insert(outbox).values(
                submission_id=sid, kind="final", ref="", state="pending", tries=0,
                last_error="", created_at=NOW, updated_at=NOW,
            )
        )  # fmt: skip
    present = _tables(empty_engine)
    before = _counts(empty_engine, present)
    filled = {"accounts", "submissions", "documents", "jobs", "attempts", "outbox"}
    assert all(before[name] for name in filled), before
    migrate.upgrade(empty_engine)
    assert _counts(empty_engine, present) == before


def _counts(engine: Engine, names: set[str]) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            name: conn.execute(select(func.count()).select_from(metadata.tables[name])).scalar_one()
            for name in names
        }
