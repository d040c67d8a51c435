"""The faxout command line, run as a user runs it."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from faxout.db import migrate
from tests.server import run_cli


def test_help_reads_well(data_dir: Path) -> None:
    out = run_cli(data_dir, "--help").stdout
    for command in ("serve", "user", "jobs", "migrate", "check"):
        assert command in out
    assert "--tls-cert" in run_cli(data_dir, "serve", "--help").stdout
    assert "--password-stdin" in run_cli(data_dir, "user", "add", "--help").stdout


def test_user_lifecycle(data_dir: Path) -> None:
    added = run_cli(
        data_dir,
        "user",
        "add",
        "+1 650-555-1234*12",
        "--email",
        "al@example.com",
        "--name",
        "Al",
        "--password-stdin",
        stdin="s3cret\n",
    )
    assert (
        added.returncode == 0 and "16505551234*12" in added.stdout and "s3cret" not in added.stdout
    )
    generated = run_cli(data_dir, "user", "add", "4930123456", "--email", "b@example.com")
    assert generated.returncode == 0 and "password: " in generated.stdout

    dup = run_cli(data_dir, "user", "add", "16505551234*12", "--email", "x@example.com")
    assert dup.returncode == 1 and "already exists" in dup.stderr
    bad = run_cli(data_dir, "user", "add", "call-me", "--email", "x@example.com")
    assert bad.returncode == 1 and "username" in bad.stderr
    bad_mail = run_cli(data_dir, "user", "add", "4930999", "--email", "not-an-address")
    assert bad_mail.returncode == 1 and "not an email address" in bad_mail.stderr

    assert (
        run_cli(
            data_dir,
            "user",
            "set",
            "16505551234*12",
            "--fax-prohibited",
            "--email",
            "new@example.com",
        ).returncode
        == 0
    )
    users = json.loads(run_cli(data_dir, "user", "list", "--json").stdout)
    assert [(u["username"], u["email"], u["fax_prohibited"]) for u in users] == [
        ("16505551234*12", "new@example.com", True),
        ("4930123456", "b@example.com", False),
    ]
    nothing = run_cli(data_dir, "user", "set", "4930123456")
    assert nothing.returncode == 2 and "nothing to change" in nothing.stderr

    assert run_cli(data_dir, "user", "remove", "4930123456", "--yes").returncode == 0
    missing = run_cli(data_dir, "user", "remove", "4930123456", "--yes")
    assert missing.returncode == 1 and "no account" in missing.stderr


def test_jobs_commands_on_empty_and_missing(data_dir: Path) -> None:
    assert run_cli(data_dir, "jobs", "list").stdout.strip() == "no jobs"
    assert json.loads(run_cli(data_dir, "jobs", "list", "--json").stdout) == []
    shown = run_cli(data_dir, "jobs", "show", "42")
    assert shown.returncode == 1 and "no job 42" in shown.stderr


def test_migrate_and_check(data_dir: Path) -> None:
    out = run_cli(data_dir, "migrate")
    assert out.returncode == 0 and f"-> {migrate.head_revision()}" in out.stdout
    check = run_cli(data_dir, "check")
    assert check.returncode == 0, check.stdout
    assert "database" in check.stdout and "All good." in check.stdout
    assert "ok   converter jail   bubblewrap" in check.stdout


def test_check_names_a_broken_cover_page(tmp_path: Path) -> None:
    covers = tmp_path / "var" / "coverpages"
    covers.mkdir(parents=True)
    (covers / "Office.html").write_text("<h1>{{ recipient_nmae }}</h1>")
    (covers / "Plain.html").write_text("<h1>{{ recipient_name }}</h1>")
    out = run_cli(tmp_path / "var", "check")
    assert out.returncode != 0
    line = next(x for x in out.stdout.splitlines() if "cover pages" in x)
    assert line.startswith("FAIL") and "Office" in line and "recipient_nmae" in line
    assert "Plain" not in line


def test_check_says_when_the_converter_jail_cannot_run(tmp_path: Path) -> None:
    # As on a host without bubblewrap: PATH without it (the rest of check still runs).
    out = run_cli(tmp_path / "var", "check", PATH="/nonexistent")
    assert out.returncode != 0
    assert "FAIL converter jail" in out.stdout and "apt-get install bubblewrap" in out.stdout
    off = run_cli(tmp_path / "var", "check", FAXOUT_RENDER__SANDBOX="false")
    assert "converter jail   off" in off.stdout and "NOT confined" in off.stdout


def test_check_names_what_is_wrong(tmp_path: Path) -> None:
    blocked = tmp_path / "file-not-dir"
    blocked.write_text("x")
    out = run_cli(tmp_path / "var", "check", FAXOUT_DATABASE_URL=f"sqlite:///{blocked}/db.sqlite")
    assert out.returncode != 0
    assert "database" in out.stdout + out.stderr


def test_bad_configuration_is_named(tmp_path: Path) -> None:
    out = run_cli(tmp_path, "user", "list", FAXOUT_PORT="eighty")
    assert out.returncode == 1 and "port" in out.stderr
    toml = tmp_path / "faxout.toml"
    toml.write_text("prot = 9000\n")
    out = run_cli(tmp_path, "--config", str(toml), "user", "list")
    assert out.returncode == 1 and "prot" in out.stderr
    toml.write_text("[limits]\nmax_recipients = 3\n")
    assert run_cli(tmp_path, "--config", str(toml), "user", "list").returncode == 0
    missing = run_cli(tmp_path, "--config", str(tmp_path / "nope.toml"), "user", "list")
    assert missing.returncode != 0 and "nope.toml" in missing.stderr


def test_an_accounts_pages_are_set_and_checked(data_dir: Path) -> None:
    assert (
        run_cli(data_dir, "user", "add", "4930123456", "--email", "p@example.com").returncode == 0
    )
    changed = run_cli(
        data_dir,
        "user",
        "set",
        "4930123456",
        "--time-zone",
        "Europe/Berlin",
        "--station",
        "+49 30 123456",
        "--header-format",
        "%d.%m.%Y %H:%M|%%s|Seite %%P von %%T",
        "--paper",
        "legal",
    )
    assert changed.returncode == 0, changed.stderr
    (account,) = json.loads(run_cli(data_dir, "user", "list", "--json").stdout)
    assert (account["time_zone"], account["station"], account["paper"]) == (
        "Europe/Berlin",
        "+49 30 123456",
        "legal",
    )
    assert account["header_format"] == "%d.%m.%Y %H:%M|%%s|Seite %%P von %%T"
    for flag, value, said in (
        ("--time-zone", "Mars/Olympus", "unknown time zone 'Mars/Olympus'"),
        ("--paper", "a3", "use letter, a4 or legal"),
        ("--header-format", "Page %%Q", "unknown code %%Q"),
        ("--station", "x" * 21, "up to 20 printable ASCII"),
    ):
        bad = run_cli(data_dir, "user", "set", "4930123456", flag, value)
        assert bad.returncode == 1 and said in bad.stderr, (flag, bad.stderr)
    cleared = run_cli(data_dir, "user", "set", "4930123456", "--paper", "", "--time-zone", "")
    assert cleared.returncode == 0
    (account,) = json.loads(run_cli(data_dir, "user", "list", "--json").stdout)
    assert (account["paper"], account["time_zone"]) == ("", "")


def test_help_lists_every_command_as_it_describes_itself() -> None:
    import click

    from faxout.ops.cli import LAZY_COMMANDS, cli, lazy_command

    width = click.HelpFormatter().width
    limit = width - 6 - max(len(n) for n in {*cli.commands, *LAZY_COMMANDS})
    for name, (_, short) in LAZY_COMMANDS.items():
        assert lazy_command(name).get_short_help_str(limit) == short, name


def test_help_answers_without_loading_the_heavy_libraries() -> None:
    # `faxout --help` took 1.7 s of imports (SQLAlchemy, boto3, numpy, pydantic…): the
    # subsystems' commands and the gateway now load only when a command runs.
    import subprocess
    import sys

    probe = (
        "import sys\n"
        "from faxout.ops.cli import main\n"
        "sys.argv = ['faxout', '--help']\n"
        "try:\n    main()\nexcept SystemExit:\n    pass\n"
        "heavy = ('sqlalchemy', 'numpy', 'pydantic', 'phonenumbers', 'boto3', 'PIL')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=60
    )
    assert "Commands:" in out.stdout and out.stdout.strip().endswith("[]"), out.stdout[-300:]


def test_check_and_migrate_never_print_the_database_password(tmp_path: Path) -> None:
    url = "postgresql+psycopg://faxout:s3cret-Pw@127.0.0.1:1/faxout"  # nothing listens on 1
    for command in ("check", "migrate"):
        out = run_cli(tmp_path / "var", command, FAXOUT_DATABASE_URL=url)
        assert out.returncode != 0
        said = out.stdout + out.stderr
        assert "s3cret-Pw" not in said, said
    check = run_cli(tmp_path / "var", "check", FAXOUT_DATABASE_URL=url)
    assert "faxout:***@127.0.0.1:1" in check.stdout


@pytest.mark.parametrize("command", [["worker"], ["dispatch"], ["serve", "--no-workers"]])
def test_a_process_whose_queue_does_not_answer_refuses_to_start(
    data_dir: Path, command: list[str]
) -> None:
    """It would print "running" and do nothing; it says what is wrong and exits instead."""
    from tests.procs import free_port

    queue = f"redis://127.0.0.1:{free_port()}/0"
    out = run_cli(data_dir, *command, FAXOUT_QUEUE_URL=queue, FAXOUT_PORT=str(free_port()))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "task queue: Redis at redis://127.0.0.1:" in out.stderr
    assert "does not answer" in out.stderr and "correct queue_url" in out.stderr
    assert "running" not in out.stdout
