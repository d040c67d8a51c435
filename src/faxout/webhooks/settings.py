"""``[webhooks]``: how fax events are delivered to the accounts' endpoints."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

# Standard Webhooks' schedule (immediately, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h), stretched
# with two more tries so an endpoint that is down over a weekend still gets its events: the
# last try is about three days after the event.
DEFAULT_SCHEDULE = (5, 300, 1800, 7200, 18000, 36000, 36000, 64800, 86400)


class Webhooks(BaseModel):
    """Delivery of webhook events (``FAXOUT_WEBHOOKS__…``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    enabled: bool = Field(True, description="deliver events (they are queued either way)")
    allow_private: bool = Field(
        False,
        description="allow endpoints on loopback, private, link-local and other internal "
        "addresses (refused by default: a webhook URL must not reach into the gateway's network)",
    )
    timeout_seconds: float = Field(10.0, gt=0, le=60, description="per delivery")
    interval: float = Field(2.0, gt=0, le=300, description="seconds between passes")
    lease_seconds: int = Field(
        60, ge=10, le=3600, description="a delivery's hold; a crashed sender's row is retried then"
    )
    concurrency: int = Field(4, ge=1, le=64, description="deliveries in flight at once")
    schedule: tuple[int, ...] = Field(
        DEFAULT_SCHEDULE,
        min_length=1,
        description="seconds to wait before each retry; after the last one a delivery fails",
    )
