"""Webhooks on each engine: events are queued with the transition that causes them, delivered
to a real HTTP endpoint, retried on failure and timeout, disabled by 410, and sent at most
twice (with the same webhook-id) when the sender dies between the endpoint's 2xx and the mark."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine, select
from standardwebhooks import Webhook

from faxout.accounts.repo import AccountRepo
from faxout.blobs.memory import MemoryBlobStore
from faxout.clock import FrozenClock
from faxout.db.engine import transaction
from faxout.db.tables import webhook_deliveries
from faxout.jobs import attempts
from faxout.jobs.lifecycle import Lifecycle, expire
from faxout.jobs.retry import Final
from faxout.schedule.dispatcher import queue_due
from faxout.webhooks.client import Answer, post
from faxout.webhooks.endpoints import EndpointError, Endpoints
from faxout.webhooks.outbox import WebhookOutbox
from faxout.webhooks.settings import Webhooks
from tests.accepting import accept
from tests.db.records import NOW, add_account, new_submission
from tests.webhooks.receiver import Receiver, receiver

LEASE = NOW + timedelta(seconds=30)
SETTINGS = Webhooks(allow_private=True, timeout_seconds=0.5, schedule=(5, 60, 600))


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with receiver() as r:
        yield r


def _events(engine: Engine) -> list[tuple[str, dict[str, Any]]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(webhook_deliveries.c.event, webhook_deliveries.c.body).order_by(
                webhook_deliveries.c.id
            )
        ).all()
    return [(r.event, json.loads(r.body)) for r in rows]


def _states(engine: Engine) -> list[tuple[str, int]]:
    with engine.connect() as conn:
        rows = conn.execute(
            select(webhook_deliveries.c.state, webhook_deliveries.c.tries).order_by(
                webhook_deliveries.c.id
            )
        ).all()
    return [(r.state, r.tries) for r in rows]


def _in_a_call(engine: Engine) -> tuple[int, attempts.Held]:
    """A one-recipient fax of 2 pages accepted, rendered, queued and being dialled; (fax, the
    worker's hold on its job)."""
    sid = accept(engine, new_submission(_account_id(engine), MemoryBlobStore(), recipients=1))
    life = Lifecycle(engine, timedelta(hours=3))
    assert life.claim_render(sid, "r", NOW, 60)
    assert life.finish_render(sid, "r", NOW, rendered_key="k", pages=2, warnings=[], per_job={})
    (job_id,) = queue_due(engine, NOW)
    with engine.connect() as conn:
        version = conn.execute(
            select(attempts.jobs.c.version).where(attempts.jobs.c.id == job_id)
        ).scalar_one()
    with transaction(engine) as conn:
        held = attempts.claim(
            conn, job_id, version, worker="w", transport="simline", line_no=1, first_page=1,
            lease_until=LEASE, now=NOW,
        )  # fmt: skip
        assert held is not None
        held = attempts.dialing(conn, held, NOW, LEASE)
        assert held is not None
    return sid, held


def _fax_through_a_call(engine: Engine) -> tuple[int, int]:
    """A one-recipient fax delivered (cover page and 2 pages); (fax, job)."""
    sid, held = _in_a_call(engine)
    with transaction(engine) as conn:
        final = Final("done", "sent", 1, 1)
        assert attempts.finish(conn, held, NOW, final, pages_confirmed=3, result={})
    return sid, held.job_id


def _account_id(engine: Engine) -> int:
    """The test account (made on first use: every test has a database of its own)."""
    found = AccountRepo(engine).get("15551230000")
    return found.id if found else add_account(engine).id


def test_every_state_change_of_a_fax_is_queued_for_a_subscribed_endpoint(engine: Engine) -> None:
    _account_id(engine)
    endpoints = Endpoints(engine, allow_private=True)
    endpoints.add("15551230000", "http://127.0.0.1:9/all", "*", NOW)
    endpoints.add("15551230000", "http://127.0.0.1:9/end", "fax.delivered,fax.failed", NOW)
    sid, job_id = _fax_through_a_call(engine)
    events = _events(engine)
    assert [e for e, _ in events] == [
        "fax.queued",
        "fax.rendered",
        "fax.dialing",
        "fax.delivered",
        "fax.delivered",  # the second endpoint hears only of the end
    ]
    queued, rendered, dialing, delivered = (body for _, body in events[:4])
    assert queued["type"] == "fax.queued" and queued["data"]["fax_id"] == sid
    assert [r["id"] for r in queued["data"]["recipients"]] == [job_id]
    assert rendered["data"]["pages"] == 2
    assert dialing["data"]["recipient"]["id"] == job_id and dialing["data"]["attempt"] == 1
    assert delivered["data"]["recipient"]["pages_confirmed"] == 3
    assert delivered["data"]["recipient"]["pages_total"] == 3  # 2 pages and the cover page
    first = endpoints.find("15551230000")[0]
    assert endpoints.remove(first.id)  # and its deliveries with it: only the other's is left
    assert [e for e, _ in _events(engine)] == ["fax.delivered"]


def test_each_page_confirmed_during_the_call_is_announced_once(engine: Engine) -> None:
    _account_id(engine)
    Endpoints(engine, allow_private=True).add("15551230000", "http://127.0.0.1:9/", "*", NOW)
    _, held = _in_a_call(engine)
    for confirmed, on_line in ((0, 1), (2, 3), (2, 3), (1, 3), (3, 3)):  # late, smaller counts too
        with transaction(engine) as conn:
            assert attempts.progress(
                conn, held, NOW, pages_confirmed=confirmed, page_now=on_line, pages_total=3
            )
    pages = [body["data"] for kind, body in _events(engine) if kind == "fax.page.confirmed"]
    assert [(d["page"], d["recipient"]["pages_confirmed"]) for d in pages] == [
        (1, 1), (2, 2), (3, 3),
    ]  # fmt: skip
    assert {d["recipient"]["pages_total"] for d in pages} == {3}


def test_an_account_without_webhooks_queues_nothing(engine: Engine) -> None:
    _fax_through_a_call(engine)
    assert _events(engine) == []


def test_an_event_rolls_back_with_its_transition(engine: Engine) -> None:
    _account_id(engine)
    Endpoints(engine, allow_private=True).add("15551230000", "http://127.0.0.1:9/", "*", NOW)
    sub = new_submission(_account_id(engine), MemoryBlobStore(), recipients=1)
    with pytest.raises(RuntimeError), transaction(engine) as conn:
        from faxout.jobs.create import insert_submissions, store_documents

        insert_submissions(conn, [(sub, store_documents(sub))])
        raise RuntimeError("the commit never happens")
    assert _events(engine) == []


def test_cancel_expiry_and_render_failure_are_announced(engine: Engine) -> None:
    _account_id(engine)
    Endpoints(engine, allow_private=True).add(
        "15551230000", "http://127.0.0.1:9/", "fax.canceled fax.failed", NOW
    )
    store = MemoryBlobStore()
    life = Lifecycle(engine, timedelta(hours=3))
    canceled = accept(engine, new_submission(_account_id(engine), store, recipients=2))
    assert len(life.cancel(NOW, submission_id=canceled).canceled) == 2
    bad = accept(engine, new_submission(_account_id(engine), store, recipients=1))
    assert life.claim_render(bad, "r", NOW, 60)
    assert life.fail_render(bad, "r", NOW, "doc1.pdf is not a PDF")
    late = accept(engine, new_submission(_account_id(engine), store, recipients=1))
    assert life.claim_render(late, "r", NOW, 60)
    assert life.finish_render(late, "r", NOW, rendered_key="k", pages=1, warnings=[], per_job={})
    with engine.connect() as conn:
        (job_id,) = conn.execute(
            select(attempts.jobs.c.id).where(attempts.jobs.c.submission_id == late)
        ).scalars()
    with transaction(engine) as conn:
        expire(conn, [job_id], NOW + timedelta(hours=4))
    events = _events(engine)
    assert [e for e, _ in events] == ["fax.canceled"] * 2 + ["fax.failed"] * 2
    assert events[2][1]["data"]["recipient"]["reason"] == "doc1.pdf is not a PDF"
    assert events[3][1]["data"]["recipient"]["reason"].startswith("kill time reached")


def test_endpoints_are_checked_when_added(engine: Engine) -> None:
    _account_id(engine)
    strict = Endpoints(engine, allow_private=False)
    with pytest.raises(EndpointError, match="not a public address"):
        strict.add("15551230000", "http://127.0.0.1:8080/", "*", NOW)
    with pytest.raises(EndpointError, match=r"unknown event fax\.sent"):
        strict.add("15551230000", "https://example.com/", "fax.sent", NOW)
    with pytest.raises(EndpointError, match="no account"):
        strict.add("15559990000", "https://example.com/", "*", NOW)
    made, secret = strict.add("15551230000", "https://example.com/h", "", NOW)
    assert made.events == "*" and secret.startswith("whsec_")
    assert [e.id for e in strict.find("15551230000")] == [made.id]
    assert strict.remove(made.id) and not strict.remove(made.id)


def _outbox(engine: Engine, clock: FrozenClock, send: Any = post) -> WebhookOutbox:
    return WebhookOutbox(engine, SETTINGS, clock=clock, worker="hooks-1", send=send)


def test_a_delivery_is_signed_for_the_reference_verifier(engine: Engine, hook: Receiver) -> None:
    _account_id(engine)
    _, secret = Endpoints(engine, allow_private=True).add("15551230000", hook.url, "*", NOW)
    sid, _ = _fax_through_a_call(engine)
    clock = FrozenClock(datetime.now(UTC))  # the verifier wants a timestamp near its own time
    done = _outbox(engine, clock).run_once(clock.now())
    assert done.sent == 4
    got = hook.wait_for(4)
    for request in got:
        payload = Webhook(secret).verify(request.body, request.headers)  # the reference library
        assert payload["data"]["fax_id"] == sid
        assert request.path == "/hooks/fax"
        assert request.headers["content-type"] == "application/json"
    assert [json.loads(g.body)["type"] for g in got] == [
        "fax.queued", "fax.rendered", "fax.dialing", "fax.delivered",
    ]  # fmt: skip
    assert _states(engine) == [("sent", 1)] * 4
    assert _outbox(engine, clock).run_once(clock.now()).sent == 0  # nothing twice


def test_failures_and_timeouts_are_retried_on_the_schedule(engine: Engine, hook: Receiver) -> None:
    _account_id(engine)
    _, secret = Endpoints(engine, allow_private=True).add(
        "15551230000", hook.url, "fax.delivered", NOW
    )
    _fax_through_a_call(engine)
    clock = FrozenClock(NOW)
    hook.answers.extend([500, "hang", 503])
    box = _outbox(engine, clock)
    assert box.run_once(clock.now()).deferred == 1  # 500
    assert box.run_once(clock.now()).sent == 0  # not due before 5 s
    clock.advance(5)
    assert box.run_once(clock.now()).deferred == 1  # no answer within the timeout
    clock.advance(59)
    assert box.run_once(clock.now()).sent == 0
    clock.advance(1)
    assert box.run_once(clock.now()).deferred == 1  # 503
    clock.advance(600)
    assert box.run_once(clock.now()).sent == 1
    got = hook.wait_for(4)
    assert len({g.headers["webhook-id"] for g in got}) == 1  # one message, four tries
    stamps = [int(g.headers["webhook-timestamp"]) for g in got]
    assert stamps == sorted(stamps) and stamps[0] < stamps[-1]  # each try signed at its time
    for g in got:  # the reference signer agrees with every try's signature
        expected = Webhook(secret).sign(
            g.headers["webhook-id"],
            datetime.fromtimestamp(int(g.headers["webhook-timestamp"]), UTC),
            g.body.decode(),
        )
        assert g.headers["webhook-signature"] == expected
    assert _states(engine) == [("sent", 4)]


def test_a_delivery_gives_up_after_the_schedule(engine: Engine, hook: Receiver) -> None:
    _account_id(engine)
    Endpoints(engine, allow_private=True).add("15551230000", hook.url, "fax.delivered", NOW)
    _fax_through_a_call(engine)
    clock = FrozenClock(NOW)
    hook.answers.extend([500] * 10)
    box = _outbox(engine, clock)
    for _ in range(4):
        box.run_once(clock.now())
        clock.advance(3600)
    assert _states(engine) == [("failed", 4)]
    with engine.connect() as conn:
        error = conn.execute(select(webhook_deliveries.c.last_error)).scalar_one()
    assert error == "gave up after 4 tries: HTTP 500: ok"


def test_410_disables_the_endpoint_and_fails_its_backlog(engine: Engine, hook: Receiver) -> None:
    _account_id(engine)
    endpoints = Endpoints(engine, allow_private=True)
    made, _ = endpoints.add("15551230000", hook.url, "*", NOW)
    _fax_through_a_call(engine)
    clock = FrozenClock(NOW)
    hook.answers.append(410)
    done = _outbox(engine, clock).run_once(clock.now())
    assert (done.sent, done.failed) == (0, 4)
    assert len(hook.got) == 1  # the rest were never sent
    gone = endpoints.get(made.id)
    assert gone is not None and not gone.enabled and "410 Gone" in gone.disabled_reason
    assert [s for s, _ in _states(engine)] == ["failed"] * 4
    _fax_through_a_call(engine)  # a disabled endpoint hears of nothing new
    assert len(_events(engine)) == 4


def test_a_failing_endpoint_holds_back_only_its_own_events(engine: Engine, hook: Receiver) -> None:
    _account_id(engine)
    endpoints = Endpoints(engine, allow_private=True)
    endpoints.add("15551230000", "http://127.0.0.1:9/refused", "*", NOW)  # nothing listens
    endpoints.add("15551230000", hook.url, "*", NOW)
    _fax_through_a_call(engine)
    clock = FrozenClock(NOW)
    done = _outbox(engine, clock).run_once(clock.now())
    assert (done.sent, done.deferred) == (4, 4)
    with engine.connect() as conn:
        tries = conn.execute(
            select(webhook_deliveries.c.tries).where(webhook_deliveries.c.state == "pending")
        ).scalars()
        assert sorted(tries) == [0, 0, 0, 1]  # one try spent; the rest wait with it


class Crash(BaseException):
    """The process dies: nothing after it runs."""


def test_a_crash_after_the_2xx_sends_once_more_with_the_same_id(
    engine: Engine, hook: Receiver
) -> None:
    _account_id(engine)
    Endpoints(engine, allow_private=True).add("15551230000", hook.url, "fax.delivered", NOW)
    _fax_through_a_call(engine)
    clock = FrozenClock(NOW)

    def send_then_die(*args: Any, **kwargs: Any) -> Answer:
        post(*args, **kwargs)
        raise Crash

    with pytest.raises(Crash):
        _outbox(engine, clock, send_then_die).run_once(clock.now())
    assert _states(engine) == [("pending", 0)]
    box = _outbox(engine, clock)
    assert box.run_once(clock.now()).sent == 0  # still leased by the dead sender
    clock.advance(SETTINGS.lease_seconds + 1)
    assert box.run_once(clock.now()).sent == 1
    clock.advance(3600)
    assert box.run_once(clock.now()).sent == 0
    got = hook.wait_for(2)
    assert len(got) == 2 and got[0].headers["webhook-id"] == got[1].headers["webhook-id"]
    assert got[0].body == got[1].body
