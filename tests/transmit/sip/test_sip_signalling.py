"""Every SIP cause faxout maps, against scripted peers (SIPp) and a real proxy (kamailio)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from faxout.errors import TransportError
from faxout.transmit.result import FaxCall, Outcome
from faxout.transmit.sip.check import check_sip
from faxout.transmit.sip.config import SipConfig
from faxout.transmit.sip.session import T38Mode
from faxout.transmit.sip.transport import SipTransport
from tests.transmit import sipfar
from tests.transmit.sip.conftest import PASSWORD, Progress


@pytest.fixture(autouse=True)
def _tools() -> None:
    why = sipfar.missing("sipp")
    # `make test` installs the packages: missing means a broken set-up, not a skip.
    assert not why, f"{why} (run `make setup-test` as root)"


def send(port: int, doc: Path, **options: object) -> tuple[SipTransport, object]:
    transport = SipTransport(SipConfig(proxy=f"127.0.0.1:{port}", **options))  # type: ignore[arg-type]
    return transport, transport.send(FaxCall(doc, "15557770199", "sig-1"), Progress())


@pytest.mark.parametrize(
    ("code", "reason", "ring", "outcome"),
    [
        (486, "Busy Here", "yes", Outcome.BUSY),
        (600, "Busy Everywhere", "no", Outcome.BUSY),
        (480, "Temporarily Unavailable", "yes", Outcome.NO_ANSWER),
        (408, "Request Timeout", "yes", Outcome.NO_ANSWER),
        (404, "Not Found", "no", Outcome.INVALID_NUMBER),
        (484, "Address Incomplete", "no", Outcome.INVALID_NUMBER),
        (403, "Forbidden", "no", Outcome.FAILED),
        (503, "Service Unavailable", "no", Outcome.FAILED),
    ],
)
def test_a_refused_invite_maps_to_its_outcome(
    tmp_path: Path, doc1: Path, code: int, reason: str, ring: str, outcome: Outcome
) -> None:
    keys = {"code": str(code), "reason": reason, "ring": ring}
    with sipfar.sipp_uas(tmp_path, "reply", keys, timeout=15) as sipp:
        _, result = send(sipp.port, doc1)
    assert sipp.wait().ok, sipp.wait().errors
    assert result.outcome is outcome  # type: ignore[attr-defined]
    assert f"SIP {code} {reason}" in result.t30_text  # type: ignore[attr-defined]
    assert result.pages_sent == 0 and result.t30_code is None  # type: ignore[attr-defined]


def test_a_challenge_that_comes_back_after_our_credentials_is_an_auth_failure(
    tmp_path: Path, doc1: Path
) -> None:
    with sipfar.sipp_uas(tmp_path, "auth_loop", timeout=15) as sipp:
        _, result = send(sipp.port, doc1, username="faxout", password="wrong")
    verdict = sipp.wait()
    assert verdict.ok, verdict.errors  # the second INVITE carried Proxy-Authorization
    assert verdict.messages.count("Proxy-Authorization:") == 1
    assert result.outcome is Outcome.FAILED  # type: ignore[attr-defined]
    assert "refused faxout's credentials (SIP 407" in result.t30_text  # type: ignore[attr-defined]


def test_a_bye_right_after_the_answer_fails_the_call_with_no_page(
    tmp_path: Path, doc1: Path
) -> None:
    with sipfar.sipp_uas(tmp_path, "bye_early", timeout=20) as sipp:
        _, result = send(sipp.port, doc1)
    assert sipp.wait().ok, sipp.wait().errors
    assert result.outcome is Outcome.FAILED  # type: ignore[attr-defined]
    assert result.pages_sent == 0  # type: ignore[attr-defined]
    assert "the far end hung up mid-call (BYE)" in result.notes  # type: ignore[attr-defined]


def test_reinvite_glare_is_answered_491_and_our_reinvite_is_retried(
    tmp_path: Path, doc1: Path
) -> None:
    with sipfar.sipp_uas(tmp_path, "glare", timeout=30) as sipp:
        _, result = send(sipp.port, doc1, t38=T38Mode.REQUEST, t38_request_delay=0.3)
    verdict = sipp.wait()
    # SIPp checked that we answered its re-INVITE with 491 and retried ours after 2.1-4 s.
    assert verdict.ok, verdict.errors
    notes = result.notes  # type: ignore[attr-defined]
    assert "re-INVITE glare (491): trying again" in notes
    assert any(n.startswith("T.38 refused by the far end (SIP 488") for n in notes)
    assert "the far end hung up mid-call (BYE)" in notes


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A UDP port that receives and never answers."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def test_ringing_that_nobody_picks_up_is_cancelled_as_no_answer(tmp_path: Path, doc1: Path) -> None:
    with sipfar.sipp_uas(tmp_path, "ring_forever", timeout=15) as sipp:
        _, result = send(sipp.port, doc1, ring_seconds=1.5)
    verdict = sipp.wait()
    assert verdict.ok, verdict.errors  # we sent CANCEL and ACKed the 487
    assert result.outcome is Outcome.NO_ANSWER  # type: ignore[attr-defined]
    assert result.t30_text == "no answer after 2 s of ringing"  # type: ignore[attr-defined]


def test_a_proxy_that_never_responds_is_named_not_taken_for_no_answer(
    silent_port: int, doc1: Path
) -> None:
    _, result = send(silent_port, doc1, ring_seconds=1.5)
    assert result.outcome is Outcome.FAILED  # type: ignore[attr-defined]
    assert result.t30_text.startswith(  # type: ignore[attr-defined]
        f"no response from the SIP proxy at 127.0.0.1:{silent_port} (not even 100 Trying)"
    )


def test_a_number_without_digits_is_invalid_before_any_call(silent_port: int, doc1: Path) -> None:
    transport = SipTransport(SipConfig(proxy=f"127.0.0.1:{silent_port}"))
    result = transport.send(FaxCall(doc1, "fax-me", "sig-2"), Progress())
    assert result.outcome is Outcome.INVALID_NUMBER
    assert "no digits" in result.t30_text


def test_check_reports_a_reachable_proxy_and_a_working_registration(
    tmp_path: Path,
) -> None:
    with sipfar.kamailio_proxy(tmp_path / "kamailio", PASSWORD) as proxy:
        where = f"127.0.0.1:{proxy.port}"
        problem, said = check_sip(SipConfig(proxy=where))
        assert problem is None and said == "OPTIONS answered 200 OK"
        good = SipConfig(proxy=where, registration=True, username="faxout", password=PASSWORD)
        problem, said = check_sip(good)
        assert problem is None, problem
        assert said.endswith("REGISTER as faxout accepted")
        bad = good.model_copy(update={"password": SecretStr("nope")})
        problem, _ = check_sip(bad, timeout=3)
        assert problem is not None and "REGISTER as faxout failed" in problem


def test_check_reports_a_proxy_that_does_not_answer(silent_port: int) -> None:
    problem, _ = check_sip(SipConfig(proxy=f"127.0.0.1:{silent_port}"), timeout=1)
    assert problem is not None and problem.startswith("no answer to SIP OPTIONS within 1 s")


def test_a_refused_registration_is_a_transport_error_naming_the_proxy(
    tmp_path: Path, doc1: Path
) -> None:
    with sipfar.kamailio_proxy(tmp_path / "kamailio", PASSWORD) as proxy:
        config = SipConfig(
            proxy=f"127.0.0.1:{proxy.port}",
            registration=True,
            username="faxout",
            password=SecretStr("wrong"),
        )
        with pytest.raises(TransportError, match=rf"REGISTER at 127.0.0.1:{proxy.port} as faxout"):
            SipTransport(config).send(FaxCall(doc1, "15557770199", "reg-1"), Progress())
