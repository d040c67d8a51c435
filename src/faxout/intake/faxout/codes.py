"""The FaxOut reply codes: the whole answer to a request is one of these digits.

Checks run in this order, and the first that fails decides the answer: 1 (authorization),
2 (faxing prohibited), 3 (no usable recipient), 4 (no fax data), 5 (anything else: a limit
exceeded, a storage or database failure). A body that cannot be read whole (malformed,
truncated, too slow, over a size or count limit) is 5 right after 1 and 2: what 3 and 4 look for
may be in the unread part. ``0`` is sent only once the submission is durable and its client is
still connected (see docs/guarantees.md).
"""

from __future__ import annotations

import enum


class Reply(enum.IntEnum):
    """A FaxOut reply code."""

    ACCEPTED = 0
    AUTHORIZATION_FAILED = 1
    FAXING_PROHIBITED = 2
    NO_RECIPIENTS = 3
    NO_FAX_DATA = 4
    GENERIC_ERROR = 5

    @property
    def body(self) -> bytes:
        """The response body: the digit alone."""
        return str(int(self)).encode("ascii")
