"""What ``/api/v1/openapi.json`` says of the answers: the fax's JSON, the problem responses each
route may give, and the legacy FaxOut endpoint (``POST /faxapi.asp``).

The routes answer with their own ``JSONResponse``, so FastAPI cannot see what they return: the
models here describe ``views.fax_json`` for the spec only (nothing is validated against them at
run time; the schemathesis tests check that the answers match). Fields may be added, never
renamed (docs/api.md), so the objects do not forbid other properties.
"""

from __future__ import annotations

from html import escape
from typing import Annotated, Any

from fastapi import Path
from pydantic import BaseModel, Field

from faxout.intake.api.resend import ResendAsked
from faxout.intake.api.submit import NewFax
from faxout.intake.faxout.codes import Reply

PROBLEM = "application/problem+json"
# The ids are INTEGER columns (32 bits on PostgreSQL): a larger one cannot name a row, and
# handed to the database it was a 500 (SQLite: "Python int too large"), found by schemathesis.
MAX_ID = 2**31 - 1
FaxId = Annotated[int, Path(ge=1, le=MAX_ID, description="the fax's id")]
RecipientId = Annotated[int, Path(ge=1, le=MAX_ID, description="the recipient's id")]


class AttemptOut(BaseModel):
    """One call of a recipient."""

    attempt: int
    outcome: str | None
    t30_code: int | None
    t30_text: str | None
    csid: str | None
    modem: str | None
    bit_rate: int | None
    ecm: bool | None
    compression: str | None
    pages_sent: int
    pages_confirmed: int
    pages_total: int
    from_page: int
    line_seconds: float | None
    started_at: str
    finished_at: str | None
    detail: str


class RecipientOut(BaseModel):
    """One recipient of a fax and where its fax is."""

    id: int
    number: str
    name: str
    state: str
    pages_confirmed: int
    pages_total: int | None
    attempts: list[AttemptOut]
    next_attempt_at: str | None
    reason: str
    paper: str | None
    finished_at: str | None


class DocumentOut(BaseModel):
    """One document as received."""

    filename: str
    content_type: str
    size: int


class FaxOut(BaseModel):
    """A fax (``GET /api/v1/faxes/{id}``)."""

    id: int
    state: str
    created_at: str
    send_at: str
    resolution: str
    cover_page: str
    documents: list[DocumentOut]
    pages: int | None
    render_error: str | None
    notes: list[str]
    recipients: list[RecipientOut]
    purged_at: str | None  # retention removed its documents and pages (images: 410)


class FaxPage(BaseModel):
    """A page of the list (``GET /api/v1/faxes``)."""

    items: list[FaxOut]
    next_cursor: int | None
    sync_token: str | None


InboundId = Annotated[int, Path(ge=1, le=MAX_ID, description="the received fax's id")]


class InboundLinks(BaseModel):
    """Where a received fax and its image are served (no image: no PDF, no pages)."""

    self: str
    pdf: str | None
    pages: list[str]


class InboundOut(BaseModel):
    """A received fax (``GET /api/v1/inbound/{id}``)."""

    id: int
    inbox: str
    state: str
    caller: str
    caller_name: str
    csid: str
    called: str
    pages: int
    resolution: str | None
    bit_rate: int | None
    ecm: bool | None
    compression: str | None
    line_seconds: float | None
    t30_code: int | None
    t30_text: str | None
    notes: list[str]
    size: int | None
    started_at: str
    finished_at: str | None
    read_at: str | None
    archived_at: str | None
    purged_at: str | None
    links: InboundLinks


class InboundMailOut(BaseModel):
    """Where the fax's mail stands (fax-to-email, docs/inbound.md)."""

    state: str = Field(description="pending, sent, failed, or skipped (the inbox has no address)")
    to: list[str]
    tries: int
    last_error: str | None
    sent_at: str | None


class InboundDetail(InboundOut):
    """One received fax with its mail (``GET /api/v1/inbound/{id}``); ``mail`` is null while
    the fax is still coming in."""

    mail: InboundMailOut | None


class InboundPage(BaseModel):
    """A page of the list (``GET /api/v1/inbound``)."""

    items: list[InboundOut]
    next_cursor: int | None


_PROBLEM_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["type", "title", "status", "detail", "instance"],
    "properties": {
        "type": {"type": "string"},
        "title": {"type": "string"},
        "status": {"type": "integer"},
        "detail": {"type": "string"},
        "instance": {"type": "string"},
    },
}
_INT_HEADER = {"schema": {"type": "integer", "minimum": 0}}
RATE_HEADERS: dict[str, Any] = {
    "RateLimit-Limit": {"description": "size of the bucket that decided", **_INT_HEADER},
    "RateLimit-Remaining": {"description": "requests left in it now", **_INT_HEADER},
    "RateLimit-Reset": {"description": "seconds until it is full again", **_INT_HEADER},
}
_WHY = {
    400: "A parameter or header that is not valid (named in detail), or a body that is not JSON",
    401: "No token, or an unknown, expired or revoked one",
    403: "The token lacks the scope, or the account may not fax",
    404: "No such fax (or recipient) for this account",
    409: "The fax is not in a state that allows it, or the Idempotency-Key was used otherwise",
    410: "The images were removed by retention (inbound.retention_days); its facts are kept",
    413: "The body is over limits.max_body_bytes (as documents)",
    422: "The request cannot be done as asked (each wrong field named in detail)",
    429: "Too many requests for this token or account (per HTTP worker); retry later",
    500: "The pages could not be drawn (logged)",
    503: "The document store failed while a multipart body was read",
}


def problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """``responses=`` for the problem answers ``statuses`` (RFC 9457)."""
    out: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        answer: dict[str, Any] = {
            "description": _WHY[status],
            "content": {PROBLEM: {"schema": _PROBLEM_SCHEMA}},
        }
        if status == 401:
            answer["headers"] = {"WWW-Authenticate": {"schema": {"type": "string"}}}
        if status == 409:
            # A fax not rendered yet (page images) says when to look again.
            answer["headers"] = {"Retry-After": {"schema": {"type": "integer"}}}
        if status == 429:
            retry = {"description": "whole seconds, at least 1", "schema": {"type": "integer"}}
            answer["headers"] = {"Retry-After": retry, **RATE_HEADERS}
        out[status] = answer
    return out


def _fax(description: str, **headers: Any) -> dict[str, Any]:
    return {"model": FaxOut, "description": description, "headers": {**RATE_HEADERS, **headers}}


_FAX_PROBLEMS = problems(401, 403, 404, 409, 422, 429)
READ_FAX = {200: _fax("The fax"), **problems(401, 403, 404, 422, 429)}
ACT_ON_FAX = {200: _fax("The fax afterwards"), **_FAX_PROBLEMS}
LIST_FAXES = {
    200: {"model": FaxPage, "description": "A page of faxes", "headers": RATE_HEADERS},
    **problems(400, 401, 403, 422, 429),
}
_LOCATION = {"Location": {"schema": {"type": "string"}}}
_SUBMITTED: dict[int | str, dict[str, Any]] = {
    201: _fax("The new fax", **_LOCATION),
    200: _fax(
        "The fax this Idempotency-Key made before (Idempotent-Replayed: true)",
        **_LOCATION,
        **{"Idempotent-Replayed": {"schema": {"type": "string", "enum": ["true"]}}},
    ),
}
CREATE_FAX = {**_SUBMITTED, **problems(400, 401, 403, 409, 413, 422, 429, 503)}
RESEND_FAX = {**_SUBMITTED, **problems(400, 401, 403, 404, 409, 413, 422, 429)}
_IDEMPOTENCY_KEY = {
    "name": "Idempotency-Key",
    "in": "header",
    "required": False,
    "schema": {"type": "string", "minLength": 1, "maxLength": 200},
    "description": "the same key and body within 24 hours give the same fax",
}
CREATE_FAX_EXTRA: dict[str, Any] = {
    "parameters": [_IDEMPOTENCY_KEY],
    "requestBody": {
        "required": True,
        "content": {
            "application/json": {"schema": NewFax.model_json_schema()},
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["fax", "document"],
                    "properties": {
                        "fax": {"type": "string", "description": "the fax as JSON, no documents"},
                        "document": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                        },
                    },
                }
            },
        },
    },
}
RESEND_FAX_EXTRA: dict[str, Any] = {
    "parameters": [_IDEMPOTENCY_KEY],
    "requestBody": {
        "required": False,
        "content": {"application/json": {"schema": ResendAsked.model_json_schema()}},
    },
}

WebhookId = Annotated[int, Path(ge=1, le=MAX_ID, description="the webhook endpoint's id")]


def _json(description: str, schema: dict[str, Any], **headers: Any) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": schema}},
        "headers": {**RATE_HEADERS, **headers},
    }


# Webhooks (``webhooks.endpoint_json``, ``webhooks.delivery_json``): objects, as for the fax.
_ENDPOINT = {"type": "object", "required": ["id", "url", "events", "enabled"]}
_ITEMS = {"type": "object", "required": ["items"], "properties": {"items": {"type": "array"}}}
WEBHOOK_LIST = {200: _json("The account's endpoints", _ITEMS), **problems(401, 403, 429)}
WEBHOOK_ADD = {
    201: _json("The endpoint, with its secret (shown only here)", _ENDPOINT, **_LOCATION),
    **problems(400, 401, 403, 422, 429),
}
WEBHOOK_ONE = {200: _json("The endpoint", _ENDPOINT), **problems(401, 403, 404, 422, 429)}
WEBHOOK_REMOVE = {
    204: {"description": "Removed", "headers": RATE_HEADERS},
    **problems(401, 403, 404, 422, 429),
}
DELIVERIES = {200: _json("A page of deliveries", _ITEMS), **problems(401, 403, 404, 422, 429)}

# Page images (``pages``): the bytes, or 304 to a matching If-None-Match.
_PAGE_PROBLEMS = problems(401, 403, 404, 409, 410, 422, 429, 500)
_NOT_MODIFIED: dict[int | str, dict[str, Any]] = {
    304: {"description": "Not Modified (If-None-Match)"}
}
_BYTES = {"type": "string", "format": "binary"}
PAGE_PNG: dict[int | str, dict[str, Any]] = {
    200: {"description": "The page", "content": {"image/png": {"schema": _BYTES}}},
    **_NOT_MODIFIED,
    **_PAGE_PROBLEMS,
}
FAX_PDF: dict[int | str, dict[str, Any]] = {
    200: {"description": "The fax", "content": {"application/pdf": {"schema": _BYTES}}},
    **_NOT_MODIFIED,
    **_PAGE_PROBLEMS,
}

# Received faxes (``inbound``): the fax's JSON, and its image as a PDF or page PNGs.
_INBOUND = {"model": InboundOut, "headers": RATE_HEADERS}
LIST_INBOUND = {
    200: {"model": InboundPage, "description": "A page of received faxes", "headers": RATE_HEADERS},
    **problems(401, 403, 422, 429),
}
READ_INBOUND = {
    200: {"model": InboundDetail, "headers": RATE_HEADERS, "description": "The fax"},
    **problems(401, 403, 404, 422, 429),
}
ACT_ON_INBOUND = {
    200: {**_INBOUND, "description": "The fax afterwards"},
    **problems(401, 403, 404, 422, 429),
}
DELETE_INBOUND = {
    204: {
        "description": "Deleted, with its image, mail and webhook events",
        "headers": RATE_HEADERS,
    },
    **problems(401, 403, 404, 409, 422, 429),
}
_IMAGE_PROBLEMS = problems(401, 403, 404, 409, 410, 422, 429, 500)
INBOUND_PNG: dict[int | str, dict[str, Any]] = {
    200: {"description": "The page", "content": {"image/png": {"schema": _BYTES}}},
    **_NOT_MODIFIED,
    **_IMAGE_PROBLEMS,
}
INBOUND_PDF: dict[int | str, dict[str, Any]] = {
    200: {"description": "The fax", "content": {"application/pdf": {"schema": _BYTES}}},
    **_NOT_MODIFIED,
    **_IMAGE_PROBLEMS,
}

# The legacy endpoint: the same form as RingCentral's FaxOut API, whatever the encoding.
_FAXOUT_FORM: dict[str, Any] = {
    "type": "object",
    "required": ["Username", "Password"],
    "properties": {
        "Username": {"type": "string", "description": "the account's fax number"},
        "Password": {"type": "string"},
        "Recipient": {
            "type": "array",
            "items": {"type": "string"},
            "description": "a number, optionally `number|name`; repeated for each recipient",
        },
        "Coverpage": {"type": "string", "description": "None, Default or an installed one"},
        "Coverpagetext": {"type": "string"},
        "Resolution": {"type": "string", "enum": ["Low", "High"]},
        "Sendtime": {"type": "string", "description": "dd:mm:yy hh:mm, GMT"},
        "Attachment": {
            "type": "array",
            "items": {"type": "string", "format": "binary"},
            "description": "a document; repeated for each",
        },
    },
}
_MEANING = {
    Reply.ACCEPTED: "accepted: the fax is durable (X-Faxout-Submission names it)",
    Reply.AUTHORIZATION_FAILED: "authorization failed (or too many failures: throttled)",
    Reply.FAXING_PROHIBITED: "faxing is prohibited for this account",
    Reply.NO_RECIPIENTS: "no usable recipient",
    Reply.NO_FAX_DATA: "no attachment with data",
    Reply.GENERIC_ERROR: "anything else: malformed or oversized body, a limit, a failure",
}
FAXOUT_EXTRA: dict[str, Any] = {
    "description": "The legacy RingCentral FaxOut endpoint (docs/faxout-api.md), also at "
    "`/faxapi` and `/faxout` and with PUT or GET (query string). Always HTTP 200 with one "
    "digit, never a problem: "
    + "; ".join(f"`{int(code)}` {meaning}" for code, meaning in _MEANING.items())
    + ".",
    "tags": ["faxout"],
    "operationId": "faxout_submit",
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": _FAXOUT_FORM,
                "encoding": {"Attachment": {"contentType": "*/*"}},
            },
            "application/x-www-form-urlencoded": {"schema": _FAXOUT_FORM},
        },
    },
    "responses": {
        "200": {
            "description": "One digit, 0 to 5",
            "headers": {
                "X-Faxout-Submission": {
                    "description": "with 0: the fax's id (/api/v1/faxes/{id}, faxout jobs)",
                    "schema": {"type": "integer"},
                },
                "X-Request-Id": {"schema": {"type": "string"}},
            },
            "content": {
                "text/plain": {
                    "schema": {
                        "type": "string",
                        "enum": [str(int(code)) for code in Reply],
                        "description": "; ".join(f"{int(c)}: {m}" for c, m in _MEANING.items()),
                    }
                }
            },
        }
    },
}

DOCS_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


def docs_page(spec: dict[str, Any]) -> str:
    """``/api/v1/docs``: the operations of ``spec`` as one HTML page with no script, so that it
    runs nobody's code in the reader's browser (docs/security.md, "API docs"); docs/api.md is the
    manual, the spec the contract."""
    rows: list[str] = []
    for path, methods in spec["paths"].items():
        for method, op in methods.items():
            answers = ", ".join(
                f"{status} {escape(answer.get('description', ''))}"
                for status, answer in op.get("responses", {}).items()
            )
            rows.append(
                f"<tr><td><code>{method.upper()} {escape(path)}</code></td>"
                f"<td>{escape(op.get('summary', ''))}</td><td>{answers}</td></tr>"
            )
    info = spec["info"]
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{escape(info['title'])} API</title>"
        "<style>body{font:15px sans-serif;margin:2em}td{vertical-align:top;padding:4px 8px;"
        "border-bottom:1px solid #ddd}</style></head><body>"
        f"<h1>{escape(info['title'])} {escape(info['version'])}</h1>"
        "<p>The OpenAPI description: <a href='/api/v1/openapi.json'>/api/v1/openapi.json</a> "
        "(open it in a viewer of your own). Every request to /api/v1 carries "
        "<code>Authorization: Bearer fxo_…</code>; errors are RFC 9457 problems.</p>"
        "<table><tr><th>operation</th><th>what it does</th><th>answers</th></tr>"
        + "".join(rows)
        + "</table></body></html>"
    )
