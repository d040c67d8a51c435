"""The jail itself, through real bubblewrap: what a converter can see, reach and use."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from faxout.sandbox import jail, workspace
from tests.procs import descendants, is_alive, process_name

ROOT = Path(__file__).resolve().parents[2]


def _inside(cell: jail.Jail, script: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    process = jail.popen(
        cell,
        ["/usr/bin/python3", "-c", textwrap.dedent(script)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    out, err = process.communicate(timeout=timeout)
    return subprocess.CompletedProcess(process.args, process.returncode, out, err)


def test_it_runs_unprivileged_with_no_new_privileges() -> None:
    seen = _inside(
        jail.Jail(),
        """
        import os
        print(os.getuid(), os.getgid(), os.getgroups())
        """,
    )
    uid, gid, groups = seen.stdout.split(maxsplit=2)
    expected = jail.NOBODY if os.geteuid() == 0 else os.geteuid()
    assert int(uid) == expected and groups.strip() in ("[]", f"[{gid}]")
    flags = _inside(jail.Jail(proc=True), "print(open('/proc/self/status').read())").stdout
    assert "NoNewPrivs:\t1" in flags and "CapEff:\t0000000000000000" in flags


def test_it_sees_only_the_system_and_what_it_was_given(tmp_path: Path) -> None:
    given = tmp_path / "given.txt"
    given.write_text("yours")
    given.chmod(0o644)
    secret = tmp_path / "secret.txt"
    secret.write_text("not yours")
    seen = _inside(
        jail.Jail(ro=[(given, Path("/in/given.txt"))]),
        f"""
        import os
        print(sorted(os.listdir("/")))
        print(sorted(os.listdir("/etc")))
        print(open("/in/given.txt").read())
        for path in ({str(secret)!r}, {str(ROOT)!r}, "/etc/shadow", "/etc/passwd", "/root",
                     "/home", "/var/log", "/run"):
            print(path, os.path.exists(path))
        print(os.listdir("/tmp"))
        """,
    )
    lines = seen.stdout.splitlines()
    assert set(eval(lines[0])) <= {"bin", "dev", "etc", "in", "lib", "lib64", "sbin", "tmp",
                                   "usr", "var"}  # fmt: skip
    assert set(eval(lines[1])) <= {"fonts", "ld.so.cache", "alternatives", "localtime",
                                   "ghostscript", "libreoffice"}  # fmt: skip
    assert lines[2] == "yours"
    assert all(line.endswith("False") for line in lines[3:11]), lines[3:11]
    assert lines[11] == "[]"  # a private, empty /tmp


def test_read_only_is_read_only(tmp_path: Path) -> None:
    given, out = tmp_path / "in", tmp_path / "out"
    given.mkdir(mode=0o755)
    out.mkdir()
    cell = jail.Jail(ro=[(given, Path("/in"))], rw=[(out, Path("/out"))])
    jail.prepare_rw(out, cell)
    seen = _inside(
        cell,
        """
        for path in ("/in/x", "/out/x", "/usr/x"):
            try:
                open(path, "w").write("x")
                print(path, "written")
            except OSError as exc:
                print(path, type(exc).__name__)
        """,
    )
    verdicts = dict(line.split() for line in seen.stdout.splitlines())
    assert verdicts["/out/x"] == "written"
    assert verdicts["/in/x"] != "written" and verdicts["/usr/x"] != "written"
    assert (out / "x").read_text() == "x" and not (given / "x").exists()


def test_it_has_no_network() -> None:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    try:
        seen = _inside(
            jail.Jail(),
            f"""
            import socket
            try:
                socket.create_connection(("127.0.0.1", {port}), timeout=3)
                print("connected")
            except OSError as exc:
                print("refused", exc.errno)
            """,
        )
    finally:
        listener.close()
    assert seen.stdout.startswith("refused"), seen.stdout


def test_memory_is_capped() -> None:
    seen = _inside(
        jail.Jail(budget=jail.Budget(memory_bytes=256 * 1024 * 1024)),
        """
        try:
            block = bytearray(1024 * 1024 * 1024)
            print("allocated")
        except MemoryError:
            print("refused")
        """,
    )
    assert seen.stdout.strip() == "refused"


def test_file_size_is_capped(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    cell = jail.Jail(rw=[(out, Path("/out"))], budget=jail.Budget(file_bytes=1024 * 1024))
    jail.prepare_rw(out, cell)
    seen = _inside(
        cell,
        """
        import signal
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        try:
            open("/out/big", "wb").write(bytes(8 * 1024 * 1024))
            print("wrote")
        except OSError as exc:
            print("refused", exc.errno)
        """,
    )
    assert seen.stdout.startswith("refused")
    assert (out / "big").stat().st_size <= 1024 * 1024


def test_cpu_time_is_capped() -> None:
    seen = _inside(jail.Jail(budget=jail.Budget(cpu_seconds=1)), "while True: pass", timeout=60)
    assert seen.returncode != 0  # SIGXCPU, then SIGKILL at the hard limit


def test_a_killed_jail_leaves_no_process_behind() -> None:
    process = jail.popen(jail.Jail(), ["/bin/sh", "-c", "sleep 300 & sleep 300"])
    try:
        children = _wait_fordescendants(process.pid)
    finally:
        jail.kill(process)
        process.wait()
    assert children
    for pid in children:
        assert not _alive(pid)


def _wait_fordescendants(root: int) -> list[int]:
    import time

    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        found = [p for p in descendants(root) if process_name(p) == "sleep"]
        if len(found) == 2:
            return descendants(root)
        time.sleep(0.05)
    return []


def _alive(pid: int) -> bool:
    """Whether ``pid`` still runs 5 s from now (a killed jail's processes die a moment later)."""
    import time

    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if not is_alive(pid):
            return False
        time.sleep(0.05)
    return True


def test_work_directories_are_private_and_unguessable(tmp_path: Path) -> None:
    space = workspace.Workspace(tmp_path / "run")
    try:
        a, b = space.new_dir("render-"), space.new_dir("render-")
        assert a != b and len(a.name) > len("render-") + 6
        for path in (tmp_path / "run", space.path, a):
            assert path.stat().st_mode & 0o777 == 0o700
    finally:
        space.close()


def test_a_crashed_process_s_directories_are_removed_at_the_next_start(tmp_path: Path) -> None:
    root = tmp_path / "run"
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from pathlib import Path; from faxout.sandbox import workspace;"
            f"s = workspace.Workspace(Path({str(root)!r})); (s.new_dir('job-') / 'page.tif')"
            ".write_bytes(b'secret'); print(s.path, flush=True); time.sleep(300)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    assert child.stdout is not None
    left = Path(child.stdout.readline().strip())
    live = workspace.Workspace(root)  # while the other is alive, its directory stays
    try:
        assert left.exists()
        child.send_signal(signal.SIGKILL)  # runs no cleanup
        child.wait()
        assert left.exists()
        again = workspace.Workspace(root)  # the next start removes it, and not ours
        again.close()
        assert not left.exists() and live.path.exists()
    finally:
        live.close()
        if child.poll() is None:
            child.kill()


@pytest.mark.parametrize("value", ["false", "0", "off"])
def test_the_jail_can_be_turned_off(value: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FAXOUT_RENDER__SANDBOX", value)
    assert not jail.enabled()
    assert jail.command(jail.Jail(), ["true"]) == ["true"]


def test_the_whole_jail_is_held_to_its_memory_cgroup() -> None:
    # rlimits cap one process's address space; the cgroup caps the jail's resident memory,
    # forks included. faxout runs as root here, where the host lets it make one.
    from faxout.sandbox import cgroup

    assert os.geteuid() != 0 or cgroup.available()
    cell = jail.Jail(budget=jail.Budget(memory_bytes=0, resident_bytes=128 * 1024 * 1024))
    process = jail.popen(
        cell,
        ["/usr/bin/python3", "-c", "import os; os.fork(); b = bytearray(400 * 1024 * 1024)"],
        stderr=subprocess.PIPE,
    )
    group = process.cgroup
    assert group is not None and group.path is not None
    path = group.path
    process.communicate(timeout=60)
    assert process.returncode != 0  # the OOM killer ended the jail
    assert not path.exists()  # and its cgroup is gone with it


def test_a_path_under_tmp_is_reachable_inside(tmp_path: Path) -> None:
    # A checkout (and so faxout's own code) may live under /tmp, as CI's clone may: the jail's
    # /tmp is a fresh tmpfs, and the parents of what is bound there must be traversable.
    given = tmp_path / "code.txt"
    given.write_text("faxout")
    given.chmod(0o644)
    tmp_path.chmod(0o700)
    seen = _inside(jail.Jail(ro=[(given, given)]), f"print(open({str(given)!r}).read())")
    assert seen.stdout.strip() == "faxout", seen.stderr


def test_the_server_s_environment_stays_outside(monkeypatch: pytest.MonkeyPatch) -> None:
    # The server's environment holds secrets (SMTP and S3 credentials, database URLs).
    monkeypatch.setenv("FAXOUT_REPORT__SMTP_PASSWORD", "hunter2")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "s3-secret")
    seen = _inside(jail.Jail(env={"ONLY": "this"}), "import os; print(sorted(os.environ))")
    names = eval(seen.stdout)
    assert "FAXOUT_REPORT__SMTP_PASSWORD" not in names and "AWS_SECRET_ACCESS_KEY" not in names
    assert set(names) <= {"PATH", "HOME", "TMPDIR", "LANG", "ONLY", "LC_CTYPE", "PWD"}
