"""UDPTL framing: wire format, redundancy recovery, duplicates, wrap, size limits, bad input."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from faxout.transmit.sip.udptl import UdptlDecoder, UdptlEncoder, UdptlError


def _datagram(seq: int, primary: bytes, *secondaries: bytes) -> bytes:
    """Hand-built datagram (1-byte lengths only), independent of the encoder."""
    out = seq.to_bytes(2, "big") + bytes((len(primary),)) + primary + b"\x00"
    out += bytes((len(secondaries),))
    for s in secondaries:
        out += bytes((len(s),)) + s
    return out


def _ifps(n: int) -> list[bytes]:
    return [bytes((i % 256,)) * (1 + i % 5) for i in range(n)]


def test_exact_bytes_of_the_simplest_datagram() -> None:
    assert UdptlEncoder(redundancy=0).encode(b"\x02") == bytes.fromhex("000001020000")
    assert UdptlEncoder().encode(b"\x02") == bytes.fromhex("000001020000")


def test_secondaries_are_most_recent_first() -> None:
    enc = UdptlEncoder(redundancy=2)
    enc.encode(b"\xaa")
    enc.encode(b"\xbb")
    assert enc.encode(b"\xcc") == bytes.fromhex("0002 01cc 00 02 01bb 01aa")
    assert enc.next_seq == 3


def test_two_byte_length_determinant_round_trips() -> None:
    big = bytes(range(256)) + bytes(44)
    enc = UdptlEncoder(redundancy=1, max_datagram=1000)
    first = enc.encode(big)
    assert first[2:4] == bytes((0x81, 0x2C))  # 300 = 0x12C
    dec = UdptlDecoder()
    assert dec.decode(first) == [(big, 0)]
    enc.encode(b"\x01")  # lost; recovered below, and the 300-byte one rides as a secondary
    third = enc.encode(b"\x02")
    assert dec.decode(third) == [(b"\x01", 1), (b"\x02", 2)]


def test_loss_of_one_is_recovered_in_order() -> None:
    enc, dec = UdptlEncoder(redundancy=2), UdptlDecoder()
    grams = [enc.encode(p) for p in _ifps(4)]
    assert dec.decode(grams[0]) == [(_ifps(4)[0], 0)]
    assert dec.decode(grams[2]) == [(_ifps(4)[1], 1), (_ifps(4)[2], 2)]
    assert dec.decode(grams[3]) == [(_ifps(4)[3], 3)]
    assert (dec.received, dec.recovered, dec.duplicates) == (3, 1, 0)


def test_three_lost_with_redundancy_two_skips_the_oldest() -> None:
    ifps = _ifps(5)
    enc, dec = UdptlEncoder(redundancy=2), UdptlDecoder()
    grams = [enc.encode(p) for p in ifps]
    dec.decode(grams[0])
    assert dec.decode(grams[4]) == [(ifps[2], 2), (ifps[3], 3), (ifps[4], 4)]
    assert dec.recovered == 2


def test_duplicates_and_late_packets_return_nothing() -> None:
    enc, dec = UdptlEncoder(redundancy=1), UdptlDecoder()
    grams = [enc.encode(p) for p in _ifps(4)]
    dec.decode(grams[0])
    assert dec.decode(grams[0]) == []
    dec.decode(grams[1])
    assert dec.decode(grams[3]) == [(_ifps(4)[2], 2), (_ifps(4)[3], 3)]  # 2 from the secondary
    assert dec.decode(grams[2]) == []  # late: already delivered from the secondary
    assert dec.decode(grams[3]) == []
    assert dec.duplicates == 3


def test_sequence_wraps_from_65535_to_0() -> None:
    dec = UdptlDecoder()
    assert dec.decode(_datagram(65534, b"a")) == [(b"a", 65534)]
    # 65535 lost, recovered from 0's secondary across the wrap.
    assert dec.decode(_datagram(0, b"c", b"b", b"a")) == [(b"b", 65535), (b"c", 0)]
    assert dec.decode(_datagram(65535, b"b")) == []  # behind us despite the larger number
    assert dec.decode(_datagram(1, b"d", b"c")) == [(b"d", 1)]


def test_encoder_wraps_its_sequence_number() -> None:
    enc = UdptlEncoder(redundancy=0)
    for _ in range(65535):
        enc.encode(b"")
    assert enc.next_seq == 65535
    assert enc.encode(b"x")[:2] == b"\xff\xff"
    assert enc.next_seq == 0
    assert enc.encode(b"y")[:2] == b"\x00\x00"


def test_max_datagram_drops_oldest_secondaries() -> None:
    # Each 10-byte IFP costs 11 bytes; the header and count cost 2 + 1 + 1.
    enc = UdptlEncoder(redundancy=3, max_datagram=4 + 11 * 3)
    for b in b"abc":
        enc.encode(bytes((b,)) * 10)
    out = enc.encode(b"d" * 10)
    assert len(out) <= 37
    dec = UdptlDecoder()
    dec.decode(_datagram(0, b"a" * 10))
    # Only c and b fitted; a was dropped, so seq 1..2 are recovered and nothing older.
    assert dec.decode(out) == [(b"b" * 10, 1), (b"c" * 10, 2), (b"d" * 10, 3)]


def test_oversize_primary_raises_and_costs_no_sequence_number() -> None:
    enc = UdptlEncoder(max_datagram=20)
    with pytest.raises(UdptlError, match=r"30 bytes.*T38FaxMaxDatagram is 20"):
        enc.encode(bytes(30))
    assert enc.next_seq == 0
    assert enc.encode(bytes(10))[:2] == b"\x00\x00"
    with pytest.raises(UdptlError, match="too large"):
        UdptlEncoder(max_datagram=100_000).encode(bytes(0x4000))


@pytest.mark.parametrize(
    ("datagram", "message"),
    [
        (b"", r"sequence number \(needs 2 bytes, has 0\)"),
        (b"\x00", r"sequence number \(needs 2 bytes, has 1\)"),
        (b"\x00\x00", r"primary IFP length \(needs 1 bytes, has 0\)"),
        (b"\x00\x00\x0c\x01\x02\x03\x04\x05", r"primary IFP \(needs 12 bytes, has 5\)"),
        (b"\x00\x00\x81", r"primary IFP length \(needs 1 bytes, has 0\)"),
        (b"\x00\x00\x01\x02", "error-recovery choice"),
        (b"\x00\x00\x01\x02\x40\x00", "error-recovery choice byte 0x40"),
        (b"\x00\x00\x01\x02\x00", "secondary IFP count"),
        (b"\x00\x00\x01\x02\x00\x02\x01\x03", r"secondary IFP 2 of 2 length"),
        (b"\x00\x00\x01\x02\x00\x01\x05\x03", r"secondary IFP 1 of 1 \(needs 5 bytes, has 1\)"),
        (b"\x00\x00\xc1\x02", "fragmented"),
    ],
)
def test_malformed_datagrams_raise_with_a_useful_message(datagram: bytes, message: str) -> None:
    dec = UdptlDecoder()
    with pytest.raises(UdptlError, match=message):
        dec.decode(datagram)
    assert dec.received == 0
    assert dec.decode(_datagram(7, b"ok")) == [(b"ok", 7)]  # still usable afterwards


def test_fec_datagram_yields_its_primary_only() -> None:
    dec = UdptlDecoder()
    dec.decode(_datagram(0, b"a"))
    # fec-npackets 3, one FEC entry of 2 bytes: not parsed, only skipped.
    fec = b"\x00\x02\x01z\x80\x01\x03\x01\x02\xff\xee"
    assert dec.decode(fec) == [(b"z", 2)]
    assert dec.decode(b"\x00\x03\x01y\x80") == [(b"y", 3)]  # even a bare FEC choice


@settings(max_examples=200, deadline=None)
@given(
    ifps=st.lists(st.binary(max_size=40), min_size=1, max_size=60),
    redundancy=st.integers(min_value=0, max_value=5),
    data=st.data(),
)
def test_property_every_packet_within_redundancy_arrives_once_in_order(
    ifps: list[bytes], redundancy: int, data: st.DataObject
) -> None:
    lost = data.draw(st.lists(st.booleans(), min_size=len(ifps), max_size=len(ifps)))
    lost[0] = False  # the first datagram received sets the starting point
    enc, dec = UdptlEncoder(redundancy=redundancy, max_datagram=2000), UdptlDecoder()
    grams = [enc.encode(p) for p in ifps]
    got: list[tuple[bytes, int]] = []
    for gram, gone in zip(grams, lost, strict=True):
        if not gone:
            got += dec.decode(gram)
            got += dec.decode(gram)  # a repeat must add nothing
    expected = []
    for j, ifp in enumerate(ifps):
        following = [m for m in range(j + 1, len(ifps)) if not lost[m]]
        if not lost[j] or (following and following[0] - j <= redundancy):
            expected.append((ifp, j))
    assert got == expected
    assert dec.recovered == sum(lost[j] for _, j in expected)
