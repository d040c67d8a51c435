"""What this end does about T.38, apart from ``faxout.transmit.sip.session`` so the settings
(``transmit.sip.t38``) can name it without loading the SIP stack."""

from __future__ import annotations

import enum


class T38Mode(enum.StrEnum):
    """What this end does about T.38."""

    OFF = "off"  # stay on G.711; refuse re-INVITEs to T.38
    ACCEPT = "accept"  # answer the far end's re-INVITE to T.38 (the usual case)
    REQUEST = "request"  # also send our own re-INVITE to T.38 shortly after the answer
