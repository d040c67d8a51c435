"""The read-only commands answer at once: they load neither the pipeline's libraries nor Alembic,
and still see (and migrate) the schema as before."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from faxout.blobs.memory import MemoryBlobStore
from faxout.db import migrate
from faxout.db.engine import make_engine, transaction
from faxout.jobs.create import insert_submissions, store_documents
from faxout.ops.context import _script_head
from faxout.ops.settings import Settings
from tests.db.records import add_account, new_submission
from tests.server import faxout_env, run_cli

# What `faxout jobs list` took 1.8 s to load: the render and transmit stacks, the task queue, the
# S3 client, password hashing and Alembic (for the schema check).
HEAVY = (
    "numpy",
    "PIL",
    "sippy",
    "pypdfium2",
    "weasyprint",
    "huey",
    "boto3",
    "argon2",
    "alembic",
)
PROBE = (
    "import json, sys\n"
    "from faxout.ops.cli import cli\n"
    "cli(sys.argv[1:], prog_name='faxout', standalone_mode=False)\n"
    "print(json.dumps(sorted({m.partition('.')[0] for m in sys.modules})))\n"
)


@pytest.fixture
def seeded(data_dir: Path) -> int:
    """A migrated data directory with an account and a submission to two numbers; a job id."""
    assert run_cli(data_dir, "migrate").returncode == 0
    engine = make_engine(Settings(data_dir=data_dir).db_url)
    try:
        sub = new_submission(add_account(engine).id, MemoryBlobStore())
        with transaction(engine) as conn:
            (sub_id,) = insert_submissions(conn, [(sub, store_documents(sub))])
    finally:
        engine.dispose()
    return sub_id  # the first submission's first job has the same id


@pytest.mark.parametrize("args", [("jobs", "list"), ("jobs", "show", "{job}"), ("user", "list")])
def test_read_only_commands_load_no_heavy_library(
    data_dir: Path, seeded: int, args: tuple[str, ...]
) -> None:
    argv = [a.format(job=seeded) for a in args]
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        capture_output=True,
        text=True,
        env=faxout_env(data_dir),
        timeout=60,
        check=True,
    )
    *output, modules = done.stdout.strip().splitlines()
    assert "+15550000000" in "\n".join(output) or "15551230000" in "\n".join(output)
    loaded = set(json.loads(modules))
    assert "sqlalchemy" in loaded  # it did reach the database
    assert not loaded & set(HEAVY), sorted(loaded & set(HEAVY))


def test_the_quick_schema_check_reads_the_head_alembic_finds() -> None:
    assert _script_head() == migrate.head_revision()


def test_read_only_commands_still_migrate_or_refuse_an_old_schema(data_dir: Path) -> None:
    assert run_cli(data_dir, "migrate").returncode == 0
    engine = make_engine(Settings(data_dir=data_dir).db_url)
    migrate.downgrade(engine, "-1")
    engine.dispose()
    refused = run_cli(data_dir, "user", "list", FAXOUT_AUTO_MIGRATE="false")
    assert refused.returncode == 1 and "run `faxout migrate`" in refused.stderr
    assert run_cli(data_dir, "jobs", "list").stdout.strip() == "no jobs"  # migrated, then read
    engine = make_engine(Settings(data_dir=data_dir).db_url)
    assert migrate.current_revision(engine) == migrate.head_revision()
    engine.dispose()
