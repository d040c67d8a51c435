"""Real services for integration tests, each started on a free 127.0.0.1 port and stopped by its
own PID: redis-server, a moto S3 server, and ``faxout`` processes (worker, dispatch…).

PostgreSQL lives in ``tests/pgserver.py`` (fixtures in ``tests/conftest_pg.py``).
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import redis

from tests.procs import free_port, stop_process
from tests.server import ROOT

S3_REGION = "us-east-1"
AWS_TEST_ENV = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",
    "AWS_DEFAULT_REGION": S3_REGION,
    "AWS_EC2_METADATA_DISABLED": "true",
}
"""Fake credentials; with ``AWS_CONFIG_FILE``/``AWS_SHARED_CREDENTIALS_FILE`` pointed at nothing,
boto3 never reads a developer's ~/.aws or asks an instance-metadata service."""


def aws_test_env(tmp: Path) -> dict[str, str]:
    """``AWS_*`` variables for a process that talks to the moto server (and to nothing else)."""
    return {
        **AWS_TEST_ENV,
        "AWS_CONFIG_FILE": str(tmp / "no-aws-config"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp / "no-aws-credentials"),
    }


AWS_UNSET = ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3")


def wait_for(
    predicate: Callable[[], object], timeout: float = 30.0, what: str = "condition"
) -> None:
    """Poll ``predicate`` until it is true; fail after ``timeout`` seconds (a deadline, not a
    measurement)."""
    deadline = time.monotonic() + timeout
    delay = 0.005
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(delay)
        delay = min(delay * 2, 0.1)


# -- redis ---------------------------------------------------------------------------------


@contextlib.contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    """A private redis-server (no persistence) in ``workdir``; yields ``redis://…/0``.

    Its own port, so a Debian-started system redis on 6379 plays no part.
    """
    exe = shutil.which("redis-server")
    assert exe, "redis-server is required (deps/apt.txt)"
    workdir.mkdir(parents=True, exist_ok=True)
    for _ in range(5):  # the port may be taken between probing and binding
        port = free_port()
        proc = subprocess.Popen(
            [
                exe,
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--dir",
                str(workdir),
                "--save",
                "",
                "--appendonly",
                "no",
                "--daemonize",
                "no",
                "--loglevel",
                "warning",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(host="127.0.0.1", port=port, socket_timeout=1)
        up = False
        deadline = time.monotonic() + 10
        while proc.poll() is None and time.monotonic() < deadline:
            with contextlib.suppress(redis.exceptions.ConnectionError):
                up = bool(client.ping())
                break
            time.sleep(0.01)
        client.close()
        if up:
            break
        stop_process(proc)
    else:
        raise RuntimeError("could not start redis-server")
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        stop_process(proc)


# -- S3 (moto) -----------------------------------------------------------------------------


@contextlib.contextmanager
def moto_s3() -> Iterator[str]:
    """An S3 endpoint served by moto (a thread of this process) on a free port of 127.0.0.1;
    yields its ``http://`` URL."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def create_bucket(endpoint: str, name: str) -> None:
    """Create bucket ``name`` on the S3 server at ``endpoint`` (test credentials)."""
    import boto3

    client = boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=S3_REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    client.create_bucket(Bucket=name)


# -- faxout processes ----------------------------------------------------------------------


@dataclass
class FaxoutProcess:
    """A ``faxout`` subcommand running in the background (``worker``, ``dispatch``…)."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> None:
        """Graceful stop (SIGTERM: running calls finish), SIGKILL after a grace period."""
        stop_process(self.process, timeout=30.0)

    def kill(self) -> None:
        """SIGKILL, and reap it (so its PID is gone, as after a real crash)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(15)


def spawn_faxout(name: str, args: list[str], env: dict[str, str], log_dir: Path) -> FaxoutProcess:
    """Run ``faxout ARGS`` with ``env`` in the background, its output in ``log_dir/NAME.log``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / f"{name}.log"
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "faxout", *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            cwd=ROOT,
        )
    return FaxoutProcess(name, process, log_path)


def wait_ready(proc: FaxoutProcess, ready: str, timeout: float = 60.0) -> FaxoutProcess:
    """Wait (with a deadline) until the log of ``proc`` shows ``ready``; kill it if it never
    does."""

    def up() -> bool:
        if not proc.alive():
            raise RuntimeError(
                f"faxout {proc.name} exited {proc.process.returncode}:\n{proc.log()}"
            )
        return ready in proc.log()

    try:
        wait_for(up, timeout, f"faxout {proc.name} to start")
    except BaseException:
        proc.kill()
        raise
    return proc


def start_faxout(
    name: str, args: list[str], env: dict[str, str], log_dir: Path, ready: str
) -> FaxoutProcess:
    """Run ``faxout ARGS`` with ``env``; wait until its log shows ``ready``."""
    return wait_ready(spawn_faxout(name, args, env, log_dir), ready)
