"""A real SMTP relay for the tests: aiosmtpd on 127.0.0.1 with STARTTLS (or implicit TLS) and
AUTH, recording what it accepts, answering scripted refusals first."""

from __future__ import annotations

import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.procs import free_port

USER, PASSWORD = "reports", "s3cret"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes
    authenticated: bool
    tls: bool


@dataclass
class Recorder:
    """The handler: ``rcpt_replies``/``data_replies`` are answered first, then 250."""

    received: list[Received] = field(default_factory=list)
    rcpt_replies: list[str] = field(default_factory=list)
    data_replies: list[str] = field(default_factory=list)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: list[str]
    ) -> str:
        if self.rcpt_replies:
            return self.rcpt_replies.pop(0)
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if self.data_replies:
            return self.data_replies.pop(0)
        self.received.append(
            Received(
                envelope.mail_from,
                list(envelope.rcpt_tos),
                bytes(envelope.original_content),
                bool(session.authenticated),
                session.ssl is not None
                or server.transport.get_extra_info("ssl_object") is not None,
            )
        )
        return "250 2.0.0 queued"


def _authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (
        auth_data.login == USER.encode() and auth_data.password == PASSWORD.encode()
    )
    return AuthResult(success=ok, handled=False)


class Relay:
    """Start/stop an aiosmtpd relay (``implicit``: TLS from the first byte, else STARTTLS)."""

    def __init__(self, ca: trustme.CA, port: int | None = None, *, implicit: bool = False) -> None:
        self.recorder = Recorder()
        self.port = port or free_port()
        cert = ca.issue_cert("127.0.0.1", "localhost")
        server_ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(server_ctx)
        common: dict[str, Any] = {
            "hostname": "127.0.0.1",
            "port": self.port,
            "authenticator": _authenticator,
            "auth_required": True,
            "auth_require_tls": True,
            "ready_timeout": 10.0,
        }
        if implicit:
            # aiosmtpd only counts STARTTLS as TLS for auth_require_tls; here all of it is TLS.
            common["auth_require_tls"] = False
            self.controller = Controller(self.recorder, ssl_context=server_ctx, **common)
        else:
            self.controller = Controller(
                self.recorder, tls_context=server_ctx, require_starttls=True, **common
            )

    def start(self) -> Relay:
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    @property
    def received(self) -> list[Received]:
        return self.recorder.received


def write_ca(ca: trustme.CA, directory: Path) -> Path:
    path = directory / "ca.pem"
    ca.cert_pem.write_to_path(str(path))
    return path
