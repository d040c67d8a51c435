"""The serving process runs retention: a pipeline that dispatches purges at start (and then
every hour) what is past its time, with the server's clock and settings."""

from __future__ import annotations

import time
from pathlib import Path

from faxout.clock import FrozenClock
from faxout.db import migrate
from faxout.inbound.listing import InboundFaxes, InboundViewer, NoImage, no_image
from faxout.inbound.model import IncomingCall, ReceptionFacts
from faxout.inbound.settings import Inbound
from faxout.ops import runtime
from faxout.ops.gateway import build_gateway
from faxout.ops.runtime import Pipeline
from faxout.ops.settings import Auth, Settings
from faxout.taskqueue.port import InlineTaskQueue
from tests.inbound.faxfiles import fax_tiff

DAY = 86400.0


def test_a_dispatching_pipeline_runs_retention_at_start(tmp_path: Path) -> None:
    clock = FrozenClock()
    settings = Settings(
        data_dir=tmp_path / "var",
        demo_account=False,
        auth=Auth(argon2_memory_kib=1024, argon2_time_cost=1),
        inbound=Inbound(retention_days=10),
    )
    gw = build_gateway(settings, clock=clock)
    migrate.upgrade(gw.engine)
    call = IncomingCall("test", "old", "+16505550100", "", "18005550199")
    tiff = fax_tiff(tmp_path / "a.tif", 1)
    fax = gw.inbound_store("test").ingest(call, tiff, ReceptionFacts(1, True))
    assert fax is not None and fax.blob_key is not None
    clock.advance(11 * DAY)
    faxes = InboundFaxes(gw.engine, gw.store, clock)
    operator = InboundViewer(0, operator=True)

    def purged() -> bool:
        seen = faxes.get(operator, fax.id)
        return seen is not None and no_image(seen) is NoImage.PURGED

    pipeline = Pipeline(gw, queue=InlineTaskQueue(), consumers=False)
    assert runtime.RETENTION_SECONDS == 3600.0
    pipeline.start()
    try:
        deadline = time.monotonic() + 30
        while not purged() and time.monotonic() < deadline:
            time.sleep(0.05)  # the pass runs in the pipeline's own thread
    finally:
        pipeline.stop(10)
    try:
        assert purged(), "no retention pass at start"
        assert not gw.store.exists(fax.blob_key)
    finally:
        gw.engine.dispose()
