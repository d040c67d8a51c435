"""The retry policy: HylaFAX defaults, each cause, each limit, and invariants over any history."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from faxout.jobs.model import Outcome
from faxout.jobs.retry import (
    MAX_DURATION,
    PERMANENT,
    TRIES,
    Final,
    Retry,
    RetryPolicy,
    decide,
    later,
)
from faxout.transmit import result

SEND_AT = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
POLICY = RetryPolicy()
KILL_AT = POLICY.kill_at(SEND_AT)


def after(
    outcome: Outcome | str,
    *,
    dials: int = 0,
    tries: int = 0,
    resume: int = 1,
    confirmed: int = 0,
    now: datetime = SEND_AT,
    policy: RetryPolicy = POLICY,
    kill_at: datetime = KILL_AT,
) -> Retry | Final:
    return decide(
        policy,
        outcome,
        dials=dials,
        tries=tries,
        resume_from_page=resume,
        pages_confirmed=confirmed,
        kill_at=kill_at,
        now=now,
    )


def test_defaults_are_hylafax() -> None:
    assert POLICY.busy_delay == timedelta(seconds=180)
    assert POLICY.no_answer_delay == timedelta(seconds=300)
    assert POLICY.failed_delay == timedelta(seconds=60)
    assert (POLICY.max_dials, POLICY.max_tries) == (12, 3)
    assert SEND_AT + timedelta(hours=3) == KILL_AT


def test_the_transports_outcome_is_the_retry_policys_outcome() -> None:
    assert result.Outcome is Outcome  # one vocabulary, no mapping to drift
    for o in Outcome:
        after(o)  # every outcome gets a decision


def test_ok_is_done_and_counts_a_dial_and_a_try() -> None:
    assert after(Outcome.OK, dials=3, tries=1) == Final("done", "sent", 4, 2)


@pytest.mark.parametrize(
    ("cause", "words"),
    [
        (Outcome.NOT_FAX, "not answer as a fax machine"),
        (Outcome.REJECTED, "refused"),
        (Outcome.INVALID_NUMBER, "invalid"),
    ],
)
def test_permanent_outcomes_fail_at_once(cause: Outcome, words: str) -> None:
    d = after(cause)
    assert isinstance(d, Final)
    assert d.state == "failed"
    assert words in d.reason
    assert d.dials == 1
    assert d.tries == (1 if cause is Outcome.REJECTED else 0)


@pytest.mark.parametrize(
    ("cause", "delay"),
    [(Outcome.BUSY, 180), (Outcome.NO_ANSWER, 300), (Outcome.FAILED, 60), (Outcome.PARTIAL, 60)],
)
def test_retry_delay_by_cause(cause: Outcome, delay: int) -> None:
    d = after(cause, now=SEND_AT + timedelta(minutes=7))
    assert isinstance(d, Retry)
    assert d.at == SEND_AT + timedelta(minutes=7, seconds=delay)


def test_busy_and_no_answer_are_dials_not_tries_and_keep_the_page() -> None:
    for cause in (Outcome.BUSY, Outcome.NO_ANSWER):
        d = after(cause, dials=4, tries=2, resume=3)
        assert isinstance(d, Retry)
        assert (d.dials, d.tries, d.resume_from_page) == (5, 2, 3)


def test_partial_resumes_from_the_first_unconfirmed_page() -> None:
    d = after(Outcome.PARTIAL, resume=1, confirmed=2)
    assert isinstance(d, Retry)
    assert (d.resume_from_page, d.dials, d.tries) == (3, 1, 1)
    d = after(Outcome.PARTIAL, dials=1, tries=1, resume=3, confirmed=1)
    assert isinstance(d, Retry)
    assert d.resume_from_page == 4
    assert "partly sent" in d.reason


def test_failed_without_pages_retries_the_same_page() -> None:
    d = after(Outcome.FAILED, resume=2, confirmed=0)
    assert isinstance(d, Retry)
    assert d.resume_from_page == 2


def test_third_failed_try_hits_max_tries() -> None:
    d = after(Outcome.FAILED, dials=5, tries=2)
    assert isinstance(d, Final)
    assert d.state == "failed"
    assert d.reason.startswith("max tries reached: 3 of 3")
    assert (d.dials, d.tries) == (6, 3)


def test_busy_after_two_tries_is_still_retried() -> None:
    assert isinstance(after(Outcome.BUSY, dials=5, tries=2), Retry)


def test_twelfth_dial_hits_max_dials() -> None:
    assert isinstance(after(Outcome.BUSY, dials=10), Retry)
    d = after(Outcome.NO_ANSWER, dials=11)
    assert isinstance(d, Final)
    assert d.reason.startswith("max dials reached: 12 of 12")
    assert "no answer" in d.reason


def test_max_tries_is_named_before_max_dials_when_both_hit() -> None:
    d = after(Outcome.FAILED, dials=11, tries=2)
    assert isinstance(d, Final)
    assert d.reason.startswith("max tries")


def test_kill_time_stops_retries() -> None:
    near = KILL_AT - timedelta(minutes=2)
    d = after(Outcome.BUSY, now=near)  # 3 min later is past the kill time
    assert isinstance(d, Final)
    assert d.reason.startswith("kill time reached")
    assert isinstance(after(Outcome.FAILED, now=near), Retry)  # 1 min later is before it
    # Exactly at the kill time is too late.
    d = after(Outcome.FAILED, now=KILL_AT - timedelta(minutes=1))
    assert isinstance(d, Final)
    assert isinstance(after(Outcome.BUSY, now=KILL_AT + timedelta(hours=1)), Final)


def test_ok_after_the_kill_time_is_still_done() -> None:
    assert after(Outcome.OK, now=KILL_AT + timedelta(minutes=1)).state == "done"  # type: ignore[union-attr]


def test_custom_policy() -> None:
    policy = RetryPolicy(
        busy_delay=timedelta(seconds=30),
        max_dials=2,
        max_tries=1,
        kill_time=timedelta(days=1),
    )
    d = after(Outcome.BUSY, policy=policy, kill_at=policy.kill_at(SEND_AT))
    assert isinstance(d, Retry)
    assert d.at == SEND_AT + timedelta(seconds=30)
    assert isinstance(after(Outcome.BUSY, dials=1, policy=policy), Final)
    assert isinstance(after(Outcome.PARTIAL, policy=policy), Final)


def test_policy_from_config_values() -> None:
    policy = RetryPolicy.model_validate({"busy_delay": 60, "kill_time": "PT1H"})
    assert policy.busy_delay == timedelta(minutes=1)
    assert policy.kill_time == timedelta(hours=1)


@pytest.mark.parametrize(
    "bad",
    [
        {"busy_delay": 0},
        {"failed_delay": -5},
        {"kill_time": 0},
        {"max_dials": 0},
        {"max_tries": 0},
        {"maxdials": 5},
    ],
)
def test_policy_rejects_nonsense(bad: dict[str, object]) -> None:
    with pytest.raises(ValidationError):
        RetryPolicy.model_validate(bad)


def test_policy_is_frozen() -> None:
    with pytest.raises(ValidationError):
        POLICY.max_dials = 5  # type: ignore[misc]


@pytest.mark.parametrize(
    "kwargs",
    [
        {"dials": -1},
        {"tries": 1, "dials": 0},
        {"resume": 0},
        {"confirmed": -1},
    ],
)
def test_impossible_inputs_are_errors(kwargs: dict[str, int]) -> None:
    with pytest.raises(ValueError):
        after(Outcome.BUSY, **kwargs)  # type: ignore[arg-type]


def test_unknown_outcome_is_an_error() -> None:
    with pytest.raises(ValueError):
        after("exploded")


def test_delay_for_refuses_final_causes() -> None:
    for cause in (Outcome.OK, *PERMANENT):
        with pytest.raises(ValueError):
            POLICY.delay_for(cause)


@pytest.mark.parametrize("name", ["busy_delay", "no_answer_delay", "failed_delay", "kill_time"])
def test_delays_and_kill_time_are_at_most_a_year(name: str) -> None:
    RetryPolicy(**{name: MAX_DURATION})
    with pytest.raises(ValidationError, match="at most 366 days"):
        RetryPolicy(**{name: MAX_DURATION + timedelta(seconds=1)})


def test_times_at_the_end_of_the_calendar_do_not_overflow() -> None:
    # A send time stored before send times were bounded (year 9999) must still give a kill
    # time and a decision, not an OverflowError that leaves the job stuck.
    last = datetime(9999, 12, 31, 23, 59, tzinfo=UTC)
    assert POLICY.kill_at(last) == datetime.max.replace(tzinfo=UTC)
    assert later(SEND_AT, timedelta(hours=1)) == SEND_AT + timedelta(hours=1)
    # the retry would land on the last representable instant, which is the kill time: it ends
    d = after(Outcome.BUSY, now=last, kill_at=POLICY.kill_at(last))
    assert isinstance(d, Final) and d.reason.startswith("kill time reached")


# --- invariants over whole histories -------------------------------------------------------

causes = st.sampled_from(list(Outcome))
policies = st.builds(
    RetryPolicy,
    busy_delay=st.integers(1, 3600).map(lambda s: timedelta(seconds=s)),
    no_answer_delay=st.integers(1, 3600).map(lambda s: timedelta(seconds=s)),
    failed_delay=st.integers(1, 3600).map(lambda s: timedelta(seconds=s)),
    max_dials=st.integers(1, 20),
    max_tries=st.integers(1, 6),
    kill_time=st.integers(1, 48 * 3600).map(lambda s: timedelta(seconds=s)),
)


@settings(max_examples=300, deadline=None)
@given(
    policy=policies,
    script=st.lists(st.tuples(causes, st.integers(0, 3), st.integers(0, 600)), max_size=40),
)
def test_any_history_ends_within_the_limits(
    policy: RetryPolicy, script: list[tuple[Outcome, int, int]]
) -> None:
    """Play outcomes (cause, pages confirmed, call seconds) until the policy says stop."""
    kill_at = policy.kill_at(SEND_AT)
    now, dials, tries, page = SEND_AT, 0, 0, 1
    last_at = SEND_AT
    decision: Retry | Final | None = None
    for cause, confirmed, call_seconds in script:
        confirmed = confirmed if cause in (Outcome.PARTIAL, Outcome.FAILED) else 0
        now += timedelta(seconds=call_seconds)
        decision = decide(
            policy,
            cause,
            dials=dials,
            tries=tries,
            resume_from_page=page,
            pages_confirmed=confirmed,
            kill_at=kill_at,
            now=now,
        )
        assert decision.dials == dials + 1
        assert decision.tries == tries + (cause in TRIES)
        dials, tries = decision.dials, decision.tries
        assert dials <= policy.max_dials
        assert tries <= policy.max_tries
        if isinstance(decision, Final):
            assert (decision.state == "done") == (cause is Outcome.OK)
            if cause in PERMANENT:
                assert decision.state == "failed"
            assert decision.reason
            break
        assert cause not in PERMANENT and cause is not Outcome.OK
        assert now < decision.at < kill_at
        assert decision.at > last_at
        assert decision.resume_from_page == page + confirmed
        page, last_at, now = decision.resume_from_page, decision.at, decision.at
    else:
        # The script ran out before the policy ended the job: only possible while every
        # limit still has room.
        assert dials < policy.max_dials
        assert tries < policy.max_tries
        assert decision is None or isinstance(decision, Retry)


@settings(max_examples=200, deadline=None)
@given(policy=policies, cause=causes)
def test_repeating_one_cause_always_ends(policy: RetryPolicy, cause: Outcome) -> None:
    kill_at = policy.kill_at(SEND_AT)
    now, dials, tries = SEND_AT, 0, 0
    for _ in range(policy.max_dials):
        d = decide(
            policy,
            cause,
            dials=dials,
            tries=tries,
            resume_from_page=1,
            pages_confirmed=0,
            kill_at=kill_at,
            now=now,
        )
        if isinstance(d, Final):
            return
        dials, tries, now = d.dials, d.tries, d.at
    raise AssertionError("max_dials attempts did not end the job")
