"""The h11 protocol with faxout's limits on heads, bodies, timeouts and connections."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Callable
from typing import Any, Literal
from urllib.parse import unquote

import h11
from uvicorn._types import ASGIReceiveEvent
from uvicorn.config import Config
from uvicorn.protocols.http.flow_control import HIGH_WATER_LIMIT, FlowControl
from uvicorn.protocols.http.h11_impl import H11Protocol, RequestResponseCycle
from uvicorn.protocols.utils import get_remote_addr
from uvicorn.server import ServerState

from faxout.intake.edge.limits import (
    LINGER_BYTES,
    LINGER_SECONDS,
    STATE_KEY,
    BodyError,
    EdgeSettings,
    address_key,
)
from faxout.intake.edge.registry import Registry, registries
from faxout.intake.settings import Http


def edge_options(http: Http) -> dict[str, Any]:
    """``uvicorn.run`` keyword arguments that put the server behind this module's limits."""
    return {
        "http": EdgeProtocol,
        "ws": "none",  # no WebSocket route: an Upgrade header is not followed
        "lifespan": "on",  # the settings travel in the lifespan state
        "h11_max_incomplete_event_size": http.max_header_bytes,
        "timeout_keep_alive": math.ceil(http.keep_alive_timeout),
    }


class _EdgeFlow(FlowControl):
    """uvicorn's flow control, telling the protocol when reading stops and starts, and able to
    stop reading for good once a body has failed."""

    def __init__(self, transport: asyncio.Transport, changed: Callable[[bool], None]) -> None:
        super().__init__(transport)
        self._changed = changed
        self.frozen = False

    def pause_reading(self) -> None:
        if not self.read_paused:
            super().pause_reading()
            self._changed(True)

    def resume_reading(self) -> None:
        if self.read_paused and not self.frozen:
            super().resume_reading()
            self._changed(False)


class _CycleTransport(asyncio.Transport):
    """The transport as a response cycle sees it: its ``close`` is the protocol's (lingering)
    close. uvicorn's cycle closes the transport itself after a ``Connection: close`` answer."""

    def __init__(self, transport: asyncio.Transport, close: Callable[[], None]) -> None:
        super().__init__()
        self._transport = transport
        self._close = close

    def write(self, data: bytes | bytearray | memoryview) -> None:
        self._transport.write(data)

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def close(self) -> None:
        self._close()


class _EdgeCycle(RequestResponseCycle):
    """One request/response, whose ``receive`` raises ``BodyError`` once the body has failed."""

    body_error: str | None = None
    on_continue: Callable[[], None] | None = None  # called when "100 Continue" goes out
    _raised = False

    def fail(self, reason: str) -> None:
        """Make the application's next (or pending) ``receive`` raise ``BodyError``."""
        self.body_error = reason
        self.keep_alive = False
        self.waiting_for_100_continue = False
        self.message_event.set()

    async def receive(self) -> ASGIReceiveEvent:
        if self.waiting_for_100_continue and self.on_continue and not self.transport.is_closing():
            self.on_continue()  # the client starts its body only now
        if self.body_error is None:
            message = await super().receive()
            if self.body_error is None or message["type"] == "http.disconnect":
                return message
        if self._raised:
            return {"type": "http.disconnect"}
        self._raised = True
        raise BodyError(self.body_error)


class EdgeProtocol(H11Protocol):
    """uvicorn's h11 protocol inside the ``[http]`` limits (see the module docstring)."""

    def __init__(
        self,
        config: Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        edge = app_state.get(STATE_KEY)
        self.edge = edge if isinstance(edge, EdgeSettings) else EdgeSettings(Http())
        self.http = self.edge.http
        self.conn = h11.Connection(h11.SERVER, max_incomplete_event_size=self.http.max_header_bytes)
        # uvicorn's keep-alive timer takes whole seconds in its type, any number in practice.
        self.timeout_keep_alive = self.http.keep_alive_timeout  # type: ignore[assignment]
        registry = registries.get(server_state)
        if registry is None:
            registry = registries[server_state] = Registry(self.http)
        self.registry = registry
        self.address = ""
        self.unlimited = False
        self.admitted = False
        self.released = False
        self.failed = False  # the current body failed: nothing more is read
        self.lingering = False  # answered; reading and dropping until the client closes
        self._lingered = 0
        self._phase: Literal["head", "body", "none"] = "none"
        self._timer: asyncio.TimerHandle | None = None
        self._head_bytes = 0
        self._body_start = self._body_last = 0.0
        self._body_bytes = 0
        self._paused_since: float | None = None
        self._paused_total = 0.0

    # -- connection life ---------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        self.transport = transport
        peer = get_remote_addr(transport)
        self.address = address_key(peer[0]) if peer else ""
        self.unlimited = self.edge.is_unlimited(peer[0]) if peer else False
        if not self.registry.admit(self, self.loop.time()):
            self.released = True
            transport.close()
            return
        self.admitted = True
        super().connection_made(transport)
        self.flow = _EdgeFlow(transport, self._reading_changed)
        self._start_head()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.admitted:
            return
        self._cancel_timer()
        self.registry.release(self)
        super().connection_lost(exc)

    def shutdown(self) -> None:
        """Graceful shutdown: finish the request in progress, close the others."""
        if not self.admitted or self.lingering:
            self.transport.close()
            return
        try:
            super().shutdown()
        except h11.LocalProtocolError:
            # A refused head leaves h11 mid-cycle (the refusal bypassed it): just close.
            self.transport.close()

    def evict(self) -> None:
        """Close this idle connection to make room for a new one."""
        self._cancel_timer()
        self.transport.close()

    def eof_received(self) -> bool | None:  # type: ignore[override]
        cycle = self.cycle
        if cycle is None or cycle.response_complete or not self.admitted or self.lingering:
            return None  # nothing to answer: let the transport close
        if self.conn.their_state in {h11.DONE, h11.MUST_CLOSE}:
            # Half-close after a whole request: answer it, then close.
            cycle.keep_alive = False
            return True
        if not self.failed:
            self._fail_body("the client closed its side before the body was complete")
        return True

    def data_received(self, data: bytes) -> None:
        if self.lingering:
            self._lingered += len(data)
            if self._lingered > LINGER_BYTES:
                self.transport.abort()
            return
        if self.failed or not self.admitted:
            return
        if self._phase == "none" and (self.cycle is None or self.cycle.response_complete):
            self._start_head()  # the first byte of the next request on a kept-alive connection
        if self._phase == "head":
            self._head_bytes += len(data)
        super().data_received(data)

    def on_response_complete(self) -> None:
        if self.conn.their_state is h11.DONE:
            self.registry.mark_idle(self)
        super().on_response_complete()

    # -- parsing: uvicorn's H11Protocol.handle_events, with the limits ---------------------

    def handle_events(self) -> None:
        while True:
            try:
                event = self.conn.next_event()
            except h11.RemoteProtocolError as exc:
                self._protocol_error(exc)
                return
            if event is h11.NEED_DATA:
                break
            if event is h11.PAUSED:
                # Pipelining: stop reading until the current response is out.
                self.flow.pause_reading()
                break
            if isinstance(event, h11.Request):
                if not self._request(event):
                    return
            elif isinstance(event, h11.Data):
                self._body_progress(len(event.data))
                if self.conn.our_state is h11.DONE:
                    continue  # answered already: the rest of the body is dropped
                self.cycle.body += event.data
                if len(self.cycle.body) > HIGH_WATER_LIMIT:
                    self.flow.pause_reading()
                self.cycle.message_event.set()
            elif isinstance(event, h11.EndOfMessage):
                self._end_phase()
                if self.conn.our_state is h11.DONE:
                    self.transport.resume_reading()
                    self.conn.start_next_cycle()
                    self.registry.mark_idle(self)
                    continue
                self.cycle.more_body = False
                self.cycle.message_event.set()
                if self.conn.their_state == h11.MUST_CLOSE:
                    break
            else:  # ConnectionClosed: never fed (EOF is handled in eof_received)
                break

    def _request(self, event: h11.Request) -> bool:
        """Start the application for a parsed request head; False when it was refused."""
        self._unset_keepalive_if_required()
        self._end_phase()
        if len(event.headers) > self.http.max_headers:
            self._refuse(431, f"more than {self.http.max_headers} header fields")
            return False
        names = {name.lower() for name, _ in event.headers}
        if {b"content-length", b"transfer-encoding"} <= names:
            # h11 would go by Transfer-Encoding; a proxy in front may have gone by the length,
            # and what it took for the next request would be hidden in this body (smuggling).
            self._refuse(400, "both Content-Length and Transfer-Encoding")
            return False
        # h11 caps only an incomplete head; one that arrived whole in a read is measured here
        # (as written on the wire, give or take optional whitespace).
        size = len(event.method) + len(event.target) + 12
        size += sum(len(name) + len(value) + 4 for name, value in event.headers.raw_items())
        if size > self.http.max_header_bytes:
            self._refuse(431, f"request head over {self.http.max_header_bytes} bytes")
            return False
        self.headers = [(key.lower(), value) for key, value in event.headers]
        raw_path, _, query_string = event.target.partition(b"?")
        path = unquote(raw_path.decode("ascii"))
        self.scope = {
            "type": "http",
            "asgi": {"version": self.asgi_version, "spec_version": "2.3"},
            "http_version": event.http_version.decode("ascii"),
            "server": self.server,
            "client": self.client,
            "scheme": self.scheme,  # type: ignore[typeddict-item]
            "method": event.method.decode("ascii"),
            "root_path": self.root_path,
            "path": self.root_path + path,
            "raw_path": self.root_path.encode("ascii") + raw_path,
            "query_string": query_string,
            "headers": self.headers,
            "state": self.app_state.copy(),
        }
        if self._should_upgrade():
            self.handle_websocket_upgrade(event)
            return False
        self.registry.mark_busy(self)
        cycle = _EdgeCycle(
            scope=self.scope,
            conn=self.conn,
            transport=_CycleTransport(self.transport, self._close_after_response),
            flow=self.flow,
            logger=self.logger,
            access_logger=self.access_logger,
            access_log=self.access_log,
            default_headers=self.server_state.default_headers,
            message_event=asyncio.Event(),
            on_response=self.on_response_complete,
        )
        cycle.on_continue = self._start_body
        self.cycle = cycle
        if self.conn.their_state is h11.SEND_BODY:
            self._start_body()
        task = self.loop.create_task(cycle.run_asgi(self.app))
        task.add_done_callback(self.tasks.discard)
        self.tasks.add(task)
        return True

    def _protocol_error(self, exc: h11.RemoteProtocolError) -> None:
        cycle = self.cycle
        if (
            isinstance(cycle, _EdgeCycle)
            and not cycle.response_started
            and self.conn.our_state is not h11.DONE
            and self._phase == "body"
        ):
            self._fail_body(f"malformed HTTP body: {exc}")
            return
        if cycle is not None and cycle.response_started:
            self.transport.close()
            return
        status = exc.error_status_hint if exc.error_status_hint in (400, 431) else 400
        reason = (
            f"request head over {self.http.max_header_bytes} bytes"
            if status == 431
            else f"malformed HTTP request: {exc}"
        )
        self._refuse(status, reason)

    def send_400_response(self, msg: str) -> None:
        """Not used by this protocol (its errors go through ``_refuse``); kept closing."""
        self._refuse(400, msg)

    # -- refusing ------------------------------------------------------------------------

    def _refuse(self, status: int, reason: str) -> None:
        """Answer a request that never reached the application, and close."""
        self._cancel_timer()
        self._phase = "none"
        self.registry.note(f"HTTP {status}", reason, self.address, self.loop.time())
        phrase = {
            400: b"Bad Request",
            408: b"Request Timeout",
            431: b"Request Header Fields Too Large",
        }
        if not self.transport.is_closing():
            self.transport.write(
                b"HTTP/1.1 %d %s\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                % (status, phrase[status])
            )
            self._linger()

    def _close_after_response(self) -> None:
        if self.failed or self.conn.their_state not in {h11.DONE, h11.MUST_CLOSE, h11.CLOSED}:
            self._linger()  # the client may still be sending its body
        else:
            self.transport.close()

    def _linger(self) -> None:
        """Close after the answer without a reset: FIN, then drop what the client still sends
        until it closes too (or ``LINGER_SECONDS`` / ``LINGER_BYTES`` pass)."""
        if self.transport.is_closing() or self.lingering:
            return
        if not self.transport.can_write_eof():  # TLS: no half-close
            self.transport.close()
            return
        self.lingering = True
        self._phase = "none"
        self.registry.mark_idle(self)  # may be evicted: it holds nothing of value
        self.transport.write_eof()
        self.transport.resume_reading()
        self._arm(LINGER_SECONDS, self.transport.close)

    def _fail_body(self, reason: str) -> None:
        """Stop reading a body that cannot complete and let the application answer it."""
        self.failed = True
        self._end_phase()
        if isinstance(self.flow, _EdgeFlow):
            self.flow.pause_reading()
            self.flow.frozen = True
        cycle = self.cycle
        if isinstance(cycle, _EdgeCycle) and not cycle.response_started:
            cycle.fail(reason)
            # The answer is a digit written at once; a stuck application must not keep the
            # connection open past one more header timeout.
            self._arm(self.http.header_timeout, self.transport.abort)
        else:
            self._linger()

    # -- timers --------------------------------------------------------------------------

    def _arm(self, delay: float, callback: Callable[[], None]) -> None:
        self._cancel_timer()
        self._timer = self.loop.call_later(max(delay, 0.0), callback)

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _end_phase(self) -> None:
        self._phase = "none"
        self._cancel_timer()

    def _start_head(self) -> None:
        self._phase = "head"
        self._head_bytes = 0
        self._arm(self.http.header_timeout, self._head_timed_out)

    def _head_timed_out(self) -> None:
        self._timer = None
        if self._phase != "head":
            return
        if self._head_bytes:
            self._refuse(408, f"request head not complete after {self.http.header_timeout} s")
        else:
            self._phase = "none"
            self.transport.close()  # a connection that never said anything

    def _start_body(self) -> None:
        now = self.loop.time()
        self._phase = "body"
        self._body_start = self._body_last = now
        self._body_bytes = 0
        self._paused_total = 0.0
        self._paused_since = now if self.flow.read_paused else None
        self._arm(self.http.body_timeout, self._check_body)

    def _body_progress(self, size: int) -> None:
        if self._phase == "body":
            self._body_bytes += size
            self._body_last = self.loop.time()

    def _reading_changed(self, paused: bool) -> None:
        now = self.loop.time()
        if paused:
            self._paused_since = now
        elif self._paused_since is not None:
            self._paused_total += now - self._paused_since
            self._paused_since = None
            self._body_last = max(self._body_last, now)  # the idle count restarts

    def _check_body(self) -> None:
        self._timer = None
        if self._phase != "body":
            return
        http = self.http
        if self._paused_since is not None:
            # We are not reading (the application is behind): nothing to hold against the
            # client. Look again later.
            self._arm(http.body_timeout, self._check_body)
            return
        now = self.loop.time()
        idle_due = self._body_last + http.body_timeout
        rate_due = (
            self._body_start
            + self._paused_total
            + http.body_timeout
            + self._body_bytes / http.body_min_rate
        )
        due = min(idle_due, rate_due)
        if now < due:
            self._arm(due - now, self._check_body)
            return
        why = (
            f"no body byte for {http.body_timeout} s"
            if idle_due <= rate_due
            else f"body slower than {http.body_min_rate} bytes/s"
        )
        self.registry.note("HTTP body cut", why, self.address, now)
        self._fail_body(f"the body arrived too slowly ({why})")
