"""Thin ctypes binding to spandsp 0.0.6 (``libspandsp.so.2``, Debian ``libspandsp2``)."""

from faxout.transmit.spandsp._lib import (
    DEBIAN_PACKAGE,
    SONAME,
    SpandspMissingError,
    completion_text,
    frame_name,
    library,
)
from faxout.transmit.spandsp.audio import AudioEndpoint
from faxout.transmit.spandsp.logroute import LogRoute
from faxout.transmit.spandsp.t30 import PhaseEvent, StatsSnapshot, T30Config, T30Session
from faxout.transmit.spandsp.t38 import T38Endpoint

__all__ = [
    "DEBIAN_PACKAGE",
    "SONAME",
    "AudioEndpoint",
    "LogRoute",
    "PhaseEvent",
    "SpandspMissingError",
    "StatsSnapshot",
    "T30Config",
    "T30Session",
    "T38Endpoint",
    "completion_text",
    "frame_name",
    "library",
]
