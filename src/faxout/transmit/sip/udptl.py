"""UDPTL framing for T.38 (ITU-T T.38 clause 9.1): sequence numbers and redundancy.

Sits between spandsp's IFP packets and the UDP socket. The wire format is the ASN.1 PER
(aligned) encoding every implementation writes: a 2-byte sequence number, the primary IFP
with a length determinant, then an error-recovery choice byte: ``0x00`` for redundant
secondary IFPs (most recent first) or ``0x80`` for FEC, which we never send and only skip.
"""

from __future__ import annotations

from collections import deque

_SEQ_MOD = 0x10000
_MAX_LEN = 0x4000  # 2-byte length determinants stop here; fragmented lengths are not used
_RECOVERY_SECONDARY = 0x00
_RECOVERY_FEC = 0x80


class UdptlError(ValueError):
    """A UDPTL datagram that cannot be built or parsed; the message says what was wrong."""


def _length(n: int) -> bytes:
    """PER length determinant for ``n`` (< 0x4000)."""
    if n < 0x80:
        return bytes((n,))
    if n < _MAX_LEN:
        return bytes((0x80 | (n >> 8), n & 0xFF))
    raise UdptlError(f"UDPTL length {n} too large (limit {_MAX_LEN - 1})")


def _field(data: bytes) -> bytes:
    return _length(len(data)) + data


class _Reader:
    """Cursor over one datagram; every short read raises UdptlError naming the field."""

    def __init__(self, data: bytes) -> None:
        self._data = data
        self.pos = 0

    def take(self, n: int, what: str) -> bytes:
        have = len(self._data) - self.pos
        if n > have:
            raise UdptlError(
                f"UDPTL datagram truncated in the {what} (needs {n} bytes, has {have})"
            )
        chunk = self._data[self.pos : self.pos + n]
        self.pos += n
        return chunk

    def length(self, what: str) -> int:
        first = self.take(1, f"{what} length")[0]
        if first < 0x80:
            return first
        if first & 0xC0 == 0x80:
            return ((first & 0x3F) << 8) | self.take(1, f"{what} length")[0]
        # 0xC0 marks a fragmented length (>= 16K items); no T.38 IFP is that big.
        raise UdptlError(f"UDPTL fragmented length determinant (0x{first:02x}) in the {what}")

    def field(self, what: str) -> bytes:
        return self.take(self.length(what), what)


class UdptlEncoder:
    """Numbers outgoing IFPs and repeats the last ``redundancy`` of them in each datagram."""

    def __init__(self, redundancy: int = 3, max_datagram: int = 400) -> None:
        """``max_datagram`` is the far end's T38FaxMaxDatagram: secondaries are dropped,
        oldest first, to stay within it."""
        if redundancy < 0:
            raise ValueError(f"redundancy must be >= 0, got {redundancy}")
        if max_datagram < 1:
            raise ValueError(f"max_datagram must be >= 1, got {max_datagram}")
        self._max = max_datagram
        self._seq = 0
        self._history: deque[bytes] = deque(maxlen=redundancy)  # oldest first

    @property
    def next_seq(self) -> int:
        """Sequence number the next :meth:`encode` will use."""
        return self._seq

    def encode(self, ifp: bytes) -> bytes:
        """Build the datagram carrying ``ifp``; UdptlError if even the IFP alone won't fit."""
        head = self._seq.to_bytes(2, "big") + _field(ifp) + bytes((_RECOVERY_SECONDARY,))
        secondaries = [_field(p) for p in reversed(self._history)]  # seq-1 first
        while True:
            body = _length(len(secondaries)) + b"".join(secondaries)
            if len(head) + len(body) <= self._max:
                break
            if not secondaries:
                raise UdptlError(
                    f"IFP of {len(ifp)} bytes needs a {len(head) + len(body)}-byte UDPTL "
                    f"datagram; the far end's T38FaxMaxDatagram is {self._max}"
                )
            secondaries.pop()  # the oldest goes first: it is least likely still missing
        # State changes only once the datagram is certain, so a rejected IFP costs no seq.
        self._history.append(bytes(ifp))
        self._seq = (self._seq + 1) % _SEQ_MOD
        return head + body


def parse(datagram: bytes) -> tuple[int, bytes, list[bytes]]:
    """Split a datagram into (seq, primary, secondaries most recent first).

    FEC datagrams yield no secondaries: we never ask for FEC, so its payload is not parsed.
    """
    r = _Reader(datagram)
    seq = int.from_bytes(r.take(2, "sequence number"), "big")
    primary = r.field("primary IFP")
    mode = r.take(1, "error-recovery choice")[0]
    if mode == _RECOVERY_FEC:
        return seq, primary, []
    if mode != _RECOVERY_SECONDARY:
        raise UdptlError(f"UDPTL error-recovery choice byte 0x{mode:02x} is neither 0x00 nor 0x80")
    count = r.length("secondary IFP count")
    secondaries = [r.field(f"secondary IFP {i + 1} of {count}") for i in range(count)]
    return seq, primary, secondaries


class UdptlDecoder:
    """Turns received datagrams back into in-order IFPs, filling gaps from secondaries.

    Counters: ``received`` (datagrams parsed), ``recovered`` (IFPs rebuilt from secondaries),
    ``duplicates`` (datagrams that were repeats or arrived after their seq was passed).
    """

    def __init__(self) -> None:
        self._next: int | None = None  # seq expected next; None until the first datagram
        self.received = 0
        self.recovered = 0
        self.duplicates = 0

    def decode(self, datagram: bytes) -> list[tuple[bytes, int]]:
        """Return the IFPs newly deliverable, in order, as (ifp, seq).

        A gap wider than the secondaries is skipped: spandsp sees the jump and handles it.
        """
        seq, primary, secondaries = parse(datagram)
        self.received += 1
        if self._next is None:
            # Secondaries of the first datagram predate the call as far as we know.
            self._next = (seq + 1) % _SEQ_MOD
            return [(primary, seq)]
        missed = (seq - self._next) % _SEQ_MOD
        if missed >= 0x8000:  # behind us, modulo the 16-bit wrap
            self.duplicates += 1
            return []
        fill = min(missed, len(secondaries))
        out = [(secondaries[i - 1], (seq - i) % _SEQ_MOD) for i in range(fill, 0, -1)]
        self.recovered += fill
        out.append((primary, seq))
        self._next = (seq + 1) % _SEQ_MOD
        return out
