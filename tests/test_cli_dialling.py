"""``faxout user add/set`` with an account's region and its allow and deny lists."""

from __future__ import annotations

import json
from pathlib import Path

from tests.server import run_cli


def test_region_and_lists_are_set_shown_and_checked(data_dir: Path) -> None:
    added = run_cli(
        data_dir, "user", "add", "16505551234", "--email", "a@example.com",
        "--dial-allow", "domestic, +44 20", "--dial-deny", "+1900",
    )  # fmt: skip
    assert added.returncode == 0, added.stderr
    changed = run_cli(data_dir, "user", "set", "16505551234", "--region", "de")
    assert changed.returncode == 0, changed.stderr
    (user,) = json.loads(run_cli(data_dir, "user", "list", "--json").stdout)
    assert (user["region"], user["dial_allow"], user["dial_deny"]) == (
        "DE",
        ["domestic", "+4420"],
        ["+1900"],
    )
    cleared = run_cli(data_dir, "user", "set", "16505551234", "--dial-allow", "", "--region", "")
    assert cleared.returncode == 0, cleared.stderr
    (user,) = json.loads(run_cli(data_dir, "user", "list", "--json").stdout)
    assert (user["region"], user["dial_allow"], user["dial_deny"]) == ("", [], ["+1900"])

    bad = run_cli(data_dir, "user", "set", "16505551234", "--dial-deny", "premium")
    assert bad.returncode == 1 and "'premium' is not a number pattern" in bad.stderr
    bad_region = run_cli(data_dir, "user", "set", "16505551234", "--region", "Germany")
    assert bad_region.returncode == 1 and "two-letter country code" in bad_region.stderr
