"""The streaming FaxOut body parser, fed in arbitrary chunks."""

from __future__ import annotations

import string
import urllib.parse

from hypothesis import given, settings
from hypothesis import strategies as st

from faxout.blobs.memory import MemoryBlobStore
from faxout.intake.faxout.parser import FormParser, ParsedForm
from faxout.ops.settings import Limits


def parse(
    ctype: str | None, body: bytes, chunk: int = 1 << 16, limits: Limits | None = None
) -> tuple[ParsedForm, MemoryBlobStore]:
    store = MemoryBlobStore()
    parser = FormParser(ctype, store, limits or Limits())
    for i in range(0, len(body), chunk):
        parser.feed(body[i : i + chunk])
    form = parser.finish()
    for att in form.attachments:
        if form.problem is None:
            att.upload.commit()
    return form, store


def contents(form: ParsedForm, store: MemoryBlobStore) -> list[bytes]:
    return [store.blobs[a.upload.commit()] for a in form.attachments]


def test_field_over_the_per_field_cap_is_a_problem() -> None:
    body = b"Username=" + b"1" * 2000
    form, _ = parse("application/x-www-form-urlencoded", body, limits=Limits(max_field_bytes=1000))
    assert form.problem is not None and "username" in form.problem


def test_body_over_the_limit_keeps_earlier_fields_and_parses_nothing_after() -> None:
    big = b"A" * 5000
    body = (
        b"--b\r\nContent-Disposition: form-data; name=Username\r\n\r\n123\r\n"
        b"--b\r\nContent-Disposition: form-data; name=Attachment; filename=x.pdf\r\n\r\n"
        + big
        + b"\r\n--b\r\nContent-Disposition: form-data; name=Password\r\n\r\nsecret\r\n--b--\r\n"
    )
    form, store = parse(
        "multipart/form-data; boundary=b", body, chunk=100, limits=Limits(max_body_bytes=2048)
    )
    assert form.problem is not None and "larger than 2048" in form.problem
    assert form.first("username") == "123"
    assert form.first("password") is None  # past the limit: counted, not parsed
    assert form.attachments[0].received < 2048
    assert form.body_bytes == len(body)
    assert store.blobs == {}


def test_too_many_parts_stops_parsing() -> None:
    part = b"--b\r\nContent-Disposition: form-data; name=x\r\n\r\ny\r\n"
    form, _ = parse(
        "multipart/form-data; boundary=b", part * 20 + b"--b--", limits=Limits(max_parts=10)
    )
    assert form.problem == "more than 10 parts"


def test_percent_escape_split_across_chunks() -> None:
    body = b"Attachment=%E2%82%AC%20" + b"%41" * 50 + b"&Recipient=1%7CA+B"
    form, store = parse("application/x-www-form-urlencoded", body, chunk=1)
    assert contents(form, store) == ["€ ".encode() + b"A" * 50]
    assert form.fields["recipient"] == ["1|A B"]


def test_sniffs_urlencoded_without_content_type() -> None:
    form, _ = parse(None, b"Username=1&Password=2")
    assert (form.first("username"), form.first("password"), form.problem) == ("1", "2", None)


def test_latin1_field_values_decode() -> None:
    form, _ = parse(
        "multipart/form-data; boundary=b",
        b"--b\r\nContent-Disposition: form-data; name=Recipient\r\n\r\n123|Jos\xe9\r\n--b--",
    )
    assert form.fields["recipient"] == ["123|José"]


def test_bad_base64_is_a_problem() -> None:
    body = (
        b"--b\r\nContent-Disposition: form-data; name=Attachment; filename=a\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!!\r\n--b--"
    )
    form, _ = parse("multipart/form-data; boundary=b", body)
    assert form.problem is not None and "base64" in form.problem


_name = st.text(alphabet=string.ascii_letters + "é€ _-.()", min_size=1, max_size=30).filter(
    lambda n: n.strip() not in {"", ".", ".."}
)
_value = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\r\n\x00"),
    max_size=50,
)


@st.composite
def requests(draw: st.DrawFn) -> tuple[list[tuple[str, str]], list[tuple[str, bytes]]]:
    fields = draw(
        st.lists(
            st.tuples(
                st.sampled_from(
                    ["Username", "PASSWORD", "recipient", "Recipient[]", "Coverpagetext", "Other"]
                ),
                _value,
            ),
            max_size=6,
        )
    )
    files = draw(st.lists(st.tuples(_name, st.binary(max_size=3000)), max_size=4))
    return fields, files


def _canon(name: str) -> str | None:
    from faxout.intake.faxout.fields import canonical

    return canonical(name)


@settings(max_examples=150, deadline=None)
@given(
    req=requests(),
    boundary=st.text(
        alphabet=string.ascii_letters + string.digits + "'()+_,-./:=?", min_size=1, max_size=60
    ),
    quoted=st.booleans(),
    chunk=st.integers(1, 700),
    data=st.data(),
)
def test_multipart_round_trip(
    req: tuple[list[tuple[str, str]], list[tuple[str, bytes]]],
    boundary: str,
    quoted: bool,
    chunk: int,
    data: st.DataObject,
) -> None:
    fields, files = req
    parts: list[bytes] = []
    for name, value in fields:
        parts.append(f'Content-Disposition: form-data; name="{name}"\r\n\r\n{value}'.encode())
    for fname, content in files:
        parts.append(
            f'Content-Disposition: form-data; name="Attachment"; filename="{fname}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n".encode()
            + content
        )
    order = data.draw(st.permutations(range(len(parts))))
    body = (
        b"".join(b"--" + boundary.encode() + b"\r\n" + parts[i] + b"\r\n" for i in order)
        + b"--"
        + boundary.encode()
        + b"--\r\n"
    )
    shown = f'"{boundary}"' if quoted or any(c in boundary for c in "()<>@,;:/[]?=") else boundary
    form, store = parse(f"multipart/form-data; boundary={shown}", body, chunk)
    assert form.problem is None
    expected: dict[str, list[str]] = {}
    for i in order:
        if i < len(fields):
            key = _canon(fields[i][0])
            if key:
                expected.setdefault(key, []).append(fields[i][1].strip())
    assert form.fields == expected
    got = [(a.filename, store.blobs[a.upload.commit()]) for a in form.attachments]
    want = [
        (files[i - len(fields)][0].strip(), files[i - len(fields)][1])
        for i in order
        if i >= len(fields)
    ]
    assert got == want


@settings(max_examples=100, deadline=None)
@given(
    fields=st.lists(
        st.tuples(st.sampled_from(["Username", "Recipient", "Attachment", "x"]), _value),
        min_size=1,
        max_size=8,
    ),
    chunk=st.integers(1, 50),
)
def test_urlencoded_round_trip(fields: list[tuple[str, str]], chunk: int) -> None:
    body = urllib.parse.urlencode(fields).encode()
    form, store = parse("application/x-www-form-urlencoded", body, chunk)
    assert form.problem is None
    assert [store.blobs[a.upload.commit()].decode() for a in form.attachments] == [
        v for k, v in fields if k == "Attachment"
    ]
    for key in ("Username", "Recipient"):
        assert form.fields.get(key.lower(), []) == [v.strip() for k, v in fields if k == key]


@settings(max_examples=300, deadline=None)
@given(
    ctype=st.sampled_from(
        [
            None,
            "multipart/form-data; boundary=b",
            "multipart/form-data",
            "application/x-www-form-urlencoded",
            "text/plain",
        ]
    ),
    body=st.binary(max_size=2000),
    chunk=st.integers(1, 300),
)
def test_garbage_never_raises(ctype: str | None, body: bytes, chunk: int) -> None:
    form, _ = parse(ctype, body, chunk)
    assert isinstance(form, ParsedForm)


@settings(max_examples=200, deadline=None)
@given(
    prefix=st.sampled_from(
        [
            b"--b\r\nContent-Disposition: form-data; name=Attachment; filename=a\r\n\r\n",
            b"--b\r\n",
            b"preamble\r\n--b\r\n",
        ]
    ),
    body=st.binary(max_size=500),
    chunk=st.integers(1, 64),
)
def test_structured_garbage_never_raises(prefix: bytes, body: bytes, chunk: int) -> None:
    form, _ = parse("multipart/form-data; boundary=b", prefix + body, chunk)
    assert isinstance(form, ParsedForm)


def test_max_parts_is_exact_within_one_chunk() -> None:
    """Nothing after the refused part is parsed, although it is all in the same chunk."""
    part = b"--b\r\nContent-Disposition: form-data; name=x\r\n\r\ny\r\n"
    late = b"--b\r\nContent-Disposition: form-data; name=Attachment; filename=a\r\n\r\nz\r\n"
    exact = part * 9 + late + b"--b--\r\n"
    form, _ = parse("multipart/form-data; boundary=b", exact, limits=Limits(max_parts=10))
    assert form.problem is None and len(form.attachments) == 1
    over = part * 10 + late + b"--b\r\nContent-Disposition: form-data; name=Username\r\n\r\n1\r\n"
    form, store = parse("multipart/form-data; boundary=b", over, limits=Limits(max_parts=10))
    assert form.problem == "more than 10 parts"
    assert form.attachments == [] and form.fields == {} and store.blobs == {}


def test_urlencoded_fields_count_against_max_parts_exactly() -> None:
    ten = b"&".join(b"f%d=v" % i for i in range(9)) + b"&Username=1"
    form, _ = parse("application/x-www-form-urlencoded", ten, limits=Limits(max_parts=10))
    assert (form.problem, form.first("username")) == (None, "1")
    form, _ = parse(
        "application/x-www-form-urlencoded", ten + b"&Password=2", limits=Limits(max_parts=10)
    )
    assert form.problem == "more than 10 fields" and form.first("password") is None


def test_urlencoded_separators_alone_are_no_fields() -> None:
    body = b"&&&;;&" * 1000 + b"Username=1&&Password=2;Recipient=3&&flag&"
    form, _ = parse("application/x-www-form-urlencoded", body, chunk=7, limits=Limits(max_parts=4))
    assert form.problem is None
    assert (form.first("username"), form.first("password"), form.first("recipient")) == (
        "1",
        "2",
        "3",
    )


def _qp_part(content: bytes) -> bytes:
    return (
        b"--b\r\nContent-Disposition: form-data; name=Attachment; filename=a\r\n"
        b"Content-Transfer-Encoding: quoted-printable\r\n\r\n" + content + b"\r\n--b--\r\n"
    )


@settings(max_examples=30, deadline=None)
@given(chunk=st.integers(1, 1200), crlf=st.booleans())
def test_quoted_printable_lines_up_to_998_bytes(chunk: int, crlf: bool) -> None:
    eol = b"\r\n" if crlf else b"\n"
    ok = b"a" * 997 + b"=" + eol + b"b" * 998 + eol + b"=41" * 332
    form, store = parse("multipart/form-data; boundary=b", _qp_part(ok), chunk)
    assert form.problem is None
    assert contents(form, store) == [
        b"a" * 997 + b"b" * 998 + (b"\n" if not crlf else eol) + b"A" * 332
    ]
    form, _ = parse(
        "multipart/form-data; boundary=b", _qp_part(b"b" * 998 + eol + b"c" * 999), chunk
    )
    assert form.problem == "malformed attachment: quoted-printable line longer than 998 bytes"


def test_quoted_printable_without_newline_stops_at_the_999th_byte() -> None:
    body = _qp_part(b"=41" * 3_000_000)
    form, _ = parse("multipart/form-data; boundary=b", body)
    assert form.problem == "malformed attachment: quoted-printable line longer than 998 bytes"
    assert form.attachments[0].received == 0


def test_attachment_bytes_past_a_refusal_are_not_decoded() -> None:
    """Over max_attachments nothing is kept, so the extra attachments are not even decoded:
    a bad base64 one does not replace the reason."""
    good = b"--b\r\nContent-Disposition: form-data; name=Attachment; filename=a\r\n\r\nx\r\n"
    bad = (
        b"--b\r\nContent-Disposition: form-data; name=Attachment; filename=b\r\n"
        b"Content-Transfer-Encoding: base64\r\n\r\n!!!\r\n"
    )
    form, _ = parse(
        "multipart/form-data; boundary=b",
        good * 2 + bad + b"--b\r\nContent-Disposition: form-data; name=Username\r\n\r\n1\r\n--b--",
        limits=Limits(max_attachments=2),
    )
    assert form.problem == "more than 2 attachments"
    assert form.first("username") == "1"
