"""Settings of the web console (``[console]``)."""

from __future__ import annotations

from pydantic import BaseModel, Field


class ConsoleSettings(BaseModel):
    """The web console served under ``/`` (docs/console.md)."""

    enabled: bool = Field(True, description="serve the web console under /")
    session_idle_minutes: int = Field(
        480, ge=1, le=7 * 24 * 60, description="a session unused this long signs out"
    )
    session_max_hours: int = Field(
        24, ge=1, le=90 * 24, description="a session this old signs out, used or not"
    )
    live_poll_seconds: float = Field(
        2.0, ge=0.5, le=60, description="how often an open outbox or fax page asks for changes"
    )
