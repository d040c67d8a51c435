"""SIP calls that go wrong: a far end that refuses T.38, a machine that hangs up mid-page, and a
lossy network (2 % RTP loss with jitter, 1 % UDPTL loss). Calls run in real time."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from faxout.transmit.result import FaxCall, Outcome
from faxout.transmit.sip.config import Impairment, SipConfig
from faxout.transmit.sip.media import MediaConfig, MediaImpairment
from faxout.transmit.sip.session import T38Mode
from faxout.transmit.sip.transport import SipTransport
from tests.transmit import sipfar
from tests.transmit.pages import assert_same_pages
from tests.transmit.sip.conftest import Progress, ReceiverFactory

pytestmark = pytest.mark.slow


def direct(port: int, **options: object) -> SipTransport:
    return SipTransport(SipConfig(proxy=f"127.0.0.1:{port}", **options))  # type: ignore[arg-type]


def tone_level(samples: np.ndarray, hz: float) -> float:
    """Goertzel power of ``hz`` in 8 kHz samples."""
    coeff = 2 * np.cos(2 * np.pi * hz / 8000)
    s1 = s2 = 0.0
    for x in samples.astype(np.float64):
        s1, s2 = x + coeff * s1 - s2, s1
    return float(s1 * s1 + s2 * s2 - coeff * s1 * s2)


def test_a_far_end_that_refuses_t38_keeps_the_call_on_g711(tmp_path: Path, doc1: Path) -> None:
    why = sipfar.missing("baresip")
    assert not why, f"{why} (run `make setup-test` as root)"
    with sipfar.baresip_phone(tmp_path / "baresip", seconds=8.0, user="15550100") as phone:
        result = direct(
            phone.port, t38=T38Mode.REQUEST, t38_request_delay=0.5, ring_seconds=10
        ).send(FaxCall(doc1, "15550100", "refuse-1"), Progress())
        heard = phone.heard_wavs()
    # baresip is a phone, not a fax machine: it plays its few seconds and hangs up, no page went.
    assert result.outcome in (Outcome.NOT_FAX, Outcome.FAILED), result
    assert result.pages_sent == 0
    # The call stayed up on G.711 after the 488 instead of failing.
    refusals = [n for n in result.notes if n.startswith("T.38 refused by the far end (SIP 488")]
    assert refusals, result.notes
    assert any("media: audio" in n for n in result.notes)
    assert heard, "baresip recorded nothing"
    with wave.open(str(heard[-1])) as recording:
        rate, channels = recording.getframerate(), recording.getnchannels()
        raw = recording.readframes(recording.getnframes())
    audio = np.frombuffer(raw, dtype="<i2")[::channels]
    assert rate == 8000, rate
    # What baresip heard after the refusal is our calling tone (CNG, 1100 Hz), not silence.
    # CNG is 0.5 s of tone every 3.5 s: the burst at 3.5 s comes well after the refusal.
    late = audio[int(3.5 * rate) : int(4.0 * rate)]
    assert len(late) == rate // 2, len(audio)
    assert tone_level(late, 1100) > 100 * tone_level(late, 1700)


def test_a_bye_in_the_middle_of_page_two_is_partial_with_page_one_done(
    receiver: ReceiverFactory, doc2: Path
) -> None:
    rx = receiver(t38=T38Mode.OFF, hang_up_after_pages=1, hang_up_delay=4.0)
    progress = Progress()
    result = direct(rx.port).send(FaxCall(doc2, "15557770100", "bye-1"), progress)
    assert result.outcome is Outcome.PARTIAL, result
    assert result.pages_confirmed == 1
    assert any(n.startswith("the far end hung up mid-call") for n in result.notes)
    assert [e.verdict for e in progress.events if e.stage == "page"] == ["MCF"]
    (fax,) = rx.wait_for(1, 15)
    assert fax.pages == 1
    assert "hung up by this end during the fax" in fax.notes


@pytest.mark.parametrize(
    ("t38", "impairment"),
    [
        (T38Mode.OFF, Impairment(loss=0.02, jitter_ms=30, seed=7)),
        (T38Mode.REQUEST, Impairment(loss=0.01, seed=11)),
    ],
    ids=["g711-2pct-loss-jitter", "t38-1pct-loss"],
)
def test_a_lossy_network_keeps_pages_intact_or_says_they_are_not(
    receiver: ReceiverFactory, doc2: Path, t38: T38Mode, impairment: Impairment
) -> None:
    back = MediaImpairment(impairment.loss, impairment.jitter_ms, impairment.seed + 1)
    rx = receiver(
        t38=T38Mode.ACCEPT if t38 is T38Mode.OFF else T38Mode.REQUEST,
        media=MediaConfig(address="127.0.0.1", impairment=back),
    )
    result = direct(rx.port, t38=T38Mode.ACCEPT, impairment=impairment).send(
        FaxCall(doc2, "15557770100", f"loss-{t38}"), Progress()
    )
    (fax,) = rx.wait_for(1, 20)
    assert any("dropped" in n and "dropped 0" not in n for n in result.notes), result.notes
    if result.outcome is Outcome.OK:
        # ECM: every confirmed page is exactly what was sent.
        assert_same_pages(doc2, Path(fax.path or ""))
    else:
        assert result.outcome in (Outcome.PARTIAL, Outcome.FAILED), result
        assert result.pages_confirmed < 2
        assert fax.pages == result.pages_confirmed
