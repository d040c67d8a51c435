"""The two G.711 companding laws, apart from the numpy coding in ``faxout.transmit.g711`` so
the settings (``transmit.sip.laws``) can name them without loading numpy."""

from __future__ import annotations

import enum


class Law(enum.StrEnum):
    """The two G.711 companding laws."""

    ALAW = "alaw"  # Europe and most of the world
    ULAW = "ulaw"  # North America and Japan
