"""SIP final responses to an INVITE, mapped onto call outcomes (RFC 3261 §21, RFC 3398).

The mapping is what Asterisk and FreeSWITCH users expect: busy is retried after the busy
delay, no answer after the no-answer delay, an invalid number fails at once, and everything
else (forbidden, auth failure, server trouble) is a failed call the retry policy may repeat.
"""

from __future__ import annotations

from faxout.transmit.result import Outcome

_BUSY = {486, 600}
_NO_ANSWER = {408, 480, 487}
_INVALID = {404, 410, 484, 485, 604}
_AUTH = {401, 407}


def outcome_of(code: int) -> Outcome:
    """The outcome of a call whose INVITE ended with ``code``."""
    if code in _BUSY:
        return Outcome.BUSY
    if code in _NO_ANSWER:
        return Outcome.NO_ANSWER
    if code in _INVALID:
        return Outcome.INVALID_NUMBER
    return Outcome.FAILED


def explain(code: int, reason: str) -> str:
    """The words a report shows for a refused call, naming the SIP response."""
    said = f"SIP {code} {reason}".strip()
    if code in _BUSY:
        return f"the line is busy ({said})"
    if code in _NO_ANSWER:
        return f"no answer ({said})"
    if code in _INVALID:
        return f"the number does not exist or is incomplete ({said})"
    if code in _AUTH:
        return f"the SIP proxy refused faxout's credentials ({said}): check sip.username/password"
    if code == 403:
        return f"the SIP provider refused the call ({said}): account, credit or caller ID"
    if code == 488 or code == 415:
        return f"the far end accepts neither G.711 nor T.38 ({said})"
    if 500 <= code < 600:
        return f"the SIP network failed the call ({said})"
    return f"the call was refused ({said})"
