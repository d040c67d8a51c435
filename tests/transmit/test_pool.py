"""Several calls at once, off the event loop, without interfering."""

from __future__ import annotations

import asyncio
import functools
import threading
from pathlib import Path

from faxout.transmit.pool import CallPool, ProcessCallPool
from faxout.transmit.result import CallProgress, CallResult, FaxCall, Modem, Outcome
from faxout.transmit.simline import Medium, SimLineConfig, SimLineTransport
from faxout.transmit.transport import ProgressSink
from tests.transmit.pages import assert_same_pages, text_page, write_tiff


def test_four_concurrent_calls_each_deliver_their_own_document(
    tmp_path: Path, sim_dir: Path
) -> None:
    docs = [
        write_tiff(tmp_path / f"doc{n}.tif", [text_page(10 * n + p, 800) for p in range(n + 1)])
        for n in range(4)
    ]
    calls = [
        FaxCall(docs[0], "+49301000", "a", modems=(Modem.V17,)),
        FaxCall(docs[1], "+49302000", "b", modems=(Modem.V29,), ecm=False),
        FaxCall(docs[2], "+15557770005", "c"),  # slow modem: the longest call
        FaxCall(docs[3], "+49304000", "d"),
    ]
    transport = SimLineTransport(SimLineConfig(sim_dir))
    loop_thread: list[int] = []
    progress: dict[str, list[CallProgress]] = {c.call_id: [] for c in calls}
    worker_threads: set[str] = set()

    def on_progress(call_id: str) -> ProgressSink:
        def sink(event: CallProgress) -> None:
            loop_thread.append(threading.get_ident())
            progress[call_id].append(event)

        return sink

    class Recording(SimLineTransport):
        def send(self, call: FaxCall, progress: ProgressSink) -> CallResult:
            worker_threads.add(threading.current_thread().name)
            return super().send(call, progress)

    recording = Recording(transport.config)

    async def main() -> list[CallResult]:
        with CallPool(recording, workers=4) as pool:
            return await asyncio.gather(*(pool.send(c, on_progress(c.call_id)) for c in calls))

    results = asyncio.run(main())
    assert [r.outcome for r in results] == [Outcome.OK] * 4
    assert [r.modem for r in results] == ["V.17", "V.29", "V.27ter", "V.17"]
    for call, result in zip(calls, results, strict=True):
        assert result.success
        assert result.pages_confirmed == len(progress[call.call_id]) - 4  # + dial/answer/B/hangup
        assert result.received_path == sim_dir / "received" / f"{call.call_id}.tif"
        assert_same_pages(call.document, result.received_path)
    assert all(name.startswith("faxcall") for name in worker_threads)
    assert len(worker_threads) > 1
    assert len(set(loop_thread)) == 1  # progress was relayed to the event loop's thread
    assert loop_thread[0] == threading.main_thread().ident


def test_t38_and_audio_calls_mixed_in_one_pool(tmp_path: Path, sim_dir: Path) -> None:
    doc = write_tiff(tmp_path / "doc.tif", [text_page(7, 600), text_page(8, 600)])
    audio = SimLineTransport(SimLineConfig(sim_dir / "a"))
    t38 = SimLineTransport(SimLineConfig(sim_dir / "t", medium=Medium.T38))

    async def main() -> list[CallResult]:
        with CallPool(audio, workers=2) as pa, CallPool(t38, workers=2) as pt:
            jobs = [
                pool.send(FaxCall(doc, f"+4930{i}", f"m{i}"), lambda _: None)
                for i, pool in enumerate([pa, pt, pa, pt])
            ]
            return await asyncio.gather(*jobs)

    results = asyncio.run(main())
    assert all(r.success for r in results)
    for r in results:
        assert_same_pages(doc, r.received_path)


def test_process_pool_runs_calls_in_other_processes(tmp_path: Path, sim_dir: Path) -> None:
    docs = [write_tiff(tmp_path / f"p{n}.tif", [text_page(30 + n, 700)]) for n in range(4)]
    factory = functools.partial(SimLineTransport, SimLineConfig(sim_dir))
    seen: dict[str, list[str]] = {}
    threads: set[int] = set()

    def sink(call_id: str) -> ProgressSink:
        def on(event: CallProgress) -> None:
            threads.add(threading.get_ident())
            seen.setdefault(call_id, []).append(event.stage)

        return on

    async def main() -> list[CallResult]:
        with ProcessCallPool(factory, workers=2) as pool:
            calls = [FaxCall(d, "+4930", f"proc{n}") for n, d in enumerate(docs)]
            calls.append(FaxCall(docs[0], "+15557770001", "proc-busy"))
            return await asyncio.gather(*(pool.send(c, sink(c.call_id)) for c in calls))

    results = asyncio.run(main())
    assert [r.outcome for r in results] == [Outcome.OK] * 4 + [Outcome.BUSY]
    for n, result in enumerate(results[:4]):
        assert_same_pages(docs[n], result.received_path)
        # every event arrived, in order, before send() returned
        assert seen[f"proc{n}"] == ["dialing", "answered", "negotiated", "page", "hangup"]
    assert seen["proc-busy"] == ["dialing", "hangup"]
    assert threads == {threading.main_thread().ident}
