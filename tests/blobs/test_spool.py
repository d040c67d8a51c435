"""Spool clean-up removes only the uploads of processes that are gone."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from faxout.blobs.local import LocalBlobStore


def test_live_uploads_survive_a_restart(tmp_path: Path) -> None:
    store = LocalBlobStore(tmp_path / "documents", tmp_path / "spool")
    mine = store.new_upload()
    mine.write(b"in progress here")
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        theirs = tmp_path / "spool" / f"upload-{other.pid}-abc"
        theirs.write_bytes(b"in progress in another process")
        dead = subprocess.run(
            [sys.executable, "-c", "import os; print(os.getpid())"],
            capture_output=True,
            text=True,
            check=True,
        )
        orphan = tmp_path / "spool" / f"upload-{dead.stdout.strip()}-xyz"
        orphan.write_bytes(b"left by a crash")
        legacy_old = tmp_path / "spool" / "upload-oldstyle"
        legacy_old.write_bytes(b"old")
        os.utime(legacy_old, (time.time() - 2 * 86400,) * 2)
        legacy_new = tmp_path / "spool" / "upload-newstyle"
        legacy_new.write_bytes(b"new")

        assert store.clean_spool() == 2
        left = sorted(p.name for p in (tmp_path / "spool").iterdir())
        assert theirs.name in left and legacy_new.name in left
        assert orphan.name not in left and legacy_old.name not in left
        assert mine.commit().startswith("sha256/")
    finally:
        other.kill()
        other.wait()
