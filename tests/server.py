"""A real ``faxout serve`` process for tests: started on a free port, stopped by its own PID."""

from __future__ import annotations

import contextlib
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from tests.procs import free_port

ROOT = Path(__file__).resolve().parent.parent
FAST_ARGON2 = {
    "FAXOUT_AUTH__ARGON2_MEMORY_KIB": "1024",
    "FAXOUT_AUTH__ARGON2_TIME_COST": "1",
    # and no render warm-up: each server of the suite would spend seconds of CPU on a cover
    # and a soffice per worker that most tests never use (tests/render/test_warm_up.py)
    "FAXOUT_RENDER__WARM_UP": "false",
}


def faxout_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("FAXOUT_")}
    env.update(FAST_ARGON2)
    env["FAXOUT_DATA_DIR"] = str(data_dir)
    env.update(extra)
    return env


def run_cli(
    data_dir: Path, *args: str, stdin: str = "", **env: str
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "faxout", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=faxout_env(data_dir, **env),
        timeout=120,
        check=False,
    )


@dataclass
class Server:
    data_dir: Path
    port: int
    process: subprocess.Popen[bytes]
    log_path: Path
    scheme: str = "http"
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def add_user(self, username: str, password: str, *args: str) -> None:
        result = run_cli(
            self.data_dir,
            "user",
            "add",
            username,
            "--password-stdin",
            *args,
            stdin=password + "\n",
            **self.env,
        )
        assert result.returncode == 0, result.stderr

    def cli(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
        return run_cli(self.data_dir, *args, stdin=stdin, **self.env)

    def kill(self, sig: int = signal.SIGTERM) -> None:
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)


def start_server(
    data_dir: Path,
    *args: str,
    scheme: str = "http",
    verify: ssl.SSLContext | bool = False,
    **env: str,
) -> Server:
    """Start ``faxout serve`` and wait (with a deadline) until /healthz answers 200."""
    port = free_port()
    data_dir.mkdir(parents=True, exist_ok=True)
    log_path = data_dir / f"server-{port}.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "faxout", "serve", "--port", str(port), *args],
            stdout=log,
            stderr=subprocess.STDOUT,
            env=faxout_env(data_dir, **env),
            cwd=ROOT,
        )
    server = Server(data_dir, port, process, log_path, scheme, dict(env))
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"faxout serve exited {process.returncode}:\n{server.log()}")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(f"{server.url}/healthz", timeout=2, verify=verify).status_code == 200:
                return server
        time.sleep(0.05)
    server.kill(signal.SIGKILL)
    raise RuntimeError(f"faxout serve did not become ready:\n{server.log()}")


@contextlib.contextmanager
def running_server(data_dir: Path, *args: str, **env: str) -> Iterator[Server]:
    server = start_server(data_dir, *args, **env)
    try:
        yield server
    finally:
        server.kill()
