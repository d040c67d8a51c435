"""Raw HTTP over a socket, for the wire-level cases an HTTP library would tidy up."""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass


@dataclass
class RawResponse:
    status: int
    headers: dict[str, str]
    body: bytes
    interim: list[int]  # 1xx statuses seen before the final one


def _read_head(sock: socket.socket, buf: bytearray) -> tuple[int, dict[str, str], bytearray]:
    while b"\r\n\r\n" not in buf:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionError(f"connection closed before a response head: {bytes(buf)!r}")
        buf += chunk
    head, _, rest = bytes(buf).partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return status, headers, bytearray(rest)


def read_response(sock: socket.socket, buf: bytearray | None = None) -> RawResponse:
    buf = buf if buf is not None else bytearray()
    interim = []
    while True:
        status, headers, buf = _read_head(sock, buf)
        if status >= 200:
            break
        interim.append(status)
    length = int(headers.get("content-length", "-1"))
    while length >= 0 and len(buf) < length:
        chunk = sock.recv(65536)
        if not chunk:
            break
        buf += chunk
    return RawResponse(status, headers, bytes(buf[:length] if length >= 0 else buf), interim)


def send_raw(port: int, data: bytes, timeout: float = 30) -> RawResponse:
    """Send ``data`` as-is and read one response."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as sock:
        sock.sendall(data)
        return read_response(sock)


def multipart(
    parts: list[tuple[str, bytes]],
    boundary: str = "----faxoutTestBoundary",
    closing: bytes = b"\r\n",
) -> bytes:
    """Assemble a multipart body from (headers-text, content) pairs."""
    out = bytearray()
    for headers, content in parts:
        out += f"--{boundary}\r\n{headers}\r\n\r\n".encode() + content + b"\r\n"
    out += f"--{boundary}--".encode() + closing
    return bytes(out)


def field(name: str, value: str) -> tuple[str, bytes]:
    return f'Content-Disposition: form-data; name="{name}"', value.encode()


def file_part(
    name: str, filename: str, content: bytes, ctype: str = "application/pdf"
) -> tuple[str, bytes]:
    return (
        f'Content-Disposition: form-data; name="{name}"; filename="{filename}"\r\nContent-Type: {ctype}',
        content,
    )


def post(
    path: str, body: bytes, content_type: str, *, extra: str = "", version: str = "1.1"
) -> bytes:
    return (
        f"POST {path} HTTP/{version}\r\nHost: 127.0.0.1\r\nContent-Type: {content_type}\r\n"
        f"Content-Length: {len(body)}\r\n{extra}Connection: close\r\n\r\n"
    ).encode("latin-1") + body


def wait_closed(sock: socket.socket, deadline_s: float = 10) -> bool:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        try:
            if sock.recv(65536) == b"":
                return True
        except TimeoutError:
            continue
        except ConnectionResetError:
            return True
    return False
