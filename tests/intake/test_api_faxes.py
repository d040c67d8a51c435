"""The status API's second part through a real embedded gateway: labels, the list's filters,
multipart submission and resend, each as a program sees it."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.intake.test_api import (
    DESK,
    NOT_FAX,
    PASSWORD,
    api,
    new_fax,
    post,
    until,
)
from tests.intake.test_api import token as new_token
from tests.server import Server, start_server

USER, OTHER, LISTER = "16505551234", "16505559999", "16505557777"


@pytest.fixture(scope="module")
def gw(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    srv = start_server(
        tmp_path_factory.mktemp("api-faxes"),
        FAXOUT_DEMO_ACCOUNT="false",
        FAXOUT_LIMITS__MAX_BODY_BYTES="300000",  # so a body over the limit is quick to send
        FAXOUT_API__SYNC_OVERLAP_SECONDS="0",  # a sync answers exactly what changed since
    )
    try:
        for user in (USER, OTHER, LISTER):
            srv.add_user(user, PASSWORD, "--email", f"{user}@example.com")
        yield srv
    finally:
        srv.kill()


_TOKENS: dict[tuple[int, str, tuple[str, ...]], str] = {}


def token(gw: Server, user: str = USER, *args: str) -> str:
    """A token of ``user`` (made once per server: each `faxout token create` is a process)."""
    key = (gw.port, user, args)
    if key not in _TOKENS:
        _TOKENS[key] = new_token(gw, user, *args)
    return _TOKENS[key]


def get(gw: Server, secret: str, fid: int) -> dict[str, Any]:
    answer = api(gw, secret, "GET", f"/faxes/{fid}")
    assert answer.status_code == 200, answer.text
    got: dict[str, Any] = answer.json()
    return got


def settled(gw: Server, secret: str, fid: int) -> dict[str, Any]:
    return until(
        lambda: get(gw, secret, fid),
        lambda f: f["state"] in ("delivered", "partial", "failed", "canceled"),
    )


def ids(answer: httpx.Response) -> list[int]:
    assert answer.status_code == 200, answer.text
    return [f["id"] for f in answer.json()["items"]]


def is_problem(answer: httpx.Response, status: int | tuple[int, ...], says: str = "") -> None:
    statuses = (status,) if isinstance(status, int) else status
    assert answer.status_code in statuses, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert says in answer.json()["detail"], answer.json()
    titles = {400: "Bad Request", 413: "Content Too Large", 422: "Unprocessable Content"}
    assert answer.json()["title"] == titles.get(answer.status_code, answer.json()["title"])


# -- labels and filters -----------------------------------------------------------------------


def test_labels_round_trip(gw: Server) -> None:
    secret = token(gw)
    labels = {"order": "4711", "team:billing": "a value: with colons", "x.y-z_1": ""}
    made = post(gw, secret, new_fax(DESK, labels=labels))
    assert made.status_code == 201, made.text
    assert made.json()["labels"] == labels
    assert get(gw, secret, made.json()["id"])["labels"] == labels
    plain = post(gw, secret, new_fax(DESK)).json()
    assert plain["labels"] == {}


@pytest.mark.parametrize(
    ("labels", "says"),
    [
        ({f"k{i}": "v" for i in range(21)}, "at most 20 labels"),
        ({"has space": "v"}, "label 'has space'"),
        ({"": "v"}, "label ''"),
        ({"k" * 65: "v"}, "a key is 1 to 64"),
        ({"long": "v" * 257}, "label 'long': a value is at most 256"),
        ({"n": 5}, "labels.n: Input should be a valid string"),
        (["a"], "labels: Input should be an object"),
    ],
)
def test_a_bad_label_is_a_422_naming_it(gw: Server, labels: Any, says: str) -> None:
    is_problem(post(gw, token(gw), new_fax(DESK, labels=labels)), 422, says)


def test_labels_take_part_in_the_idempotency_key(gw: Server) -> None:
    secret = token(gw)
    later = (datetime.now(UTC) + timedelta(hours=6)).isoformat()
    first = post(gw, secret, new_fax(DESK, send_at=later, labels={"a": "1"}), key="labels-1")
    again = post(gw, secret, new_fax(DESK, send_at=later, labels={"a": "1"}), key="labels-1")
    other = post(gw, secret, new_fax(DESK, send_at=later, labels={"a": "2"}), key="labels-1")
    assert (first.status_code, again.status_code, other.status_code) == (201, 200, 409)
    assert again.json()["id"] == first.json()["id"]


def test_each_filter_of_the_list(gw: Server) -> None:
    secret = token(gw, LISTER)
    later = (datetime.now(UTC) + timedelta(hours=6)).isoformat()

    def send(*numbers: str, **extra: Any) -> int:
        made = post(gw, secret, new_fax(*numbers, **extra))
        assert made.status_code == 201, made.text
        return int(made.json()["id"])

    before = datetime.now(UTC)
    delivered = send(DESK, labels={"team": "a", "order": "1"})
    failed = send(NOT_FAX, labels={"team": "a", "order": "2"})
    partial = send(DESK, NOT_FAX, labels={"team": "b"})
    waiting = send("+1 555 012 3457", send_at=later)  # another number, written another way
    canceled = send(DESK, send_at=later)
    assert api(gw, secret, "POST", f"/faxes/{canceled}/cancel").status_code == 200
    for fid in (delivered, failed, partial):
        settled(gw, secret, fid)
    until(lambda: get(gw, secret, waiting), lambda f: f["state"] == "sending")

    def listed(**params: Any) -> list[int]:
        return ids(api(gw, secret, "GET", "/faxes", **params))

    assert listed(state="delivered") == [delivered]
    assert listed(state="failed") == [failed]
    assert listed(state="partial") == [partial]
    assert listed(state="canceled") == [canceled]
    assert listed(state="sending") == [waiting]
    assert listed(state="queued") == listed(state="rendering") == []
    assert listed(state="delivered,failed") == [failed, delivered]
    assert listed(state=["delivered", "partial"]) == [partial, delivered]
    assert listed(recipient="+15550123456") == [canceled, partial, delivered]
    # Read as a submission reads it: national numbers in the account's region (+1 here).
    assert listed(recipient="(555) 012-3457") == listed(recipient="+1 555-012-3457") == [waiting]
    assert listed(recipient="+15550123458") == []
    assert listed(label="team:a") == [failed, delivered]
    assert listed(label=["team:a", "order:2"]) == [failed]
    assert listed(label="team:c") == []
    assert listed(state="failed", label="team:b") == []
    now = datetime.now(UTC)
    assert listed(created_after=before.isoformat(), created_before=now.isoformat()) == [
        canceled,
        waiting,
        partial,
        failed,
        delivered,
    ]
    assert listed(created_after=now.isoformat()) == []
    assert listed(created_before=before.isoformat()) == []
    # Filters go with the cursor: pages of one, within the filter.
    page = api(gw, secret, "GET", "/faxes", recipient=DESK, limit=1).json()
    assert [f["id"] for f in page["items"]] == [canceled]
    rest = api(gw, secret, "GET", "/faxes", recipient=DESK, limit=2, cursor=page["next_cursor"])
    assert ids(rest) == [partial, delivered] and rest.json()["next_cursor"] is None
    # ... and with the sync token: only what changed since, among what the filter keeps.
    token_now = api(gw, secret, "GET", "/faxes", label="team:a").json()["sync_token"]
    again = send(DESK, labels={"team": "a"})
    send(DESK, labels={"team": "b"})
    changed = until(
        lambda: api(gw, secret, "GET", "/faxes", label="team:a", sync_token=token_now).json(),
        lambda p: p["items"] and all(f["state"] == "delivered" for f in p["items"]),
    )
    assert [f["id"] for f in changed["items"]] == [again]


@pytest.mark.parametrize(
    ("params", "says"),
    [
        ({"state": "lost"}, "'lost' is not one of queued, rendering"),
        ({"state": "delivered,nope"}, "'nope'"),
        ({"label": "nocolon"}, "'nocolon' is not key:value"),
        ({"label": "bad key:v"}, "is not key:value"),
        ({"recipient": "not a number"}, "recipient"),
        ({"created_after": "2026-12-01T10:00:00"}, "created_after: Input should have timezone"),
        ({"created_before": "yesterday"}, "created_before"),
    ],
)
def test_a_bad_filter_is_a_problem(gw: Server, params: dict[str, str], says: str) -> None:
    is_problem(api(gw, token(gw), "GET", "/faxes", **params), (400, 422), says)


# -- multipart --------------------------------------------------------------------------------


def fax_part(*numbers: str, **extra: Any) -> dict[str, Any]:
    return {"to": [{"number": n} for n in numbers], **extra}


def multipart(
    gw: Server,
    secret: str,
    fields: Any,
    *documents: tuple[str, bytes, str],
    key: str | None = None,
) -> httpx.Response:
    headers = {"Authorization": f"Bearer {secret}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    text = fields if isinstance(fields, str) else json.dumps(fields)
    files = [("fax", (None, text.encode(), "application/json"))]
    files += [("document", doc) for doc in documents]
    return httpx.post(f"{gw.url}/api/v1/faxes", files=files, headers=headers, timeout=60)


def raw_post(gw: Server, secret: str, body: bytes, content_type: str) -> httpx.Response:
    headers = {"Authorization": f"Bearer {secret}", "Content-Type": content_type}
    return httpx.post(f"{gw.url}/api/v1/faxes", content=body, headers=headers, timeout=60)


def test_a_multipart_fax_is_delivered_with_its_files(gw: Server) -> None:
    secret = token(gw)
    made = multipart(
        gw,
        secret,
        fax_part(DESK, cover_text="Multipart", labels={"via": "multipart"}),
        ("first.txt", b"first document", "text/plain"),
        ("second.txt", b"second document\n" * 10, "text/plain; charset=utf-8"),
    )
    assert made.status_code == 201, made.text
    assert made.headers["location"] == f"/api/v1/faxes/{made.json()['id']}"
    assert made.json()["documents"] == [
        {"filename": "first.txt", "content_type": "text/plain", "size": 14},
        {"filename": "second.txt", "content_type": "text/plain", "size": 160},
    ]
    assert made.json()["labels"] == {"via": "multipart"}
    done = settled(gw, secret, made.json()["id"])
    assert done["state"] == "delivered"
    assert done["recipients"][0]["pages_confirmed"] == 3  # the cover page and one a document


def test_multipart_and_json_of_one_fax_share_an_idempotency_key(gw: Server) -> None:
    secret = token(gw)
    later = (datetime.now(UTC) + timedelta(hours=6)).isoformat()
    fields = fax_part(DESK, send_at=later, labels={"k": "v"})
    doc = ("a.txt", b"the same bytes", "text/plain")
    first = multipart(gw, secret, fields, doc, key="mp-1")
    again = multipart(gw, secret, fields, doc, key="mp-1")
    assert (first.status_code, again.status_code) == (201, 200), again.text
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    as_json = {
        **fields,
        "documents": [
            {
                "filename": "a.txt",
                "content_type": "text/plain",
                "content_base64": base64.b64encode(b"the same bytes").decode(),
            }
        ],
    }
    same = post(gw, secret, as_json, key="mp-1")
    assert same.status_code == 200 and same.json()["id"] == first.json()["id"]
    other = multipart(gw, secret, fields, ("a.txt", b"other bytes", "text/plain"), key="mp-1")
    assert other.status_code == 409 and str(first.json()["id"]) in other.json()["detail"]
    renamed = multipart(gw, secret, fields, ("b.txt", b"the same bytes", "text/plain"), key="mp-1")
    assert renamed.status_code == 409


DOC = ("a.txt", b"hello", "text/plain")
BOUNDARY = "xyzzy"


def _body(*parts: str, end: bool = True) -> bytes:
    text = "".join(f"--{BOUNDARY}\r\n{p}\r\n" for p in parts) + (f"--{BOUNDARY}--\r\n" * end)
    return text.encode()


FAX_PART = 'Content-Disposition: form-data; name="fax"\r\n\r\n' + json.dumps(fax_part(DESK))
DOC_PART = 'Content-Disposition: form-data; name="document"; filename="a.txt"\r\n\r\nhello'


@pytest.mark.parametrize(
    ("body", "ctype", "status", "says"),
    [
        (_body(DOC_PART), None, 422, "fax: the part is missing"),
        (_body(FAX_PART), None, 422, "document: at least one"),
        (
            _body(FAX_PART, DOC_PART, 'Content-Disposition: form-data; name="extra"\r\n\r\nx'),
            None,
            422,
            "a part 'extra'",
        ),
        (_body(FAX_PART, FAX_PART, DOC_PART), None, 422, "more than one fax part"),
        (
            _body(DOC_PART.replace("hello", ""), FAX_PART),
            None,
            422,
            "document 'a.txt': the document is empty",
        ),
        (_body(FAX_PART, DOC_PART, end=False), None, 400, "ends before its last boundary"),
        (b"no multipart here at all", None, 400, "malformed multipart body"),
        (_body(FAX_PART, DOC_PART), "multipart/form-data", 400, "needs a boundary"),
        (
            _body(FAX_PART.replace('"to"', '"tu"'), DOC_PART),
            None,
            422,
            "fax.tu: Extra inputs are not permitted",
        ),
        (_body(FAX_PART.replace("{", "", 1), DOC_PART), None, 422, "fax: Invalid JSON"),
    ],
)
def test_a_bad_multipart_body_is_a_problem(
    gw: Server, body: bytes, ctype: str | None, status: int, says: str
) -> None:
    answer = raw_post(gw, token(gw), body, ctype or f"multipart/form-data; boundary={BOUNDARY}")
    is_problem(answer, status, says)


def test_multipart_limits_and_checks_are_the_json_ones(gw: Server) -> None:
    secret = token(gw)
    big = multipart(gw, secret, fax_part(DESK), ("big.txt", b"x" * 400_000, "text/plain"))
    is_problem(big, 413, "at most 300000 bytes")
    is_problem(multipart(gw, secret, fax_part("911"), DOC), 422, "emergency")
    with_docs = fax_part(DESK, documents=[])
    is_problem(multipart(gw, secret, with_docs, DOC), 422, "fax.documents: Extra inputs")
    is_problem(multipart(gw, secret, fax_part(DESK, labels={"a b": "c"}), DOC), 422, "'a b'")
    reader = token(gw, USER, "--scope", "read")
    is_problem(multipart(gw, reader, fax_part(DESK), DOC), 403, "'send' scope")


# -- resend -----------------------------------------------------------------------------------


def resend(gw: Server, secret: str, fid: int, body: Any, key: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {secret}"}
    if key is not None:
        headers["Idempotency-Key"] = key
    return httpx.post(f"{gw.url}/api/v1/faxes/{fid}/resend", json=body, headers=headers, timeout=60)


def test_resend_makes_a_new_fax_from_the_same_documents(gw: Server) -> None:
    secret = token(gw)
    made = post(
        gw, secret, new_fax(NOT_FAX, cover_text="Resend me", resolution="low", labels={"o": "1"})
    )
    original = settled(gw, secret, made.json()["id"])
    assert original["state"] == "failed"
    again = resend(gw, secret, original["id"], {"to": [{"number": "+15550123457", "name": "B"}]})
    assert again.status_code == 201, again.text
    new = again.json()
    assert new["id"] != original["id"]
    assert again.headers["location"] == f"/api/v1/faxes/{new['id']}"
    assert new["labels"] == {"o": "1", "resent_from": str(original["id"])}
    assert (new["resolution"], new["cover_page"]) == ("low", original["cover_page"])
    assert new["documents"] == original["documents"]
    assert [(r["number"], r["name"]) for r in new["recipients"]] == [("+15550123457", "B")]
    done = settled(gw, secret, new["id"])
    assert done["state"] == "delivered" and done["recipients"][0]["pages_confirmed"] == 2
    unchanged = get(gw, secret, original["id"])
    for seen in (unchanged, original):
        seen.pop("reports")  # its report e-mail goes its own way meanwhile
    assert unchanged == original  # the old fax is as it was
    listed = ids(api(gw, secret, "GET", "/faxes", label=f"resent_from:{original['id']}"))
    assert listed == [new["id"]]


def test_resend_may_change_the_options_and_labels(gw: Server) -> None:
    secret = token(gw)
    first = post(gw, secret, new_fax(DESK, labels={"o": "1"})).json()
    later = (datetime.now(UTC) + timedelta(hours=6)).isoformat()
    asked = {
        "to": [{"number": DESK}],
        "send_at": later,
        "labels": {"n": "2"},
        "cover_page": "None",
        "resolution": "low",
    }
    again = resend(gw, secret, first["id"], asked)
    assert again.status_code == 201, again.text
    new = again.json()
    assert new["labels"] == {"n": "2", "resent_from": str(first["id"])}
    assert (new["cover_page"], new["resolution"]) == ("none", "low")
    assert datetime.fromisoformat(new["send_at"]) == datetime.fromisoformat(later)


def test_resend_is_idempotent_and_only_for_the_own_account(gw: Server) -> None:
    secret = token(gw)
    later = (datetime.now(UTC) + timedelta(hours=6)).isoformat()
    fid = post(gw, secret, new_fax(DESK, send_at=later)).json()["id"]
    body = {"to": [{"number": DESK}], "send_at": later}
    first = resend(gw, secret, fid, body, key="resend-1")
    again = resend(gw, secret, fid, body, key="resend-1")
    assert (first.status_code, again.status_code) == (201, 200)
    assert again.json()["id"] == first.json()["id"]
    assert again.headers["idempotent-replayed"] == "true"
    other = resend(gw, secret, fid, {**body, "to": [{"number": NOT_FAX}]}, key="resend-1")
    assert other.status_code == 409
    theirs = token(gw, OTHER)
    is_problem(resend(gw, theirs, fid, body), 404, f"there is no fax {fid}")
    is_problem(resend(gw, secret, 10**9, body), 404)
    reader = token(gw, USER, "--scope", "read")
    is_problem(resend(gw, reader, fid, body), 403, "'send' scope")
    is_problem(resend(gw, secret, fid, {"to": []}), 422, "to: List should have at least 1")
    is_problem(resend(gw, secret, fid, {**body, "pages": 2}), 422, "pages: Extra inputs")
    is_problem(resend(gw, secret, fid, {"to": [{"number": "911"}]}), 422, "emergency")
