"""Streaming decoders for a part's ``Content-Transfer-Encoding`` (base64, quoted-printable).

Old clients (Perl MIME::Lite, some .NET code) encode file parts; RFC 7578 deprecates it but they
still exist. MIME base64 carries a line break every 76 characters, which the decoders shipped with
python-multipart do not skip, hence these.

Every decoder works in time linear in its input and holds back at most one line (QP) or three
bytes (base64) between chunks, so a part without line breaks costs no more than one with them.
Decoded output is never larger than its input, so the body limit bounds it too.
"""

from __future__ import annotations

import binascii
from collections.abc import Callable

_WHITESPACE = b" \t\r\n"
# RFC 5322 2.1.1 / RFC 2045 2.8: a line is at most 998 bytes before its CRLF. Quoted-printable
# must be decoded line by line (a soft break "=" only means something at a line's end), so a
# longer line would have to be held whole; refusing it keeps the held bytes bounded.
MAX_QP_LINE = 998


class TransferDecodeError(ValueError):
    """The part's bytes do not decode in its declared transfer encoding."""


class Base64Stream:
    """Decode base64 arriving in arbitrary chunks, ignoring line breaks.

    Lines of any length are accepted: some clients send one line of base64 for a whole file.
    """

    def __init__(self, sink: Callable[[bytes], None]) -> None:
        self._sink = sink
        self._carry = b""

    def write(self, data: bytes) -> None:
        """Decode the next bytes of the part."""
        data = self._carry + data.translate(None, _WHITESPACE)
        cut = len(data) // 4 * 4
        self._carry = data[cut:]
        if cut:
            try:
                self._sink(binascii.a2b_base64(data[:cut], strict_mode=True))
            except binascii.Error as exc:
                raise TransferDecodeError(f"bad base64: {exc}") from exc

    def finish(self) -> None:
        """The part ended: a partial group left over is an error."""
        if self._carry:
            raise TransferDecodeError("base64 data ends in the middle of a group")


def _short_lines(data: bytes) -> bytes:
    """``data`` itself, once no line in it is over ``MAX_QP_LINE`` bytes (not counting CR LF)."""
    for line in data.split(b"\n"):  # one linear pass
        if len(line) - line.endswith(b"\r") > MAX_QP_LINE:
            raise TransferDecodeError(f"quoted-printable line longer than {MAX_QP_LINE} bytes")
    return data


class QuotedPrintableStream:
    """Decode quoted-printable arriving in arbitrary chunks, line by line.

    Only the current incomplete line is held between chunks, and it may not grow past
    ``MAX_QP_LINE`` bytes: a longer line raises ``TransferDecodeError``.
    """

    def __init__(self, sink: Callable[[bytes], None]) -> None:
        self._sink = sink
        self._carry = b""

    def write(self, data: bytes) -> None:
        """Decode the complete lines among the next bytes; hold back the last, partial one."""
        cut = data.rfind(b"\n") + 1
        if not cut:
            self._carry = _short_lines(self._carry + data)
            return
        lines = _short_lines(self._carry + data[:cut])
        self._carry = _short_lines(data[cut:])
        self._sink(binascii.a2b_qp(lines))

    def finish(self) -> None:
        """Decode the last line (it may lack a line break)."""
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
