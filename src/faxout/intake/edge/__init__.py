"""The HTTP server's edge: uvicorn's h11 protocol with the limits uvicorn itself lacks.

uvicorn (with httptools, its default) accepted a 64 MB header line, kept a connection sending one
byte a second forever, and let idle half-requests pile up until the process ran out of file
descriptors (issue 15). This protocol, given to uvicorn as ``http=EdgeProtocol``, keeps every
connection inside the ``[http]`` settings:

- **h11 as the parser**: its receive buffer is capped (``max_header_bytes``) for every incomplete
  event, the request head above all, and it is strict about framing. ``max_headers`` caps the
  count. Over either, the answer is 431 and the connection is closed.
- **Header timeout**: a request's head must be complete within ``header_timeout`` of the
  connection opening (or of the request's first byte on a kept-alive connection): 408 and close.
- **Body timeout**: a body may go ``body_timeout`` seconds without a byte, and must average
  ``body_min_rate`` bytes/s beyond a head start of ``body_timeout`` (Apache's mod_reqtimeout
  rule), so a sender trickling one byte a second is cut. Time in which *we* stopped reading
  (flow control, a busy endpoint) is not held against the client.
- **Connection caps**: at most ``max_connections_per_address`` open connections per client
  address (an IPv6 client per /64, which one subscriber usually holds; not for the reverse
  proxies ``trusted_proxies`` names, which carry everybody's connections), and at most
  ``max_connections`` in all: at that cap a new connection replaces the longest idle one
  (between requests or still sending its head), or is closed when every connection is busy.
- **Keep-alive**: ``keep_alive_timeout`` between requests (uvicorn's own timer).

A request whose body cannot be read to its end (broken chunked framing, too slow, the client
closed its side mid-body) is not a plain-text 400: ``receive()`` raises ``BodyError`` in the
application, so the FaxOut endpoint answers ``5`` with the reason, then the connection closes.

Half-close: a client that shuts down its sending side after a complete request still gets its
answer (uvicorn closes the transport on EOF, dropping the reply of a request it goes on running);
the connection is closed once the answer is written. A connection that is lost before the answer
is seen by the endpoint as ``http.disconnect`` (``request.is_disconnected()``).

The settings reach each connection through the ASGI lifespan state (``STATE_KEY``), so they are
the same in every worker process without globals.
"""

from faxout.intake.edge.limits import (
    STATE_KEY,
    BodyError,
    EdgeSettings,
    address_key,
    ensure_descriptors,
)
from faxout.intake.edge.protocol import EdgeProtocol, edge_options

__all__ = [
    "STATE_KEY",
    "BodyError",
    "EdgeProtocol",
    "EdgeSettings",
    "address_key",
    "edge_options",
    "ensure_descriptors",
]
