"""Real FaxOut clients (curl, PHP curl, Perl LWP, Ruby rest-client) and .NET's exact wire format."""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.conftest import PASSWORD, USER
from tests.intake.records import document_bytes, submission_by_request
from tests.intake.wire import send_raw
from tests.server import Server

CLIENTS = Path(__file__).parent / "clients"
PDF = b"%PDF-1.4\n% a tiny document for client tests\n%%EOF\n"


@pytest.fixture
def document(tmp_path: Path) -> Path:
    path = tmp_path / "Quarterly report.pdf"
    path.write_bytes(PDF)
    return path


def newest_submission(server: Server) -> dict:  # type: ignore[type-arg]
    import json

    result = server.cli("jobs", "list", "--json", "--limit", "1")
    assert result.returncode == 0, result.stderr
    job = json.loads(result.stdout)[0]
    shown = server.cli("jobs", "show", str(job["id"]), "--json")
    return json.loads(shown.stdout)["submission"]  # type: ignore[no-any-return]


def run(cmd: list[str]) -> str:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_curl(server: Server, document: Path) -> None:
    out = run(
        [
            "curl",
            "-sS",
            "-F",
            f"Username={USER}",
            "-F",
            f"Password={PASSWORD}",
            "-F",
            "Recipient=+44 20 7946 0000|London office",
            "-F",
            f"Attachment=@{document}",
            server.url + "/faxapi.asp",
        ]
    )
    assert out == "0"
    sub = newest_submission(server)
    assert [d["filename"] for d in sub["documents"]] == ["Quarterly report.pdf"]
    assert sub["jobs"][0]["number"] == "+442079460000"


def test_php_curl(server: Server, document: Path) -> None:
    out = run(
        [
            "php",
            str(CLIENTS / "send.php"),
            server.url + "/faxapi.asp",
            USER,
            PASSWORD,
            str(document),
        ]
    )
    assert out == "0"
    sub = newest_submission(server)
    assert [j["number"] for j in sub["jobs"]] == ["+16505550101", "+16505550102"]
    assert [d["filename"] for d in sub["documents"]] == [
        "Quarterly report.pdf",
        "copy of Quarterly report.pdf",
    ]
    assert sub["cover_page"] == "none"


def test_perl_lwp(server: Server, document: Path) -> None:
    ahead = datetime.now(UTC) + timedelta(days=30)  # send times over a year ahead mean now
    out = run(
        [
            "perl",
            str(CLIENTS / "send.pl"),
            server.url + "/faxapi.asp",
            USER,
            PASSWORD,
            str(document),
            f"{ahead:%d:%m:%y} 12:00",
        ]
    )
    assert out == "0"
    sub = newest_submission(server)
    assert [j["name"] for j in sub["jobs"]] == ["Perl One", "Perl Two"]
    assert sub["send_at"].startswith(f"{ahead:%Y-%m-%d}T12:00")
    assert document_bytes(server.data_dir, sub["documents"][0]["blob_key"]) == PDF


def test_ruby_rest_client(server: Server, document: Path) -> None:
    out = run(
        [
            "ruby",
            str(CLIENTS / "send.rb"),
            server.url + "/faxapi.asp",
            USER,
            PASSWORD,
            str(document),
        ]
    )
    assert out == "0"
    sub = newest_submission(server)
    assert sub["cover_text"] == "Line 1\nLine 2"
    assert [d["filename"] for d in sub["documents"]] == ["Quarterly report.pdf"]


def test_dotnet_httpclient_wire_format(server: Server) -> None:
    # Byte for byte what System.Net.Http.MultipartFormDataContent sends: quoted GUID boundary,
    # Content-Type before Content-Disposition, unquoted names, filename and filename*.
    b = "5f8b2c1e-7d3a-4f0e-9b6c-2a1d4e8f0c3b"
    parts = [
        ("Username", USER),
        ("Password", PASSWORD),
        ("Recipient", "6505550101|C# client"),
    ]
    body = b""
    for name, value in parts:
        body += (
            f"--{b}\r\nContent-Type: text/plain; charset=utf-8\r\n"
            f"Content-Disposition: form-data; name={name}\r\n\r\n{value}\r\n"
        ).encode()
    body += (
        (
            f"--{b}\r\nContent-Type: application/pdf\r\nContent-Disposition: form-data; "
            f'name=Attachment; filename="=?utf-8?B?UmVjaG51bmcgw5w=?=.pdf"; '
            f"filename*=utf-8''Rechnung%20%C3%9C.pdf\r\n\r\n"
        ).encode()
        + PDF
        + f"\r\n--{b}--\r\n".encode()
    )
    req = (
        f"POST /faxapi.asp HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; "
        f'boundary="{b}"\r\nContent-Length: {len(body)}\r\nExpect: 100-continue\r\n'
        f"Connection: close\r\n\r\n"
    ).encode() + body
    resp = send_raw(server.port, req)
    assert resp.body == b"0"
    sub = submission_by_request(server.data_dir, resp.headers["x-request-id"])
    assert sub is not None and [d.filename for d in sub.documents] == ["Rechnung Ü.pdf"]
