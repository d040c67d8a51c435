"""Transmitting faxes: the FaxTransport seam, the spandsp binding and the simline transport."""
