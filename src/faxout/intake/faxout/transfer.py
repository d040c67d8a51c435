"""Streaming decoders for a part's ``Content-Transfer-Encoding`` (base64, quoted-printable).

Old clients (Perl MIME::Lite, some .NET code) encode file parts; RFC 7578 deprecates it but they
still exist. MIME base64 carries a line break every 76 characters, which the decoders shipped with
python-multipart do not skip, hence these.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable

_WHITESPACE = b" \t\r\n"


class TransferDecodeError(ValueError):
    """The part's bytes do not decode in its declared transfer encoding."""


class Base64Stream:
    """Decode base64 arriving in arbitrary chunks, ignoring line breaks."""

    def __init__(self, sink: Callable[[bytes], None]) -> None:
        self._sink = sink
        self._carry = b""

    def write(self, data: bytes) -> None:
        data = self._carry + data.translate(None, _WHITESPACE)
        cut = len(data) // 4 * 4
        self._carry = data[cut:]
        if cut:
            try:
                self._sink(binascii.a2b_base64(data[:cut], strict_mode=True))
            except binascii.Error as exc:
                raise TransferDecodeError(f"bad base64: {exc}") from exc

    def finish(self) -> None:
        if self._carry:
            raise TransferDecodeError("base64 data ends in the middle of a group")


class QuotedPrintableStream:
    """Decode quoted-printable arriving in arbitrary chunks (line by line)."""

    def __init__(self, sink: Callable[[bytes], None]) -> None:
        self._sink = sink
        self._carry = b""

    def write(self, data: bytes) -> None:
        data = self._carry + data
        cut = data.rfind(b"\n") + 1
        self._carry = data[cut:]
        if cut:
            self._sink(binascii.a2b_qp(data[:cut]))

    def finish(self) -> None:
        if self._carry:
            self._sink(binascii.a2b_qp(self._carry))
            self._carry = b""


class IdentityStream:
    """No transfer encoding (``binary``, ``8bit``, ``7bit`` or none at all)."""

    def __init__(self, sink: Callable[[bytes], None]) -> None:
        self.write = sink

    def finish(self) -> None:
        """Nothing is held back."""


def decoder_for(
    encoding: str, sink: Callable[[bytes], None]
) -> Base64Stream | QuotedPrintableStream | IdentityStream:
    """The decoder for a ``Content-Transfer-Encoding`` value; unknown values pass bytes through."""
    name = encoding.strip().lower()
    if name == "base64":
        return Base64Stream(sink)
    if name == "quoted-printable":
        return QuotedPrintableStream(sink)
    return IdentityStream(sink)
