"""The webhook outbox's own thread: a pass every ``webhooks.interval`` seconds, or at once when
poked (a fax changed). Apart from the dispatcher and the reports, so a slow endpoint holds up
nothing else."""

from __future__ import annotations

import logging

from faxout.periodic import Periodic
from faxout.webhooks.outbox import WebhookOutbox

log = logging.getLogger("faxout.webhooks")


class WebhookRunner:
    """``start``/``poke``/``stop`` around ``WebhookOutbox.run_once``."""

    def __init__(self, outbox: WebhookOutbox) -> None:
        self.outbox = outbox
        self._loop = Periodic("faxout-webhooks", self._pass, outbox.settings.interval, self._failed)

    def start(self) -> None:
        """Start the thread (a no-op when delivery is disabled)."""
        if self.outbox.settings.enabled:
            self._loop.start()

    def poke(self) -> None:
        """Events may have been queued: run a pass now."""
        self._loop.wake()

    def stop(self, timeout: float = 30.0) -> None:
        """Stop after the current pass."""
        self._loop.stop(timeout)

    def _pass(self) -> None:
        done = self.outbox.run_once(self.outbox.clock.now())
        if done.failed or done.deferred:
            log.info("webhooks: %s", done)

    def _failed(self, _exc: Exception) -> None:
        log.exception("webhook pass failed; trying again")
