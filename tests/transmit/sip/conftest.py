"""Fixtures for the SIP tests: documents, a kamailio proxy, and faxout's own SIP receiver."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from faxout.transmit.result import CallProgress
from faxout.transmit.sip.receiver import ReceiverConfig, SipReceiver
from faxout.transmit.sip.stack import Credentials
from tests.transmit import sipfar
from tests.transmit.pages import text_page, write_tiff

PASSWORD = "s3cret"
RECEIVER_USER = "15557770100"


@pytest.fixture(scope="module")
def doc2(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A two-page fine-resolution fax document."""
    return write_tiff(
        tmp_path_factory.mktemp("doc") / "two.tif", [text_page(1, 900), text_page(2, 900)]
    )


@pytest.fixture(scope="module")
def doc1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-page fine-resolution fax document."""
    return write_tiff(tmp_path_factory.mktemp("doc") / "one.tif", [text_page(3, 800)])


@pytest.fixture
def proxy(tmp_path: Path) -> Iterator[sipfar.Proxy]:
    """A kamailio on a free port: digest auth (401/407) and record-route, like a SIP trunk."""
    why = sipfar.missing("kamailio")
    # `make test` installs the packages: missing means a broken set-up, not a skip.
    assert not why, f"{why} (run `make setup-test` as root)"
    with sipfar.kamailio_proxy(tmp_path / "kamailio", PASSWORD) as running:
        yield running


ReceiverFactory = Callable[..., SipReceiver]


@pytest.fixture
def receiver(tmp_path: Path) -> Iterator[ReceiverFactory]:
    """Starts faxout SIP receivers (closed after the test); ``register_at`` registers one."""
    started: list[SipReceiver] = []

    def start(register_at: sipfar.Proxy | None = None, **options: object) -> SipReceiver:
        config = ReceiverConfig(data_dir=tmp_path / f"rx{len(started)}", port=0, **options)  # type: ignore[arg-type]
        rx = SipReceiver(config)
        started.append(rx)
        if register_at is not None:
            rx.register(
                ("127.0.0.1", register_at.port), RECEIVER_USER, Credentials(RECEIVER_USER, PASSWORD)
            )
        return rx

    yield start
    for rx in started:
        rx.close()


class Progress:
    """Collects a call's progress events."""

    def __init__(self) -> None:
        self.events: list[CallProgress] = []

    def __call__(self, event: CallProgress) -> None:
        self.events.append(event)

    def stages(self) -> list[str]:
        """The stages in order."""
        return [e.stage for e in self.events]
