"""G.711 companding and the line impairments."""

from __future__ import annotations

import numpy as np
import pytest

from faxout.transmit.g711 import Law, compand, decode, encode
from faxout.transmit.line import AudioImpairment, AudioPath, PacketImpairment, PacketPath

LINEAR = np.arange(-32768, 32768, dtype=np.int32).astype(np.int16)


@pytest.mark.parametrize(("law", "silence"), [(Law.ALAW, 0xD5), (Law.ULAW, 0xFF)])
def test_silence_codes(law: Law, silence: int) -> None:
    assert int(encode(np.zeros(1, dtype=np.int16), law)[0]) == silence


@pytest.mark.parametrize(
    ("law", "samples", "codes"),
    [
        # Reference values of the Sun/ITU reference coder.
        (Law.ALAW, [1000, -1000, 32767, -32768], [0xFA, 0x7A, 0xAA, 0x2A]),
        (Law.ULAW, [1000, -1000, 32767, -32768], [0xCE, 0x4E, 0x80, 0x00]),
    ],
)
def test_reference_codes(law: Law, samples: list[int], codes: list[int]) -> None:
    assert encode(np.array(samples, dtype=np.int16), law).tolist() == codes


@pytest.mark.parametrize("law", list(Law))
def test_companding_is_monotonic_with_bounded_relative_error(law: Law) -> None:
    out = compand(LINEAR, law).astype(np.int64)
    assert np.all(np.diff(out) >= 0)
    big = np.abs(LINEAR.astype(np.int64)) > 256
    rel = np.abs(out[big] - LINEAR[big]) / np.abs(LINEAR[big].astype(np.int64))
    assert rel.max() < 0.072  # 4-bit mantissa: at most about 1/16 of the segment
    assert len(np.unique(out)) >= 255


@pytest.mark.parametrize("law", list(Law))
def test_decode_then_encode_is_the_identity_on_codes(law: Law) -> None:
    codes = np.arange(256, dtype=np.uint8)
    back = encode(decode(codes, law), law)
    if law is Law.ULAW:  # µ-law has two zeros (0x7F and 0xFF); encode picks 0xFF
        codes[0x7F] = 0xFF
    assert np.array_equal(back, codes)


def test_gain_and_noise_levels() -> None:
    tone = (3210 * np.sqrt(2) * np.sin(np.arange(8000) * 2 * np.pi * 1800 / 8000)).astype(np.int16)
    louder = AudioPath(AudioImpairment(law=None, gain_db=6.0), seed=1).carry(tone)
    assert np.std(louder) == pytest.approx(2 * np.std(tone), rel=0.01)
    silence = np.zeros(80_000, dtype=np.int16)
    noisy = AudioPath(AudioImpairment(law=None, noise_dbm0=-30.0), seed=1).carry(silence)
    assert np.std(noisy) == pytest.approx(16131 * 10 ** (-30 / 20), rel=0.02)
    gated = AudioPath(AudioImpairment(law=None, noise_dbm0=-30.0, noise_gated=True), seed=1)
    assert not gated.carry(silence).any()  # gated noise only rides on a signal


def test_dropouts_mute_the_line() -> None:
    tone = np.full(8000 * 20, 1000, dtype=np.int16)
    path = AudioPath(AudioImpairment(law=None, dropout_rate=2.0, dropout_ms=40), seed=3)
    out = np.concatenate([path.carry(tone[i : i + 800]) for i in range(0, len(tone), 800)])
    muted = np.count_nonzero(out == 0)
    assert 0 < muted < len(out) // 5
    assert np.array_equal(out[out != 0], tone[out != 0])


def _send(path: PacketPath, n: int) -> list[tuple[bytes, int]]:
    out: list[tuple[bytes, int]] = []
    for i in range(n):
        out.extend(path.carry([(f"p{i}".encode(), 1)]))
    return out


def test_clean_packet_path_delivers_everything_in_order() -> None:
    got = _send(PacketPath(PacketImpairment(), seed=1), 500)
    assert [seq for _, seq in got] == list(range(500))
    assert got[7][0] == b"p7"


def test_loss_without_redundancy_drops_packets() -> None:
    path = PacketPath(PacketImpairment(loss=0.1), seed=1)
    got = _send(path, 2000)
    assert 1600 < len(got) < 1900
    assert path.lost == 2000 - len(got)


def test_redundancy_recovers_lost_datagrams_in_order() -> None:
    path = PacketPath(PacketImpairment(loss=0.1, redundancy=3), seed=1)
    got = _send(path, 2000)
    seqs = [seq for _, seq in got]
    assert seqs == sorted(seqs)
    assert len(got) >= 1995  # lost for good only when 4 datagrams in a row are lost
    assert path.lost > 150
    assert all(payload == f"p{seq}".encode() for payload, seq in got)


def test_copies_requested_by_spandsp_are_delivered_once() -> None:
    path = PacketPath(PacketImpairment(), seed=1)
    got = path.carry([(b"indicator", 3), (b"data", 1)])
    assert got == [(b"indicator", 0), (b"data", 1)]
    assert path.datagrams == 4
