"""``faxout check`` for the SIP transport: is the proxy there, and does it take our account?"""

from __future__ import annotations

from faxout.errors import TransportError
from faxout.transmit.sip.config import SipConfig
from faxout.transmit.sip.stack import SipStack


def check_sip(config: SipConfig, timeout: float = 5.0) -> tuple[str | None, str]:
    """``(problem, what worked)``: OPTIONS to the proxy, then REGISTER when configured.

    A proxy that answers OPTIONS with any final response is reachable (some answer 404 or 405
    to OPTIONS for themselves); only silence is a problem.
    """
    try:
        stack = SipStack(config.our_address(), 0)
    except TransportError as exc:
        return str(exc), ""
    try:
        answer = stack.options(config.target(), timeout)
        if answer is None:
            return (
                f"no answer to SIP OPTIONS within {timeout:.0f} s: check transmit.sip.proxy "
                "and that UDP reaches it",
                "",
            )
        said = f"OPTIONS answered {answer[0]} {answer[1]}"
        if config.registration:
            user = config.username or config.caller()
            creds = config.credentials()
            ok, reply = stack.register(config.target(), user, creds, timeout=timeout)
            if not ok:
                return f"{said}, but REGISTER as {user} failed: {reply}", said
            said += f"; REGISTER as {user} accepted"
        return None, said
    finally:
        stack.close()
