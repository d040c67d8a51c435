"""What the intake counts in its own process: the FaxOut replies, by digit.

Everything else on ``/metrics`` is read from the database at scrape time
(``faxout.ops.metrics``), so it is the same whichever process answers. These counts are not:
each HTTP worker process counts the replies it gave itself (see docs/operations.md).
"""

from __future__ import annotations

from prometheus_client import Counter

from faxout.intake.faxout.codes import Reply

# Not in prometheus_client's global registry: the app that serves /metrics registers it in its
# own (``faxout.ops.metrics.registry``), so several apps in one process do not collide.
REPLIES = Counter(
    "faxout_intake_replies",
    "FaxOut replies given by this HTTP worker process since it started, by digit "
    "(0 accepted, 1 authorization failed, 2 faxing prohibited, 3 no recipients, "
    "4 no fax data, 5 any other error); per process, not per gateway",
    ["digit"],
    registry=None,
)
for _reply in Reply:
    REPLIES.labels(digit=str(int(_reply)))  # every digit shows from the start, at 0


def count_reply(reply: Reply) -> None:
    """One more ``reply`` answered."""
    REPLIES.labels(digit=str(int(reply))).inc()
