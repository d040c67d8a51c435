"""HTTPS, oversized bodies, and memory while large uploads stream in."""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest
import trustme

from tests.intake.records import document_bytes, submission_by_request
from tests.intake.wire import read_response, wait_closed
from tests.server import start_server

USER, PASSWORD = "15558000000", "pw-limits"


def test_https(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    cert_path, key_path, ca_path = tmp_path / "cert.pem", tmp_path / "key.pem", tmp_path / "ca.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(cert_path))
    cert.private_key_pem.write_to_path(str(key_path))
    ca.cert_pem.write_to_path(str(ca_path))
    server = start_server(
        tmp_path / "var",
        "--tls-cert",
        str(cert_path),
        "--tls-key",
        str(key_path),
        scheme="https",
        verify=ssl.create_default_context(cafile=str(ca_path)),
        FAXOUT_DEMO_ACCOUNT="false",
    )
    try:
        server.add_user(USER, PASSWORD, "--email", "t@example.com")
        resp = httpx.post(
            server.url + "/faxapi.asp",
            verify=ssl.create_default_context(cafile=str(ca_path)),
            timeout=30,
            data={"Username": USER, "Password": PASSWORD, "Recipient": "5551234"},
            files={"Attachment": ("a.txt", b"over TLS")},
        )
        assert resp.text == "0"
        with pytest.raises(httpx.HTTPError):
            httpx.get(f"http://127.0.0.1:{server.port}/healthz", timeout=5)
    finally:
        server.kill()


@pytest.fixture(scope="module")
def small_limits(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[int, Path]]:
    data = tmp_path_factory.mktemp("limits")
    server = start_server(
        data,
        FAXOUT_DEMO_ACCOUNT="false",
        FAXOUT_LIMITS__MAX_BODY_BYTES="100000",
        FAXOUT_LIMITS__MAX_DRAIN_BYTES="400000",
    )
    server.add_user(USER, PASSWORD, "--email", "t@example.com")
    try:
        yield server.port, data
    finally:
        server.kill()


def _head(length: int, extra: str = "") -> bytes:
    return (
        f"POST /faxapi.asp HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
        f"Content-Length: {length}\r\n{extra}\r\n"
    ).encode()


def _body(size: int, user: str = USER) -> bytes:
    return (
        (
            f"--b\r\nContent-Disposition: form-data; name=Username\r\n\r\n{user}\r\n"
            f"--b\r\nContent-Disposition: form-data; name=Password\r\n\r\n{PASSWORD}\r\n"
            "--b\r\nContent-Disposition: form-data; name=Recipient\r\n\r\n5551234\r\n"
            "--b\r\nContent-Disposition: form-data; name=Attachment; filename=big.pdf\r\n\r\n"
        ).encode()
        + b"x" * size
        + b"\r\n--b--\r\n"
    )


def test_oversized_body_is_read_and_answered_5(small_limits: tuple[int, Path]) -> None:
    port, data = small_limits
    body = _body(200_000)
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(_head(len(body)) + body)
        resp = read_response(sock)
    assert (resp.status, resp.body) == (200, b"5")
    assert list((data / "spool").glob("upload-*")) == []


def test_oversized_body_with_wrong_password_still_says_1(small_limits: tuple[int, Path]) -> None:
    port, _ = small_limits
    body = _body(200_000).replace(PASSWORD.encode(), b"wrong-password")
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(_head(len(body)) + body)
        assert read_response(sock).body == b"1"


def test_endless_body_is_cut_off(small_limits: tuple[int, Path]) -> None:
    """Past the drain cap the server answers 5 and closes. The client usually reads the 5; when
    its unread upload is still in the server's socket buffer, the close becomes a TCP reset and
    the client may see only the reset (documented in docs/faxout-api.md). Either way: no hang,
    and the server keeps serving."""
    port, _ = small_limits
    got = bytearray()
    sent = 0
    reset = False
    with socket.create_connection(("127.0.0.1", port), timeout=30) as sock:
        sock.sendall(_head(50_000_000))
        try:
            while b"\r\n\r\n" not in got and sent < 64_000_000:
                sock.sendall(b"y" * 65536)
                sent += 65536
                sock.setblocking(False)
                with contextlib.suppress(BlockingIOError):
                    got += sock.recv(65536)
                sock.setblocking(True)
            sock.setblocking(True)
            sock.settimeout(10)
            while not got.endswith(b"\r\n\r\n5"):
                chunk = sock.recv(65536)
                if not chunk:
                    break
                got += chunk
        except (BrokenPipeError, ConnectionResetError):
            reset = True
        if not reset:
            assert wait_closed(sock)
    assert sent < 64_000_000, "the server kept reading past the drain cap"
    if got:
        assert got.startswith(b"HTTP/1.1 200") and got.endswith(b"\r\n\r\n5"), got
    else:
        assert reset
    assert httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=10).status_code == 200


@pytest.mark.slow
def test_memory_stays_flat_while_large_uploads_stream(tmp_path: Path) -> None:
    server = start_server(tmp_path / "var", "--no-workers", FAXOUT_DEMO_ACCOUNT="false")
    try:
        server.add_user(USER, PASSWORD, "--email", "t@example.com")
        proc = psutil.Process(server.process.pid)
        baseline = proc.memory_info().rss
        peak = baseline
        done = threading.Event()

        def watch() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, proc.memory_info().rss)
                done.wait(0.01)

        watcher = threading.Thread(target=watch)
        watcher.start()
        chunk = bytes(range(256)) * 4096  # 1 MiB

        def stream() -> Iterator[bytes]:
            yield _body(0)[: -len(b"\r\n--b--\r\n")]
            for _ in range(45):
                yield chunk
            yield b"\r\n--b--\r\n"

        resp = httpx.post(
            server.url + "/faxapi.asp",
            content=stream(),
            timeout=120,
            headers={"Content-Type": "multipart/form-data; boundary=b"},
        )
        done.set()
        watcher.join()
        assert resp.text == "0"
        sub = submission_by_request(server.data_dir, resp.headers["x-request-id"])
        assert sub is not None and sub.documents[0].size == 45 * len(chunk)
        assert document_bytes(server.data_dir, sub.documents[0].blob_key) == chunk * 45
        growth = peak - baseline
        assert growth < 20 * 1024 * 1024, (
            f"server grew by {growth / 2**20:.1f} MiB for a 45 MiB upload"
        )
    finally:
        server.kill()
