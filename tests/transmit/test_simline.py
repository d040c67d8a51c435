"""Real fax calls through the simulated line: what arrives is compared with what was sent."""

from __future__ import annotations

import logging
import subprocess
from pathlib import Path
from typing import Any

import pytest

from faxout.clock import FrozenClock
from faxout.errors import TransportError
from faxout.transmit.g711 import Law
from faxout.transmit.line import AudioImpairment, PacketImpairment
from faxout.transmit.result import CallProgress, Compression, FaxCall, Modem, Outcome
from faxout.transmit.simline import Medium, SimLineConfig, SimLineTransport
from tests.transmit.pages import assert_same_pages, read_pages, text_page, write_tiff


def _call(doc: Path, number: str = "+49 30 1234 567", call_id: str = "c1", **kw: Any) -> FaxCall:
    return FaxCall(doc, number, call_id, **kw)


def test_audio_round_trip_is_pixel_identical(
    simline: SimLineTransport, two_pages: Path, sim_dir: Path
) -> None:
    events: list[CallProgress] = []
    result = simline.send(_call(two_pages, ident="FAXOUT TEST"), events.append)
    assert result.success and result.outcome is Outcome.OK
    assert (result.t30_code, result.t30_text) == (0, "OK")
    assert (result.pages_in_document, result.pages_sent, result.pages_confirmed) == (2, 2, 2)
    assert [(p.number, p.verdict, p.bad_rows) for p in result.pages] == [
        (1, "MCF", 0),
        (2, "MCF", 0),
    ]
    assert (result.modem, result.bit_rate, result.ecm) == ("V.17", 14400, True)
    assert result.compression is Compression.MMR
    assert result.remote_csid == "+49301234567"
    assert result.line_seconds > 20 and result.wall_seconds > 0
    assert result.received_path == sim_dir / "received" / "c1.tif"
    assert_same_pages(two_pages, result.received_path)
    stages = [e.stage for e in events]
    assert stages == [
        "dialing",
        "answered",
        "negotiated",
        *("sending", "page") * 2,
        "hangup",
    ]
    assert [(e.page, e.pages, e.verdict) for e in events if e.stage == "page"] == [
        (1, 2, "MCF"),
        (2, 2, "MCF"),
    ]
    times = [e.line_seconds for e in events]
    assert times == sorted(times)


@pytest.mark.parametrize(
    ("modem", "ecm", "coding", "expected"),
    [
        (Modem.V29, False, Compression.MH, ("V.29", 9600, Compression.MH)),
        (Modem.V27TER, True, Compression.MR, ("V.27ter", 4800, Compression.MR)),
        (Modem.V17, False, Compression.MMR, ("V.17", 14400, Compression.MR)),  # T.6 needs ECM
    ],
)
def test_negotiated_link_follows_what_is_offered(
    simline: SimLineTransport,
    two_pages: Path,
    modem: Modem,
    ecm: bool,
    coding: Compression,
    expected: tuple[str, int, Compression],
) -> None:
    codings = tuple(Compression)[: tuple(Compression).index(coding) + 1]
    call = _call(two_pages, modems=(modem,), ecm=ecm, compressions=codings)
    result = simline.send(call, lambda _: None)
    assert result.success
    assert (result.modem, result.bit_rate, result.compression) == expected
    assert result.ecm is ecm
    assert_same_pages(two_pages, result.received_path)


@pytest.mark.parametrize("law", list(Law))
def test_t38_and_both_g711_laws_deliver_identical_pages(
    sim_dir: Path, three_pages: Path, law: Law
) -> None:
    for medium in Medium:
        transport = SimLineTransport(SimLineConfig(sim_dir, medium=medium, law=law))
        result = transport.send(_call(three_pages, call_id=f"{medium}-{law}"), lambda _: None)
        assert result.success, result
        assert_same_pages(three_pages, result.received_path)


def test_t38_with_loss_and_redundancy_delivers_identical_pages(
    sim_dir: Path, two_pages: Path
) -> None:
    packets = PacketImpairment(loss=0.05, redundancy=3)
    transport = SimLineTransport(SimLineConfig(sim_dir, medium=Medium.T38, packets=packets))
    result = transport.send(_call(two_pages, ecm=False), lambda _: None)
    assert result.success
    assert_same_pages(two_pages, result.received_path)


def test_t38_unpaced_is_much_shorter_on_the_line(sim_dir: Path, two_pages: Path) -> None:
    paced = SimLineTransport(SimLineConfig(sim_dir, medium=Medium.T38))
    unpaced = SimLineTransport(SimLineConfig(sim_dir, medium=Medium.T38, t38_paced=False))
    a = paced.send(_call(two_pages, call_id="paced"), lambda _: None)
    b = unpaced.send(_call(two_pages, call_id="unpaced"), lambda _: None)
    assert a.success and b.success
    assert b.line_seconds < a.line_seconds / 3
    assert_same_pages(two_pages, b.received_path)


@pytest.mark.parametrize("medium", list(Medium))
@pytest.mark.parametrize(
    ("number", "outcome", "code"),
    [
        ("+15557770001", Outcome.BUSY, None),
        ("+15557770002", Outcome.NO_ANSWER, None),
        ("+15557770003", Outcome.NOT_FAX, 2),
        ("+15557770010", Outcome.REJECTED, 9),
    ],
)
def test_far_end_behaviours_without_delivery(
    sim_dir: Path, two_pages: Path, medium: Medium, number: str, outcome: Outcome, code: int | None
) -> None:
    transport = SimLineTransport(SimLineConfig(sim_dir, medium=medium))
    result = transport.send(_call(two_pages, number), lambda _: None)
    assert result.outcome is outcome
    assert result.t30_code == code
    assert not result.success
    assert (result.pages_sent, result.pages_confirmed, result.pages) == (0, 0, ())
    assert result.received_path is None
    assert result.line_seconds > 0


@pytest.mark.parametrize("medium", list(Medium))
def test_slow_modem_and_no_ecm_machines(sim_dir: Path, two_pages: Path, medium: Medium) -> None:
    transport = SimLineTransport(SimLineConfig(sim_dir, medium=medium))
    slow = transport.send(_call(two_pages, "+15557770005", "slow"), lambda _: None)
    assert slow.success and (slow.modem, slow.bit_rate) == ("V.27ter", 4800)
    no_ecm = transport.send(_call(two_pages, "+15557770006", "noecm"), lambda _: None)
    assert no_ecm.success and no_ecm.ecm is False and no_ecm.compression is Compression.MR
    assert no_ecm.line_seconds < slow.line_seconds
    for result in (slow, no_ecm):
        assert_same_pages(two_pages, result.received_path)


def test_noisy_audio_line_falls_back_but_ecm_keeps_pages_clean(
    simline: SimLineTransport, two_pages: Path
) -> None:
    result = simline.send(_call(two_pages, "+15557770004"), lambda _: None)
    assert result.success
    assert result.bit_rate is not None and result.bit_rate < 14400
    assert_same_pages(two_pages, result.received_path)


def test_noisy_t38_line_damages_non_ecm_pages(sim_dir: Path, two_pages: Path) -> None:
    transport = SimLineTransport(SimLineConfig(sim_dir, medium=Medium.T38))
    result = transport.send(_call(two_pages, "+15557770004", ecm=False), lambda _: None)
    # Both ends say OK, but rows were lost: strict success refuses it.
    assert result.t30_code == 0
    assert result.outcome is Outcome.PARTIAL and not result.success
    assert sum(p.bad_rows or 0 for p in result.pages) > 0


@pytest.mark.parametrize("medium", list(Medium))
def test_reject_after_one_page(sim_dir: Path, three_pages: Path, medium: Medium) -> None:
    transport = SimLineTransport(SimLineConfig(sim_dir, medium=medium))
    result = transport.send(_call(three_pages, "+15557770011"), lambda _: None)
    assert result.outcome is Outcome.PARTIAL
    assert result.t30_code == 21  # the machine hung up: no response after page 2
    assert result.pages_confirmed == 1
    assert [p.verdict for p in result.pages] == ["MCF"]
    assert result.received_path is not None
    received = read_pages(result.received_path)
    assert len(received) == 1
    assert (received[0] == read_pages(three_pages)[0]).all()


def test_watchdog_hangs_up_a_noise_hung_call(sim_dir: Path, two_pages: Path) -> None:
    # Continuous noise above the V.21 detector threshold: spandsp arms no timer and never ends.
    config = SimLineConfig(
        sim_dir, impairment=AudioImpairment(noise_dbm0=-35.0), line_watchdog_seconds=90.0
    )
    result = SimLineTransport(config).send(_call(two_pages), lambda _: None)
    assert result.outcome is Outcome.FAILED
    assert (result.t30_code, result.t30_text) == (49, "The call dropped prematurely")
    assert result.line_seconds == pytest.approx(90.0, abs=0.2)
    assert result.notes == ("line-watchdog: hung up after 90.0 line seconds",)


class _RushingClock(FrozenClock):
    """Every look at the clock moves it 5 s on: a machine far too slow for the call."""

    def monotonic(self) -> float:
        self.advance(5.0)
        return super().monotonic()


def test_wall_watchdog_ends_a_call_that_takes_too_long(sim_dir: Path, two_pages: Path) -> None:
    config = SimLineConfig(sim_dir, wall_watchdog_seconds=60.0)
    result = SimLineTransport(config, clock=_RushingClock()).send(_call(two_pages), lambda _: None)
    assert result.t30_code == 49 and not result.success
    assert result.notes[0].startswith("wall-watchdog")


def test_preflight_refusal_never_dials(simline: SimLineTransport, tmp_path: Path) -> None:
    strips = write_tiff(tmp_path / "strips.tif", [text_page(1, 512)])
    tiled = tmp_path / "tiled.tif"
    subprocess.run(["tiffcp", "-t", "-w", "256", "-l", "256", str(strips), str(tiled)], check=True)
    events: list[CallProgress] = []
    result = simline.send(_call(tiled), events.append)
    assert result.outcome is Outcome.FAILED and result.t30_code is None
    assert (
        result.t30_text == "document refused: page 1 is tiled; fax pages must be stored in strips"
    )
    assert events == []


def test_call_id_cannot_escape_the_received_folder(
    simline: SimLineTransport, two_pages: Path, sim_dir: Path
) -> None:
    result = simline.send(_call(two_pages, call_id="../../etc/passwd"), lambda _: None)
    assert result.received_path is not None
    assert result.received_path.parent == sim_dir / "received"


def test_realtime_pacing_keeps_wall_time_with_line_time(sim_dir: Path, two_pages: Path) -> None:
    clock = FrozenClock()  # sleeping advances it: no real waiting in the test
    config = SimLineConfig(sim_dir, realtime=True)
    result = SimLineTransport(config, clock=clock).send(_call(two_pages), lambda _: None)
    assert result.success
    assert result.wall_seconds == pytest.approx(result.line_seconds, abs=0.2)
    busy = SimLineTransport(config, clock=clock).send(
        _call(two_pages, "+15557770001"), lambda _: None
    )
    assert busy.wall_seconds == pytest.approx(4.0)


def test_spandsp_lines_are_logged_with_the_call_id(
    simline: SimLineTransport, two_pages: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="faxout.transmit.spandsp")
    assert simline.send(_call(two_pages, call_id="call-77"), lambda _: None).success
    records = [r for r in caplog.records if r.name == "faxout.transmit.spandsp"]
    assert records and all(getattr(r, "call_id", None) == "call-77" for r in records)
    text = "\n".join(r.getMessage() for r in records)
    assert "call-77 caller" in text and "call-77 far end" in text


def test_a_retry_never_reports_the_previous_attempts_file(
    simline: SimLineTransport, two_pages: Path
) -> None:
    first = simline.send(_call(two_pages, call_id="job-1"), lambda _: None)
    assert first.received_path is not None
    again = simline.send(_call(two_pages, "+15557770010", call_id="job-1"), lambda _: None)
    assert again.outcome is Outcome.REJECTED
    assert again.received_path is None and not first.received_path.exists()


def test_dropouts_cost_time_or_calls_but_never_pixels(sim_dir: Path, two_pages: Path) -> None:
    clean = SimLineTransport(SimLineConfig(sim_dir)).send(_call(two_pages), lambda _: None)
    impairment = AudioImpairment(dropout_rate=0.1, dropout_ms=40)
    results = [
        SimLineTransport(SimLineConfig(sim_dir, impairment=impairment, seed=seed)).send(
            _call(two_pages, call_id=f"drop{seed}"), lambda _: None
        )
        for seed in (1, 2, 3, 4)
    ]
    sent = read_pages(two_pages)
    for result in results:
        assert result.t30_code is not None and not result.notes  # ended by T.30, not a watchdog
        assert result.outcome in (Outcome.OK, Outcome.PARTIAL, Outcome.FAILED)
        if result.pages_confirmed:
            assert result.received_path is not None
            got = read_pages(result.received_path)
            for n in range(result.pages_confirmed):
                assert (got[n] == sent[n]).all()  # ECM: a confirmed page is an exact page
    ok = [r for r in results if r.success]
    assert ok and all(r.line_seconds > clean.line_seconds for r in ok)  # ECM resent blocks


def test_quiet_noisy_mu_law_line_still_runs_at_full_speed(sim_dir: Path, two_pages: Path) -> None:
    impairment = AudioImpairment(law=Law.ULAW, gain_db=-12.0, noise_dbm0=-60.0)
    result = SimLineTransport(SimLineConfig(sim_dir, impairment=impairment)).send(
        _call(two_pages, ecm=False), lambda _: None
    )
    assert result.success and result.bit_rate == 14400
    assert_same_pages(two_pages, result.received_path)


def test_unusable_data_dir_is_a_transport_error(tmp_path: Path, two_pages: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    transport = SimLineTransport(SimLineConfig(blocker / "data"))
    with pytest.raises(TransportError, match="cannot store faxes"):
        transport.send(_call(two_pages), lambda _: None)
