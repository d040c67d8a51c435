"""SIP calls that go wrong: a far end that refuses T.38, a machine that hangs up mid-page, and a
lossy network (2 % RTP loss with jitter, 1 % UDPTL loss). Calls run in real time."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import threading
import time
import wave
from pathlib import Path

import numpy as np
import pytest

from faxout.transmit.result import FaxCall, Outcome
from faxout.transmit.sip.config import Impairment, SipConfig
from faxout.transmit.sip.media import MediaConfig, MediaImpairment
from faxout.transmit.sip.session import T38Mode
from faxout.transmit.sip.transport import SipTransport
from tests.server import faxout_env
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


def test_a_sender_paused_mid_page_still_delivers_every_page(
    receiver: ReceiverFactory, doc2: Path, tmp_path: Path
) -> None:
    # A busy host, a GC pause or a VM's stolen time stops the sending process for 250 ms while
    # page 1's image data is on the line. The receiver's playout buffer outlasts the pause and
    # the sender's media clock makes up the missed 20 ms ticks, so the modem signal stays whole.
    rx = receiver(t38=T38Mode.OFF)
    sender = subprocess.Popen(
        [sys.executable, "-m", "faxout", "sip-send", str(doc2), "--to", "15557770200",
         "--proxy", f"127.0.0.1:{rx.port}", "--t38", "off", "--json"],
        env=faxout_env(tmp_path / "tx"), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    progress: list[str] = []
    reader = threading.Thread(target=lambda: progress.extend(sender.stderr or []), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + 60
        while not any(" sending" in line for line in progress):
            assert sender.poll() is None and time.monotonic() < deadline, progress
            time.sleep(0.02)
        time.sleep(1.5)  # into the image data of page 1
        sender.send_signal(signal.SIGSTOP)
        time.sleep(0.25)
        sender.send_signal(signal.SIGCONT)
        out, _ = sender.communicate(timeout=120)
    finally:
        if sender.poll() is None:
            sender.kill()
            sender.wait()
    reader.join(5)
    result = json.loads(out)
    assert (result["outcome"], result["pages_confirmed"]) == ("ok", 2), (result, progress)
    (fax,) = rx.wait_for(1, 20)
    assert_same_pages(doc2, Path(fax.path or ""))
