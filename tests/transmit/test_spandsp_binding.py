"""The ctypes binding: loading, constants against the library, callbacks, logging."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

import numpy as np
import pytest

from faxout.errors import TransportError
from faxout.transmit.spandsp import (
    AudioEndpoint,
    LogRoute,
    PhaseEvent,
    T30Config,
    _lib,
    completion_text,
    frame_name,
    libtiff,
)
from faxout.transmit.spandsp import constants as k


def test_missing_library_names_the_debian_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_lib, "SONAME", "libspandsp.so.999")
    with pytest.raises(_lib.SpandspMissingError, match="libspandsp2") as info:
        _lib.library.__wrapped__()
    assert isinstance(info.value, TransportError)
    assert "apt-get install libspandsp2" in str(info.value)


def test_binds_the_pinned_soname() -> None:
    assert _lib.SONAME == "libspandsp.so.2"
    assert _lib.library()._name == "libspandsp.so.2"


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (k.T30_ERR_OK, "OK"),
        (k.T30_ERR_T0_EXPIRED, "Timed out waiting for initial communication"),
        (k.T30_ERR_CANNOT_TRAIN, "Failed to train with any of the compatible modems"),
        (k.T30_ERR_RX_INCAPABLE, "Far end is not able to receive"),
        (k.T30_ERR_NOSIZESUPPORT, "Far end cannot receive at the size of image"),
        (k.T30_ERR_TX_BADPG, "Received a DCN from remote after sending a page"),
        (k.T30_ERR_TX_GOTDCN, "Received a DCN while waiting for a DIS"),
        (k.T30_ERR_TX_PHBDEAD, "Received no response to DCS or TCF"),
        (k.T30_ERR_TX_PHDDEAD, "No response after sending a page"),
        (k.T30_ERR_FILEERROR, "TIFF/F file cannot be opened"),
        (k.T30_ERR_RETRYDCN, "Disconnected after permitted retries"),
        (k.T30_ERR_CALLDROPPED, "The call dropped prematurely"),
        (k.T30_ERR_IDENT_UNACCEPTABLE, "Ident not accepted"),
        (k.T30_ERR_CSA_UNACCEPTABLE, "Called subscriber internet address not accepted"),
    ],
)
def test_completion_codes_match_the_library(code: int, text: str) -> None:
    # The enum values were generated from the headers; the library's own strings confirm them.
    assert completion_text(code) == text


def test_unknown_completion_code_has_plain_words() -> None:
    assert completion_text(999) == "unknown T.30 completion code 999"


@pytest.mark.parametrize(
    ("fcf", "name"),
    [
        (k.T30_MCF, "MCF"),
        (k.T30_RTN, "RTN"),
        (k.T30_RTP, "RTP"),
        (k.T30_MPS, "MPS"),
        (k.T30_EOP, "EOP"),
        (k.T30_EOM, "EOM"),
        (k.T30_DIS, "DIS"),
        (k.T30_DCS, "DCS"),
    ],
)
def test_frame_constants_match_the_library(fcf: int, name: str) -> None:
    assert frame_name(fcf) == name


def _loop(a: AudioEndpoint, b: AudioEndpoint, clock: list[int], seconds: float = 120) -> None:
    while not (a.t30.finished and b.t30.finished) and clock[0] < seconds * 8000:
        x, y = a.transmit(800), b.transmit(800)
        b.receive(x)
        a.receive(y)
        clock[0] += 800


def test_listener_exception_surfaces_in_python_not_in_c(two_pages: Path, tmp_path: Path) -> None:
    clock = [0]

    def now() -> float:
        return clock[0] / 8000

    def explode(event: PhaseEvent) -> None:
        if event.phase == "B":
            raise ValueError(f"listener broke in phase {event.phase}")

    route = LogRoute(logging.getLogger("test.spandsp"), "t")
    with AudioEndpoint(True, now, route, explode) as a, AudioEndpoint(False, now, route) as b:
        a.t30.configure(T30Config(tx_file=two_pages))
        b.t30.configure(T30Config(rx_file=tmp_path / "rx.tif"))
        with pytest.raises(ValueError, match="phase B"):
            _loop(a, b, clock)
        # The call itself was not disturbed: the callback still returned its code to spandsp.
        _loop(a, b, clock)
        assert a.t30.completion == k.T30_ERR_OK
        assert b.t30.completion == k.T30_ERR_OK


def test_spandsp_log_lines_reach_the_call_logger(
    two_pages: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    clock = [0]
    logger = logging.getLogger("test.spandsp.call42")
    caplog.set_level(logging.DEBUG, logger="test.spandsp.call42")

    def now() -> float:
        return clock[0] / 8000

    route_a, route_b = LogRoute(logger, "call42 tx"), LogRoute(logger, "call42 rx")
    with AudioEndpoint(True, now, route_a) as a, AudioEndpoint(False, now, route_b) as b:
        a.t30.configure(T30Config(tx_file=two_pages))
        b.t30.configure(T30Config(rx_file=tmp_path / "rx.tif"))
        _loop(a, b, clock)
    lines = [r.getMessage() for r in caplog.records if r.name == "test.spandsp.call42"]
    assert any("call42 tx" in line and "DCS" in line for line in lines)
    assert any("call42 rx" in line for line in lines)
    assert all(not line.endswith("\n") for line in lines)


def test_endpoint_refuses_use_after_close() -> None:
    route = LogRoute(logging.getLogger("test.spandsp"), "t")
    endpoint = AudioEndpoint(True, lambda: 0.0, route)
    endpoint.close()
    endpoint.close()  # idempotent
    with pytest.raises(TransportError, match="after close"):
        endpoint.receive(np.zeros(160, dtype=np.int16))


def test_config_refuses_long_ident_and_path(tmp_path: Path) -> None:
    route = LogRoute(logging.getLogger("test.spandsp"), "t")
    with AudioEndpoint(True, lambda: 0.0, route) as a:
        with pytest.raises(TransportError, match="20 characters"):
            a.t30.configure(T30Config(ident="x" * 21))
        with pytest.raises(TransportError, match="printable ASCII"):
            a.t30.configure(T30Config(ident="Müller"))
        with pytest.raises(TransportError, match="255 bytes"):
            a.t30.configure(T30Config(tx_file=tmp_path / ("d" * 300)))


def test_endpoint_refuses_use_from_another_thread() -> None:
    route = LogRoute(logging.getLogger("test.spandsp"), "t")
    errors: list[BaseException] = []
    with AudioEndpoint(True, lambda: 0.0, route) as endpoint:

        def other() -> None:
            try:
                endpoint.transmit(160)
            except TransportError as exc:
                errors.append(exc)

        worker = threading.Thread(target=other)
        worker.start()
        worker.join()
        assert len(endpoint.transmit(160)) == 160  # its own thread may
    assert len(errors) == 1 and "other than its own" in str(errors[0])


def test_phase_b_verdict_lets_the_answerer_refuse_the_caller(
    two_pages: Path, tmp_path: Path
) -> None:
    clock = [0]

    def now() -> float:
        return clock[0] / 8000

    route = LogRoute(logging.getLogger("test.spandsp"), "t")
    with AudioEndpoint(True, now, route) as a, AudioEndpoint(False, now, route) as b:
        a.t30.configure(T30Config(ident="+1 555 0100", tx_file=two_pages))
        b.t30.configure(
            T30Config(rx_file=tmp_path / "rx.tif", phase_b_verdict=k.T30_ERR_IDENT_UNACCEPTABLE)
        )
        _loop(a, b, clock)
        assert b.t30.completion == k.T30_ERR_IDENT_UNACCEPTABLE
        assert b.t30.remote_ident == "+1 555 0100"  # the TSI it judged
        assert a.t30.completion not in (None, k.T30_ERR_OK)
        assert not any(e.phase == "D" for e in a.t30.events)


def test_libtiff_messages_go_to_logging_not_stderr(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    clock = [0]

    def now() -> float:
        return clock[0] / 8000

    caplog.set_level(logging.INFO, logger="faxout.transmit.libtiff")
    route = LogRoute(logging.getLogger("test.spandsp"), "t")
    missing = tmp_path / "missing.tif"
    with (
        libtiff.call_context("call-9"),
        AudioEndpoint(True, now, route) as a,
        AudioEndpoint(False, now, route) as b,
    ):
        a.t30.configure(T30Config(tx_file=missing))
        b.t30.configure(T30Config(rx_file=tmp_path / "rx.tif"))
        _loop(a, b, clock)
    assert a.t30.completion == k.T30_ERR_FILEERROR
    records = [r for r in caplog.records if r.name == "faxout.transmit.libtiff"]
    assert any(str(missing) in r.getMessage() and "No such file" in r.getMessage() for r in records)
    # the call id is a field of the record, written on the log line as call_id=call-9
    assert all(getattr(r, "fields", {}).get("call_id") == "call-9" for r in records)
    assert "No such file" not in capfd.readouterr().err
