"""The SIP transport's pure parts: SDP, RTP, the jitter buffer, causes, settings."""

from __future__ import annotations

import numpy as np
import pytest
from pydantic import ValidationError

from faxout.transmit.g711 import Law
from faxout.transmit.result import Outcome
from faxout.transmit.sip import causes, rtp
from faxout.transmit.sip.config import SipConfig, split_hostport
from faxout.transmit.sip.media import CATCH_UP_TICKS, PLAYOUT_FRAMES
from faxout.transmit.sip.sdp import LocalSdp, MediaKind, SdpError, T38Params, parse
from faxout.transmit.sip.transport import dial_string

ASTERISK_T38 = (
    "v=0\r\no=- 1 2 IN IP4 10.0.0.5\r\ns=Asterisk\r\nc=IN IP4 10.0.0.5\r\nt=0 0\r\n"
    "m=audio 0 RTP/AVP 0\r\n"
    "m=image 4000 udptl t38\r\nc=IN IP4 10.0.0.6\r\n"
    "a=T38FaxVersion:0\r\na=T38MaxBitRate:9600\r\na=T38FaxRateManagement:transferredTCF\r\n"
    "a=T38FaxMaxBuffer:1800\r\na=T38FaxMaxDatagram:180\r\na=T38FaxUdpEC:t38UDPFEC\r\n"
)


def test_our_audio_offer_parses_back_with_the_laws_in_order() -> None:
    local = LocalSdp("192.0.2.1")
    media = parse(local.audio(40000, (Law.ULAW, Law.ALAW)))
    assert (media.kind, media.address, media.port) == (MediaKind.AUDIO, "192.0.2.1", 40000)
    assert media.payload_types == (0, 8)
    assert media.law((Law.ALAW, Law.ULAW)) is Law.ALAW


def test_each_description_gets_a_higher_origin_version() -> None:
    local = LocalSdp("192.0.2.1")
    first, second = local.audio(1, (Law.ALAW,)), local.t38(2, T38Params())
    versions = [int(text.split("\r\n")[1].split()[2]) for text in (first, second)]
    assert versions[1] == versions[0] + 1


def test_a_t38_offer_skips_declined_streams_and_uses_the_media_address() -> None:
    media = parse(ASTERISK_T38)
    assert media.kind is MediaKind.T38 and media.address == "10.0.0.6" and media.port == 4000
    assert media.t38 == T38Params(0, 9600, "transferredTCF", 1800, 180, "t38UDPFEC")
    answer = T38Params().answer_to(media.t38)
    # the lower rate, their datagram limit, and redundancy instead of the FEC we never send
    assert (answer.max_bit_rate, answer.max_datagram) == (9600, 180)
    assert answer.error_correction == "t38UDPRedundancy"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("v=0\r\nm=audio 1 RTP/AVP 0\r\n", "no connection address"),
        ("v=0\r\nc=IN IP4 1.2.3.4\r\nm=video 5 RTP/AVP 31\r\n", "offered: video RTP/AVP"),
        ("v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio x RTP/AVP 0\r\n", "malformed media line"),
        ("v=0\r\nc=IN\r\nm=audio 1 RTP/AVP 0\r\n", "malformed connection line"),
        ("", "offered: nothing"),
    ],
)
def test_unusable_descriptions_say_why(text: str, message: str) -> None:
    with pytest.raises(SdpError, match=message):
        parse(text)


def test_an_audio_answer_without_g711_names_what_was_offered() -> None:
    media = parse("v=0\r\nc=IN IP4 1.2.3.4\r\nm=audio 5 RTP/AVP 9 18\r\n")
    with pytest.raises(SdpError, match=r"offers payload types \[9, 18\]"):
        media.law((Law.ALAW, Law.ULAW))


def test_rtp_packets_round_trip_through_g711() -> None:
    sender = rtp.RtpSender(Law.ALAW, 8)
    tone = (8000 * np.sin(np.arange(160) * 2 * np.pi * 1100 / 8000)).astype(np.int16)
    first, second = sender.packet(tone), sender.packet(tone)
    seq1, pt, payload = rtp.parse(first) or (0, 0, b"")
    seq2, _, _ = rtp.parse(second) or (0, 0, b"")
    assert pt == 8 and len(payload) == 160 and seq2 == (seq1 + 1) & 0xFFFF
    assert first[1] & 0x80 and not second[1] & 0x80  # marker on the first packet only
    assert rtp.parse(b"\x00" * 12) is None  # not version 2
    assert rtp.parse(b"\x80") is None


def test_the_jitter_buffer_reorders_waits_for_late_packets_and_skips_lost_ones() -> None:
    buf = rtp.JitterBuffer(depth=3)
    base = 65534  # the sequence numbers wrap during the test
    # One tick per 20 ms: packet 1 arrives after 2, packet 3 never arrives.
    arrivals = [[0], [2], [1], [], [4], [5], [6], [7], [8], [9]]
    played = []
    for packets in arrivals:
        for n in packets:
            buf.put((base + n) & 0xFFFF, np.full(rtp.FRAME, 10 + n, dtype=np.int16))
        played.append(int(buf.pop()[0]))
    # 0 = silence: while the first 3 frames fill the buffer, while 3 is awaited (up to the
    # depth), and for 3 itself; 1 came late but in time.
    assert played == [0, 0, 10, 11, 12, 0, 0, 14, 15, 16]
    assert buf.lost == 1
    buf.put((base + 1) & 0xFFFF, np.full(rtp.FRAME, 99, dtype=np.int16))  # long gone
    assert buf.late == 1


def test_the_jitter_buffer_refills_after_running_dry() -> None:
    buf = rtp.JitterBuffer(depth=2)
    played = []
    for packets in [[0], [1], [], [], [2], [3], [4]]:
        for n in packets:
            buf.put(n, np.full(rtp.FRAME, 10 + n, dtype=np.int16))
        played.append(int(buf.pop()[0]))
    # fill (0, 1), play 10, 11, run dry (underrun), refill with 2 and 3, play on
    assert played == [0, 10, 11, 0, 0, 12, 13]
    assert buf.underruns == 1 and buf.lost == 0


@pytest.mark.parametrize(
    ("code", "outcome"),
    [
        (486, Outcome.BUSY),
        (600, Outcome.BUSY),
        (480, Outcome.NO_ANSWER),
        (408, Outcome.NO_ANSWER),
        (487, Outcome.NO_ANSWER),
        (404, Outcome.INVALID_NUMBER),
        (484, Outcome.INVALID_NUMBER),
        (604, Outcome.INVALID_NUMBER),
        (403, Outcome.FAILED),
        (407, Outcome.FAILED),
        (503, Outcome.FAILED),
    ],
)
def test_sip_causes_map_to_outcomes(code: int, outcome: Outcome) -> None:
    assert causes.outcome_of(code) is outcome
    assert f"SIP {code} Why" in causes.explain(code, "Why")


def test_settings_validate_the_proxy_and_the_modes() -> None:
    assert split_hostport("pbx.example:5070") == ("pbx.example", 5070)
    assert split_hostport("10.0.0.1") == ("10.0.0.1", 5060)
    with pytest.raises(ValidationError, match="out of range"):
        SipConfig(proxy="pbx:70000")
    with pytest.raises(ValidationError, match="t38"):
        SipConfig(t38="sometimes")  # type: ignore[arg-type]
    assert SipConfig(local_address="198.51.100.7").our_address() == "198.51.100.7"
    assert SipConfig(proxy="127.0.0.1:5060").our_address() == "127.0.0.1"


def test_dial_strings_keep_digits_and_the_plus() -> None:
    assert dial_string("+1 (555) 777-0100") == "+15557770100"
    with pytest.raises(ValueError, match="no digits"):
        dial_string("fax")


def _play(buf: rtp.JitterBuffer, arrivals: list[list[int]]) -> list[int]:
    played = []
    for packets in arrivals:
        for n in packets:
            buf.put(n, np.full(rtp.FRAME, 10 + n, dtype=np.int16))
        played.append(int(buf.pop()[0]))
    return played


def test_the_default_playout_outlasts_a_250_ms_stall_of_the_far_end() -> None:
    # As MediaSession builds it. The far end sends one frame per tick, stops for 250 ms (a GC
    # pause, a busy host), then sends the missed frames at once as its step loop catches up.
    buf = rtp.JitterBuffer(PLAYOUT_FRAMES, limit=2 * PLAYOUT_FRAMES + CATCH_UP_TICKS)
    arrivals = [[n] for n in range(40)] + [[] for _ in range(12)]
    arrivals.append(list(range(40, 53)))
    arrivals += [[n] for n in range(53, 100)]
    played = _play(buf, arrivals)
    start = played.index(10)  # after the prefill, every frame plays, in order, no silence
    assert played[start:] == [10 + n for n in range(len(played) - start)]
    assert (buf.underruns, buf.lost) == (0, 0)


def test_a_stall_of_this_end_loses_no_frame_when_it_catches_up() -> None:
    # This end was paused for 1 s: 50 frames wait in the socket and arrive in one step.
    buf = rtp.JitterBuffer(PLAYOUT_FRAMES, limit=2 * PLAYOUT_FRAMES + CATCH_UP_TICKS)
    arrivals = [[n] for n in range(20)] + [list(range(20, 70))] + [[n] for n in range(70, 150)]
    played = _play(buf, arrivals)
    start = played.index(10)
    assert played[start:] == [10 + n for n in range(len(played) - start)]
    assert buf.lost == 0


def test_a_far_end_whose_clock_runs_fast_cannot_grow_the_delay_without_bound() -> None:
    buf = rtp.JitterBuffer(4, limit=10)
    # two frames arrive per tick: the excess is dropped, the buffer never holds more than 10
    arrivals = [[2 * t, 2 * t + 1] for t in range(30)]
    played = _play(buf, arrivals)
    assert buf.lost > 0
    assert 59 - (played[-1] - 10) <= 10  # the last frame played is at most 10 behind the newest
