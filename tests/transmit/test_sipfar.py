"""The SIP far ends themselves work (no faxout code involved): kamailio, baresip, SIPp.

The UA side is SIPp with test-only UAC scenarios (``sipp/uac_*.xml``) or, for one-shot
transactions, a few raw SIP lines over a UDP socket.
"""

from __future__ import annotations

import re
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.transmit.sipfar import (
    baresip_phone,
    kamailio_proxy,
    missing,
    run_sipp_uac,
    sip_ping,
    sipp_uas,
)


@pytest.fixture(autouse=True)
def _far_ends_installed() -> None:
    # `make test` installs the packages: missing means a broken set-up, not a skip.
    why = missing()
    assert why is None, f"{why} (run `make setup-test` as root)"


class RawUac:
    """One UDP socket speaking just enough SIP for single transactions."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(3)
        self.port = int(self.sock.getsockname()[1])

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()

    def send(
        self,
        port: int,
        method: str,
        ruri: str,
        cseq: int,
        tag: str,
        branch: str,
        extra: str = "",
        to_tag: str = "",
    ) -> None:
        """Send one request (``to_tag`` is ``;tag=...`` for in-transaction ACKs)."""
        msg = (
            f"{method} {ruri} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{self.port};branch={branch};rport\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:alice@127.0.0.1>;tag={tag}\r\n"
            f"To: <{ruri}>{to_tag}\r\n"
            f"Call-ID: {tag}@127.0.0.1\r\n"
            f"CSeq: {cseq} {method}\r\n"
            f"Contact: <sip:alice@127.0.0.1:{self.port}>\r\n"
            f"{extra}"
            "Content-Length: 0\r\n\r\n"
        )
        self.sock.sendto(msg.encode(), ("127.0.0.1", port))

    def transaction(self, port: int, method: str, ruri: str) -> list[str]:
        """Send one request; all responses up to the final one (ACKed for an INVITE)."""
        tag, branch = uuid.uuid4().hex[:10], "z9hG4bK" + uuid.uuid4().hex[:10]
        self.send(port, method, ruri, 1, tag, branch)
        replies = []
        while True:
            reply = self.sock.recv(65535).decode()
            replies.append(reply)
            if not reply.startswith("SIP/2.0 1"):
                break
        if method == "INVITE":
            to_tag = reply.split("\r\nTo:", 1)[1].split("\r\n", 1)[0].split(">", 1)[1]
            self.send(port, "ACK", ruri, 1, tag, branch, to_tag=to_tag)
        return replies


def code(reply: str) -> int:
    """A response's status code."""
    return int(reply.split(" ", 2)[1])


@pytest.fixture
def uac() -> Iterator[RawUac]:
    """A raw UDP SIP client, closed after the test."""
    u = RawUac()
    yield u
    u.close()


def test_kamailio_challenges_and_answers_options(tmp_path: Path, uac: RawUac) -> None:
    with kamailio_proxy(tmp_path) as proxy:
        assert sip_ping(proxy.port) == 200
        ruri = f"sip:bob@127.0.0.1:{proxy.port}"
        reg = uac.transaction(proxy.port, "REGISTER", f"sip:127.0.0.1:{proxy.port}")[-1]
        assert code(reg) == 401, reg
        assert 'WWW-Authenticate: Digest realm="127.0.0.1"' in reg
        inv = uac.transaction(proxy.port, "INVITE", ruri)[-1]
        assert code(inv) == 407, inv
        assert 'Proxy-Authenticate: Digest realm="127.0.0.1"' in inv
        # no REGISTER succeeded, so an authenticated INVITE finds nobody
        res = run_sipp_uac(
            tmp_path,
            "uac_call",
            proxy.address,
            {"callee": "bob", "reinvite": "no", "hangup": "no"},
            auth=("alice", "s3cret"),
            timeout=5,
        )
        assert not res.ok
        assert "SIP/2.0 404 Not Found" in res.messages


def test_kamailio_relays_to_registered_user(tmp_path: Path) -> None:
    """REGISTER with auth, then an authenticated INVITE reaches the registered SIPp, which
    answers, takes a T.38 re-INVITE (488) and hangs up: all through the proxy's route set."""
    with kamailio_proxy(tmp_path) as proxy, sipp_uas(tmp_path, "bye_early", timeout=20) as callee:
        reg = run_sipp_uac(
            tmp_path,
            "uac_register",
            proxy.address,
            {"user": "bob", "contact_port": str(callee.port)},
            auth=("bob", proxy.password),
            timeout=5,
        )
        assert reg.ok, reg.messages
        call = run_sipp_uac(
            tmp_path,
            "uac_call",
            proxy.address,
            {"callee": "bob", "reinvite": "yes", "hangup": "no"},
            auth=("alice", proxy.password),
            timeout=15,
        )
        assert call.ok, call.errors + call.messages
    res = callee.wait()
    assert res.ok, res.errors + res.messages
    assert "Proxy-Authorization:" in call.messages
    assert f"Record-Route: <sip:127.0.0.1:{proxy.port};lr" in res.messages
    assert f"Route: <sip:127.0.0.1:{proxy.port};lr" in res.messages  # on SIPp's BYE


def test_baresip_answers_pcmu_and_refuses_t38(tmp_path: Path) -> None:
    with baresip_phone(tmp_path) as phone:
        res = run_sipp_uac(
            tmp_path,
            "uac_call",
            f"127.0.0.1:{phone.port}",
            {"callee": phone.user, "reinvite": "yes", "hangup": "yes"},
            timeout=15,
        )
        assert res.ok, res.errors + res.messages + phone.log_tail()
        assert phone.heard_wavs(), phone.log_tail()
    # baresip's reason phrase is its own ("200 Answering"); the first 200 answers the INVITE
    answer = res.messages.split("SIP/2.0 200 ", 1)[1].split("-----", 1)[0]
    assert "CSeq: 1 INVITE" in answer
    assert re.search(r"m=audio \d+ RTP/AVP 0\b", answer), answer
    assert "SIP/2.0 488" in res.messages


@pytest.mark.parametrize(
    ("status", "reason", "ring"),
    [
        (486, "Busy Here", "yes"),
        (480, "Temporarily Unavailable", "yes"),
        (408, "Request Timeout", "no"),
        (404, "Not Found", "no"),
        (484, "Address Incomplete", "no"),
        (403, "Forbidden", "no"),
        (503, "Service Unavailable", "yes"),
        (600, "Busy Everywhere", "no"),
    ],
)
def test_sipp_reply(tmp_path: Path, uac: RawUac, status: int, reason: str, ring: str) -> None:
    with sipp_uas(
        tmp_path, "reply", {"code": str(status), "reason": reason, "ring": ring}, timeout=10
    ) as far:
        replies = uac.transaction(far.port, "INVITE", f"sip:5550100@127.0.0.1:{far.port}")
    assert [code(r) for r in replies] == [100, 180, status] if ring == "yes" else [100, status]
    assert replies[-1].startswith(f"SIP/2.0 {status} {reason}\r\n")
    assert far.wait().ok


@pytest.mark.parametrize("creds", ["yes", "no"])
def test_sipp_auth_loop(tmp_path: Path, creds: str) -> None:
    with sipp_uas(tmp_path, "auth_loop", timeout=10) as far:
        ua = run_sipp_uac(
            tmp_path,
            "uac_auth_twice",
            f"127.0.0.1:{far.port}",
            {"callee": "x", "creds": creds},
            auth=("alice", "s3cret"),
            timeout=10,
        )
        assert ua.ok, ua.errors + ua.messages
    res = far.wait()
    # the scenario itself fails when the retried INVITE lacks Proxy-Authorization
    assert res.ok is (creds == "yes"), res.errors + res.messages
    assert ("Proxy-Authorization: Digest" in res.messages) is (creds == "yes")


def test_sipp_bye_early(tmp_path: Path) -> None:
    with sipp_uas(tmp_path, "bye_early", timeout=15) as far:
        ua = run_sipp_uac(
            tmp_path,
            "uac_call",
            f"127.0.0.1:{far.port}",
            {"callee": "x", "reinvite": "no", "hangup": "no"},
            timeout=10,
        )
        assert ua.ok, ua.errors + ua.messages
    res = far.wait()
    assert res.ok, res.errors + res.messages
    assert f"m=audio {far.media_port} RTP/AVP 0" in res.messages


def test_sipp_glare(tmp_path: Path) -> None:
    with sipp_uas(tmp_path, "glare", timeout=20) as far:
        ua = run_sipp_uac(
            tmp_path, "uac_glare", f"127.0.0.1:{far.port}", {"callee": "x"}, timeout=15
        )
        assert ua.ok, ua.errors + ua.messages
    res = far.wait()
    assert res.ok, res.errors + res.messages
    assert res.messages.count("SIP/2.0 491 Request Pending") == 2  # one each way
    assert "SIP/2.0 488" in res.messages
