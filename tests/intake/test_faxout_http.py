"""The FaxOut endpoint through a real uvicorn server: codes, field semantics, wire-level cases."""

from __future__ import annotations

import base64
import socket
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from tests.conftest import BLOCKED, PASSWORD, USER
from tests.intake.records import document_bytes, submission_by_request
from tests.intake.wire import field, file_part, multipart, post, read_response, send_raw
from tests.server import Server

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


def submit(
    server: Server,
    data: list[tuple[str, str]],
    files: list[tuple[str, tuple[str, bytes]]] | None = None,
    path: str = "/faxapi.asp",
) -> httpx.Response:
    form: dict[str, list[str]] = {}
    for key, value in data:
        form.setdefault(key, []).append(value)
    return httpx.post(server.url + path, data=form, files=files, timeout=30)


def creds(user: str = USER, password: str = PASSWORD) -> list[tuple[str, str]]:
    return [("Username", user), ("Password", password)]


def assert_digit(resp: httpx.Response, digit: int) -> None:
    assert resp.status_code == 200
    assert resp.headers["content-type"].startswith("text/plain")
    assert resp.content == str(digit).encode()


def test_accepts_a_fax_and_stores_it(server: Server) -> None:
    resp = submit(
        server,
        [
            *creds(),
            ("Recipient", "+1 (650) 555-0101|Dr. Who"),
            ("Recipient", "+49 30 123456"),
            ("Coverpage", "None"),
            ("Resolution", "low"),
            ("Coverpagetext", "  Hello\nthere  "),
        ],
        [("Attachment", ("letter.pdf", PDF)), ("Attachment", ("notes.txt", b"plain words"))],
    )
    assert_digit(resp, 0)
    sub = submission_by_request(server.data_dir, resp.headers["x-request-id"])
    assert sub is not None and sub.state == "accepted"
    assert [(j.number, j.name, j.state) for j in sub.jobs] == [
        ("+16505550101", "Dr. Who", "accepted"),
        ("+4930123456", "", "accepted"),
    ]
    assert [d.filename for d in sub.documents] == ["letter.pdf", "notes.txt"]
    assert document_bytes(server.data_dir, sub.documents[0].blob_key) == PDF
    assert (sub.resolution, sub.cover_page, sub.cover_text) == ("low", "none", "Hello\nthere")


@pytest.mark.parametrize("path", ["/faxapi.asp", "/faxapi", "/faxout"])
def test_aliases(server: Server, path: str) -> None:
    assert_digit(
        submit(
            server,
            [*creds(), ("Recipient", "5551234")],
            [("Attachment", ("a.txt", b"x"))],
            path=path,
        ),
        0,
    )


def test_code_order(server: Server) -> None:
    # Everything wrong at once: authorization is checked first.
    assert_digit(submit(server, creds(password="nope")), 1)
    assert_digit(submit(server, [("Username", USER)]), 1)
    assert_digit(submit(server, creds(BLOCKED), [("Attachment", ("a.txt", b"x"))]), 2)
    assert_digit(submit(server, creds()), 3)
    assert_digit(
        submit(server, [*creds(), ("Recipient", "|name only")], [("Attachment", ("a.txt", b"x"))]),
        3,
    )
    assert_digit(submit(server, [*creds(), ("Recipient", "5551234")]), 4)
    assert_digit(
        submit(server, [*creds(), ("Recipient", "5551234")], [("Attachment", ("empty.pdf", b""))]),
        4,
    )


def test_unknown_user_and_empty_password_fail(server: Server) -> None:
    assert_digit(submit(server, creds("15550000001")), 1)
    assert_digit(submit(server, creds(password="")), 1)


def test_username_spelled_with_plus_spaces_dashes(server: Server) -> None:
    resp = submit(
        server,
        [("Username", "+1 555-123-0000"), ("Password", PASSWORD), ("Recipient", "5551234")],
        [("Attachment", ("a.txt", b"x"))],
    )
    assert_digit(resp, 0)


def test_field_names_case_php_suffixes_order_unknown_fields(server: Server) -> None:
    body = multipart(
        [
            file_part("ATTACHMENT[]", "one.pdf", PDF),
            field("recipient[0]", " 5550001|First "),
            field("RECIPIENT[1]", "5550002"),
            field("password", f"  {PASSWORD}  "),
            field("Extra", "ignored"),
            field("Sendtime", ""),
            field("uSeRnAmE", USER),
            file_part("Attachment[]", "two.txt", b"second", "text/plain"),
        ]
    )
    resp = send_raw(
        server.port,
        post("/faxapi.asp", body, "multipart/form-data; boundary=----faxoutTestBoundary"),
    )
    assert (resp.status, resp.body) == (200, b"0")
    sub = submission_by_request(server.data_dir, resp.headers["x-request-id"])
    assert sub is not None
    # Seven digits: a local number, in the account's area code (555).
    assert [j.number for j in sub.jobs] == ["+15555550001", "+15555550002"]
    assert [j.name for j in sub.jobs] == ["First", ""]
    assert [d.filename for d in sub.documents] == ["one.pdf", "two.txt"]


@pytest.mark.parametrize(
    ("ctype", "disposition", "expected"),
    [
        (
            'multipart/form-data; boundary="b0und"',
            "form-data; name=Attachment; filename=plain.pdf",
            "plain.pdf",
        ),
        (
            "multipart/form-data; boundary=b0und",
            "form-data; name=\"Attachment\"; filename*=UTF-8''%E2%82%AC%20bill.pdf",
            "€ bill.pdf",
        ),
        (
            "multipart/form-data;boundary=b0und",
            'form-data; name="Attachment"; filename="=?UTF-8?B?w6l0w6kucGRm?="',
            "été.pdf",
        ),
        (
            "Multipart/Form-Data; charset=utf-8; boundary=b0und",
            'form-data; name="Attachment"; filename="C:\\Users\\me\\x.doc"',
            "x.doc",
        ),
        (
            "multipart/form-data; boundary=b0und",
            'form-data; name="Attachment"; filename="C:\\\\Users\\\\me\\\\y.doc"',
            "y.doc",
        ),
        (
            "multipart/form-data; boundary=b0und",
            'form-data; name="Attachment"; filename="/home/me/z.pdf"',
            "z.pdf",
        ),
    ],
)
def test_boundary_and_filename_styles(
    server: Server, ctype: str, disposition: str, expected: str
) -> None:
    body = multipart(
        [
            field("Username", USER),
            field("Password", PASSWORD),
            field("Recipient", "5551234"),
            (f"Content-Disposition: {disposition}", PDF),
        ],
        boundary="b0und",
    )
    resp = send_raw(server.port, post("/faxapi.asp", body, ctype))
    assert (resp.status, resp.body) == (200, b"0")
    sub = submission_by_request(server.data_dir, resp.headers["x-request-id"])
    assert sub is not None and [d.filename for d in sub.documents] == [expected]


def test_parts_without_content_type_with_transfer_encoding_and_no_final_crlf(
    server: Server,
) -> None:
    body = multipart(
        [
            (
                'Content-Disposition: form-data; name="Username"\r\nContent-Type: text/plain; charset=us-ascii\r\nContent-Transfer-Encoding: 7bit',
                USER.encode(),
            ),
            ('Content-Disposition: form-data; name="Password"', PASSWORD.encode()),
            ('Content-Disposition: form-data; name="Recipient"', b"5551234"),
            (
                'Content-Disposition: form-data; name="Attachment"; filename="b64.pdf"\r\nContent-Type: application/pdf\r\nContent-Transfer-Encoding: base64',
                base64.encodebytes(PDF * 3).replace(b"\n", b"\r\n"),
            ),
            (
                'Content-Disposition: form-data; name="Attachment"; filename="qp.txt"\r\nContent-Transfer-Encoding: quoted-printable',
                b"caf=C3=A9 =\r\nsoft break",
            ),
        ],
        boundary="xyz",
        closing=b"",
    )
    resp = send_raw(server.port, post("/faxapi.asp", body, "multipart/form-data; boundary=xyz"))
    assert (resp.status, resp.body) == (200, b"0")
    sub = submission_by_request(server.data_dir, resp.headers["x-request-id"])
    assert sub is not None
    assert document_bytes(server.data_dir, sub.documents[0].blob_key) == PDF * 3
    assert document_bytes(server.data_dir, sub.documents[1].blob_key) == "café soft break".encode()


def test_urlencoded_body_with_plain_value_attachments(server: Server) -> None:
    resp = httpx.post(
        server.url + "/faxapi.asp",
        timeout=30,
        data={
            "Username": USER,
            "Password": PASSWORD,
            "Recipient": ["5551234|A", "5551235"],
            "Attachment": ["<html><body><h1>Order 42</h1></body></html>", "just text\n"],
        },
    )
    assert_digit(resp, 0)
    sub = submission_by_request(server.data_dir, resp.headers["x-request-id"])
    assert sub is not None
    assert [d.filename for d in sub.documents] == ["attachment-1.html", "attachment-2.txt"]
    assert document_bytes(server.data_dir, sub.documents[0].blob_key).startswith(b"<html>")


def test_plain_value_attachment_in_multipart(server: Server) -> None:
    resp = submit(server, [*creds(), ("Recipient", "5551234"), ("Attachment", "Hello from a form")])
    assert_digit(resp, 0)
    sub = submission_by_request(server.data_dir, resp.headers["x-request-id"])
    assert sub is not None and [d.filename for d in sub.documents] == ["attachment-1.txt"]


def test_some_recipients_invalid_are_noted_duplicates_merged(server: Server) -> None:
    resp = submit(
        server,
        [
            *creds(),
            ("Recipient", "5551234|Bob"),
            ("Recipient", "call-me|Eve"),
            ("Recipient", "555-1234|Bob again"),
            ("Recipient", ""),
        ],
        [("Attachment", ("a.txt", b"x"))],
    )
    assert_digit(resp, 0)
    sub = submission_by_request(server.data_dir, resp.headers["x-request-id"])
    assert sub is not None
    assert [(j.number, j.name) for j in sub.jobs] == [("+15555551234", "Bob")]
    assert any("call-me" in n for n in sub.notes)
    assert any("more than once" in n for n in sub.notes)


def test_sendtime_coverpage_resolution_semantics(server: Server) -> None:
    ahead = datetime.now(UTC) + timedelta(days=40)
    resp = submit(
        server,
        [
            *creds(),
            ("Recipient", "5551234"),
            ("Sendtime", ahead.strftime("%d:%m:%y %H:%M")),
            ("Coverpage", "Fancy"),
            ("Resolution", "ultra"),
        ],
        [("Attachment", ("a.txt", b"x"))],
    )
    assert_digit(resp, 0)
    sub = submission_by_request(server.data_dir, resp.headers["x-request-id"])
    assert sub is not None
    assert sub.send_at.strftime("%Y-%m-%d %H:%M") == ahead.strftime("%Y-%m-%d %H:%M")
    assert (sub.cover_page, sub.resolution) == ("default", "high")
    assert any("Fancy" in n for n in sub.notes) and any("ultra" in n for n in sub.notes)
    for bad in ("32:01:30 10:00", "tomorrow", "01:01:20 10:00"):
        resp = submit(
            server,
            [*creds(), ("Recipient", "5551234"), ("Sendtime", bad)],
            [("Attachment", ("a.txt", b"x"))],
        )
        assert_digit(resp, 0)
        sub = submission_by_request(server.data_dir, resp.headers["x-request-id"])
        assert sub is not None and sub.send_at.year == sub.created_at.year
        assert sub.send_at <= sub.created_at


def test_installed_cover_page_matched_case_insensitively(server: Server) -> None:
    covers = server.data_dir / "coverpages"
    covers.mkdir(exist_ok=True)
    (covers / "Legal.html").write_text("<p>legal</p>")
    resp = submit(
        server,
        [*creds(), ("Recipient", "5551234"), ("Coverpage", "LEGAL")],
        [("Attachment", ("a.txt", b"x"))],
    )
    assert_digit(resp, 0)
    sub = submission_by_request(server.data_dir, resp.headers["x-request-id"])
    assert sub is not None and sub.cover_page == "Legal" and sub.notes == []


def test_limits_answer_5(server: Server) -> None:
    many = [("Recipient", f"555{i:04d}") for i in range(101)]
    assert_digit(submit(server, [*creds(), *many], [("Attachment", ("a.txt", b"x"))]), 5)
    assert_digit(
        submit(
            server,
            [*creds(), ("Recipient", "5551234"), ("Coverpagetext", "x" * 10_001)],
            [("Attachment", ("a.txt", b"x"))],
        ),
        5,
    )
    files = [("Attachment", (f"{i}.txt", b"x")) for i in range(51)]
    assert_digit(submit(server, [*creds(), ("Recipient", "5551234")], files), 5)
    # Still 1 when the credentials are wrong: authorization comes first.
    assert_digit(
        submit(server, [*creds(password="x"), *many], [("Attachment", ("a.txt", b"x"))]), 1
    )


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"this is not multipart at all",
        b"--other\r\nContent-Disposition: form-data; name=x\r\n\r\ny\r\n--other--",
        b'------faxoutTestBoundary\r\nContent-Disposition: form-data; name="Username"\r\n\r\n'
        + USER.encode(),
        b"------faxoutTestBoundary\r\nGarbage-without-colon\r\n\r\nx",
        b"\x00\xff" * 100,
    ],
)
def test_malformed_bodies_answer_5(server: Server, body: bytes) -> None:
    resp = send_raw(
        server.port,
        post("/faxapi.asp", body, "multipart/form-data; boundary=----faxoutTestBoundary"),
    )
    assert (resp.status, resp.headers["content-type"].split(";")[0], resp.body) == (
        200,
        "text/plain",
        b"5",
    )


def test_truncated_upload_with_good_credentials_is_5_and_stores_nothing(server: Server) -> None:
    body = multipart(
        [
            field("Username", USER),
            field("Password", PASSWORD),
            field("Recipient", "5551234"),
            file_part("Attachment", "cut.pdf", PDF * 100),
        ]
    )[:-200]
    before = sorted((server.data_dir / "spool").iterdir())
    resp = send_raw(
        server.port,
        post("/faxapi.asp", body, "multipart/form-data; boundary=----faxoutTestBoundary"),
    )
    assert resp.body == b"5"
    assert sorted((server.data_dir / "spool").iterdir()) == before


def test_http_1_0(server: Server) -> None:
    body = multipart(
        [
            field("Username", USER),
            field("Password", PASSWORD),
            field("Recipient", "5551234"),
            file_part("Attachment", "a.pdf", PDF),
        ]
    )
    resp = send_raw(
        server.port,
        post(
            "/faxapi.asp",
            body,
            "multipart/form-data; boundary=----faxoutTestBoundary",
            version="1.0",
        ),
    )
    assert (resp.status, resp.body) == (200, b"0")


def test_expect_100_continue(server: Server) -> None:
    body = multipart(
        [
            field("Username", USER),
            field("Password", PASSWORD),
            field("Recipient", "5551234"),
            file_part("Attachment", "a.pdf", PDF),
        ]
    )
    head = post(
        "/faxapi.asp",
        b"",
        "multipart/form-data; boundary=----faxoutTestBoundary",
        extra="Expect: 100-continue\r\n",
    ).replace(b"Content-Length: 0", f"Content-Length: {len(body)}".encode())
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head)
        first = sock.recv(1024)
        assert first.startswith(b"HTTP/1.1 100")
        sock.sendall(body)
        resp = read_response(sock, bytearray(first.partition(b"\r\n\r\n")[2]))
    assert (resp.status, resp.body) == (200, b"0")


def test_oversized_with_expect_is_refused_before_upload(server: Server) -> None:
    head = (
        b"POST /faxapi.asp HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=b\r\n"
        b"Content-Length: 60000000\r\nExpect: 100-continue\r\n\r\n"
    )
    with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
        sock.sendall(head)
        resp = read_response(sock)
    assert (resp.status, resp.body, resp.interim) == (200, b"5", [])


def test_chunked_body(server: Server) -> None:
    body = multipart(
        [
            field("Username", USER),
            field("Password", PASSWORD),
            field("Recipient", "5551234"),
            file_part("Attachment", "a.pdf", PDF * 50),
        ]
    )
    chunks = (
        b"".join(
            f"{len(body[i : i + 97]):x}\r\n".encode() + body[i : i + 97] + b"\r\n"
            for i in range(0, len(body), 97)
        )
        + b"0\r\n\r\n"
    )
    req = (
        b"POST /faxapi.asp HTTP/1.1\r\nHost: x\r\nContent-Type: multipart/form-data; boundary=----faxoutTestBoundary\r\n"
        b"Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    ) + chunks
    resp = send_raw(server.port, req)
    assert (resp.status, resp.body) == (200, b"0")
    sub = submission_by_request(server.data_dir, resp.headers["x-request-id"])
    assert (
        sub is not None and document_bytes(server.data_dir, sub.documents[0].blob_key) == PDF * 50
    )


def test_boundary_missing_from_header_is_taken_from_body(server: Server) -> None:
    body = multipart(
        [
            field("Username", USER),
            field("Password", PASSWORD),
            field("Recipient", "5551234"),
            file_part("Attachment", "a.pdf", PDF),
        ]
    )
    resp = send_raw(server.port, post("/faxapi.asp", body, "multipart/form-data"))
    assert resp.body == b"0"


def test_get_is_answered_with_a_digit(server: Server) -> None:
    resp = httpx.get(
        server.url + "/faxapi.asp",
        params={"Username": USER, "Password": PASSWORD, "Recipient": "5551234"},
        timeout=30,
    )
    assert_digit(resp, 4)


def test_request_log_line_has_no_password(server: Server) -> None:
    submit(server, [*creds(), ("Recipient", "5551234")], [("Attachment", ("a.txt", b"x"))])
    log = server.log()
    assert "faxout request" in log and "request_id=" in log and "code=0" in log
    assert PASSWORD not in log and "correct" not in log
