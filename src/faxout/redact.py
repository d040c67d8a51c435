"""Secrets out of what faxout prints and logs: URLs shown with ``***`` for their passwords.

``faxout.db.engine.shown_url`` does this for SQLAlchemy URLs; this module does it for the others
(``queue_url``: ``redis://:password@host/0``; ``store_url`` and the ``endpoint_url`` inside it;
any URL that may carry ``user:password@`` or a ``?password=`` parameter), and for messages that
might quote one.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

HIDDEN = "***"
# user:password@ after any scheme: (also a mistyped redis:/:pw@host, and inside another URL's
# query: endpoint_url=…)
_USERINFO = re.compile(r"(?P<head>[a-zA-Z][a-zA-Z0-9+.-]*:/*[^:/@\s]*):(?P<secret>[^@/\s]*)@")
# ?password=…, &secret=…, access_token=… (redis-py reads ?password=)
_PARAM = re.compile(
    r"(?i)(?P<head>[?&][a-z_]*(?:password|passwd|secret|token|credential)[a-z_]*=)"
    r"(?P<secret>[^&#\s]*)"
)


def shown_url(url: str) -> str:
    """``url`` fit for a terminal or a log: its passwords replaced by ``***``."""
    url = _USERINFO.sub(rf"\g<head>:{HIDDEN}@", url)
    return _PARAM.sub(rf"\g<head>{HIDDEN}", url)


def secrets_of(url: str) -> list[str]:
    """The secrets written in ``url`` (as written and percent-decoded), longest first."""
    found = {
        form
        for pattern in (_USERINFO, _PARAM)
        for match in pattern.finditer(url)
        for form in (match["secret"], unquote(match["secret"]))
    }
    return sorted((s for s in found if s and s != HIDDEN), key=len, reverse=True)


def without_secrets(message: str, *urls: str) -> str:
    """``message`` (a library's error, say) with every secret of ``urls`` replaced by ``***``,
    and any URL it quotes shown as :func:`shown_url` shows it."""
    for url in urls:
        for secret in secrets_of(url):
            message = message.replace(secret, HIDDEN)
    return shown_url(message)
