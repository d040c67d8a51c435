"""Field names of the FaxOut contract, matched the way legacy clients spell them."""

from __future__ import annotations

import re

USERNAME = "username"
PASSWORD = "password"  # noqa: S105 - a field name, not a secret
RECIPIENT = "recipient"
COVERPAGE = "coverpage"
COVERPAGETEXT = "coverpagetext"
RESOLUTION = "resolution"
SENDTIME = "sendtime"
ATTACHMENT = "attachment"

KNOWN = frozenset(
    {USERNAME, PASSWORD, RECIPIENT, COVERPAGE, COVERPAGETEXT, RESOLUTION, SENDTIME, ATTACHMENT}
)
REPEATABLE = frozenset({RECIPIENT, ATTACHMENT})

# PHP array suffixes (``Recipient[0]``, ``Attachment[]``), and numbered names some clients
# generate (``Recipient2``, ``attachment_3``).
_SUFFIX = re.compile(r"(\[[^\]]*\])+$")
_NUMBERED = re.compile(r"^(recipient|attachment)[_-]?\d+$")


def canonical(name: str) -> str | None:
    """The contract's name for a client's field name, or None for a field faxout ignores."""
    key = _SUFFIX.sub("", name.strip()).strip().lower()
    numbered = _NUMBERED.match(key)
    if numbered:
        key = numbered.group(1)
    return key if key in KNOWN else None
