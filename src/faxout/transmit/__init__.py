"""Transmitting faxes: one attempt (``attempt``: lease a line, prepare the pages with this
call's header in ``pages``, call the transport, hand the result to the retry policy), the
``FaxTransport`` seam (``transport``) and its implementations: the simulated line
(``simline``, with ``farend`` and ``behaviour``), HylaFAX (``hylafax``) and SIP (``sip/``), all
built on the spandsp binding (``spandsp/``) except HylaFAX."""
