"""The configured transport is the one the pipeline sends through."""

from __future__ import annotations

from pathlib import Path

from faxout.ops.gateway import build_gateway
from faxout.ops.runtime import make_transport
from faxout.ops.settings import Settings, Transmit
from faxout.transmit.hylafax import HylaFaxConfig, HylaFaxTransport
from faxout.transmit.simline import SimLineTransport


def test_simline_by_default_hylafax_when_configured(tmp_path: Path) -> None:
    assert isinstance(make_transport(build_gateway(Settings(data_dir=tmp_path))), SimLineTransport)
    hylafax = Settings(
        data_dir=tmp_path,
        transmit=Transmit(transport="hylafax", hylafax=HylaFaxConfig(host="127.0.0.1", port=4559)),
    )
    assert isinstance(make_transport(build_gateway(hylafax)), HylaFaxTransport)


def test_sip_when_configured(tmp_path: Path) -> None:
    from faxout.transmit.sip.config import SipConfig
    from faxout.transmit.sip.transport import SipTransport

    sip = Settings(
        data_dir=tmp_path,
        transmit=Transmit(transport="sip", sip=SipConfig(proxy="127.0.0.1:5060")),
    )
    transport = make_transport(build_gateway(sip))
    assert isinstance(transport, SipTransport)
    assert transport.config.proxy == "127.0.0.1:5060"


def test_a_transport_with_its_own_line_count_overrides_transmit_lines() -> None:
    from faxout.transmit.sip.config import SipConfig

    assert Transmit(lines=4).line_count() == 4
    assert Transmit(lines=4, transport="hylafax", hylafax=HylaFaxConfig(lines=2)).line_count() == 2
    assert Transmit(lines=4, transport="hylafax").line_count() == 4
    assert Transmit(lines=4, transport="sip", sip=SipConfig(lines=30)).line_count() == 30
    # a count for a transport not in use changes nothing
    assert Transmit(lines=4, sip=SipConfig(lines=30)).line_count() == 4
