"""What the send form's tests share: an account and a multipart body as a browser sends it."""

from __future__ import annotations

from datetime import UTC, datetime

from faxout.accounts.repo import Account

BOUNDARY = "----formboundary7MA4YWxk"


def account(**changes: object) -> Account:
    """An account of a US number (national numbers read in the US)."""
    values: dict[str, object] = {
        "id": 1,
        "username": "16505551234",
        "email": "a@example.com",
        "name": "Ada Sender",
        "password_hash": "x",
        "fax_prohibited": False,
        "created_at": datetime(2024, 1, 1, tzinfo=UTC),
    }
    values.update(changes)
    return Account(**values)  # type: ignore[arg-type]


def form_body(
    fields: dict[str, str], files: list[tuple[str, bytes, str]] = (), *, empty_input: bool = False
) -> bytes:
    """A ``multipart/form-data`` body: ``fields``, then ``files`` as ``document`` parts (and,
    with ``empty_input``, the part a browser sends for a file input left empty)."""
    out = []
    for name, value in fields.items():
        out.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{name}"\r\n\r\n'.encode()
            + value.encode()
            + b"\r\n"
        )
    for filename, data, ctype in files:
        head = (
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="document"; '
            f'filename="{filename}"\r\nContent-Type: {ctype}\r\n\r\n'
        )
        out.append(head.encode() + data + b"\r\n")
    if empty_input:
        out.append(
            f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="document"; filename=""\r\n'
            "Content-Type: application/octet-stream\r\n\r\n\r\n".encode()
        )
    return b"".join(out) + f"--{BOUNDARY}--\r\n".encode()


CTYPE = f"multipart/form-data; boundary={BOUNDARY}"
