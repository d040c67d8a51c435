"""faxout: a self-hosted fax gateway speaking the RingCentral FaxOut API."""

__version__ = "0.1.0"
