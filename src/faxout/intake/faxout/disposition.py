"""Reading ``Content-Disposition`` and ``Content-Type`` headers the way real clients write them.

Clients in the wild send quoted and unquoted parameters, RFC 2231 ``filename*=UTF-8''…`` (with
continuations), RFC 2047 encoded words (``=?UTF-8?B?…?=``), and Windows paths (``C:\\x.doc``,
sometimes with doubled backslashes). The standard library's email parser knows all of these; this
module adds the last steps: decoding encoded words and reducing a path to its base name.
"""

from __future__ import annotations

import email.header
import email.message
import email.utils
import re

_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_FILENAME_CHARS = 200


def _params(header_name: str, value: str) -> email.message.Message:
    msg = email.message.Message()
    msg[header_name] = value
    return msg


def header_param(header_name: str, value: str, param: str) -> str | None:
    """A parameter of a MIME header, quoted or not, RFC 2231 decoded; None when absent."""
    msg = _params(header_name, value)
    raw = msg.get_param(param, header=header_name, unquote=True)
    if raw is None:
        return None
    if isinstance(raw, tuple):
        return email.utils.collapse_rfc2231_value(raw, errors="replace")
    return str(raw)


def main_value(header_name: str, value: str) -> str:
    """The value before the first ``;``, lower-cased (``form-data``, ``text/html``)."""
    return value.split(";", 1)[0].strip().lower()


def decode_encoded_words(text: str) -> str:
    """Decode RFC 2047 encoded words; text without them is returned unchanged."""
    if not _ENCODED_WORD.search(text):
        return text
    try:
        parts = email.header.decode_header(text)
    except (ValueError, LookupError):
        return text
    out = []
    for chunk, charset in parts:
        if isinstance(chunk, bytes):
            try:
                out.append(chunk.decode(charset or "ascii", errors="replace"))
            except LookupError:
                out.append(chunk.decode("utf-8", errors="replace"))
        else:
            out.append(chunk)
    return "".join(out)


def base_filename(raw: str) -> str:
    """Reduce a client's file name to a safe base name (``C:\\\\dir\\\\x.doc`` → ``x.doc``)."""
    name = decode_encoded_words(raw)
    name = _CONTROL.sub("", re.split(r"[\\/]+", name)[-1]).strip()
    return "" if name in {".", ".."} else name[:MAX_FILENAME_CHARS]


def disposition(value: str) -> tuple[str | None, str | None]:
    """``(name, filename)`` of a part's Content-Disposition; each None when absent."""
    msg = _params("content-disposition", value)
    name = header_param("content-disposition", value, "name")
    filename = msg.get_filename()
    if filename is not None:
        filename = base_filename(filename)
    return name, filename
