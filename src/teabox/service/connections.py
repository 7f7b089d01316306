"""Connections that cannot be held open for free: header and body read deadlines, header size, a cap.

uvicorn's HTTP protocol (httptools) would wait forever for a request's
headers and for the next piece of its body, and accept connections until the
process runs out of file descriptors: a few thousand clients sending one byte
now and then would take the service down without ever logging in. This
protocol adds, per connection:

* a deadline for a request's headers (from the connection's opening, or from
  the first byte of a later request on a kept-alive connection), answered
  with 408 and a close;
* a deadline for each piece of a body (the longest silence between two
  pieces), answered with 408 if no answer was started, and a close;
* a bound on the bytes of a request's headers, answered with 431;
* a cap on open connections: one over the cap makes room by closing the
  connection that has waited longest without a request in progress (a slow
  or idle client), or is closed itself when every connection is busy with a
  request. A client that sends its request promptly is never the one closed.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from teabox.service.limits import ServiceLimits


def guarded_protocol(limits: ServiceLimits) -> type[asyncio.Protocol]:
    """The protocol class to give uvicorn (``Config(http=...)``) for these limits."""
    return type("GuardedHttpProtocol", (GuardedHttpProtocol,), {"limits": limits})


class GuardedHttpProtocol(HttpToolsProtocol):
    """Deadlines are a time and a kind per connection, moved on every event without touching a timer.

    One timer per connection stands behind them: when it fires it refuses the
    request if the deadline has passed, or sleeps again until the deadline if
    the deadline moved on meanwhile. A request on a kept-alive connection, and
    each piece of a body, so costs a float's assignment rather than a
    timer's creation and cancellation.
    """

    limits: ClassVar[ServiceLimits] = ServiceLimits()

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._in_request = False  # from a request's complete headers until its answer is complete
        self._header_bytes = 0
        self._since = 0.0  # when this connection last started to wait for a request
        self._expire: Callable[[], None] | None = None  # what to do at the deadline; None: no deadline
        self._expires_at = 0.0
        self._timer: asyncio.Handle | None = None
        self._timer_at = 0.0  # when the pending timer fires

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._since = self.loop.time()
        self._arm(self.limits.header_timeout, self._headers_too_slow)
        if len(self.connections) > self.limits.max_connections:
            self._make_room()

    def connection_lost(self, exc: Exception | None) -> None:
        self._expire = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if not self._in_request:
            self._header_bytes += len(data)
        super().data_received(data)
        if not self._in_request and self._header_bytes > self.limits.max_header_bytes:
            self._refuse(
                b"431 Request Header Fields Too Large", "headers_too_large", "the request headers are too large"
            )

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._expire is None:  # a later request on a kept-alive connection: its first byte starts the clock
            self._arm(self.limits.header_timeout, self._headers_too_slow)

    def on_headers_complete(self) -> None:
        self._in_request = True
        self._arm(self.limits.body_timeout, self._body_too_slow)
        super().on_headers_complete()

    def on_body(self, body: bytes) -> None:
        self._arm(self.limits.body_timeout, self._body_too_slow)
        super().on_body(body)

    def on_message_complete(self) -> None:
        self._expire = None
        super().on_message_complete()

    def on_response_complete(self) -> None:
        self._in_request = False
        self._header_bytes = 0
        self._since = self.loop.time()
        super().on_response_complete()

    def _arm(self, seconds: float, expire: Callable[[], None]) -> None:
        """Set the deadline ``seconds`` from now; a new timer only if none is pending before it."""
        self._expire = expire
        self._expires_at = self.loop.time() + seconds
        if self._timer is not None and self._timer_at > self._expires_at:
            self._timer.cancel()  # a later request's header deadline can come before the last body deadline
            self._timer = None
        if self._timer is None:
            self._start_timer()

    def _start_timer(self) -> None:
        self._timer_at = self._expires_at
        self._timer = self.loop.call_at(self._expires_at, self._deadline_reached)

    def _deadline_reached(self) -> None:
        self._timer = None
        expire = self._expire
        if expire is None:  # the request this timer was for has been read: nothing to wait for
            return
        if self.loop.time() < self._expires_at:  # moved on since the timer started
            self._start_timer()
            return
        self._expire = None
        expire()

    def _headers_too_slow(self) -> None:
        self._refuse(
            b"408 Request Timeout",
            "request_timeout",
            f"the request headers did not arrive within {self.limits.header_timeout:g} s",
        )

    def _body_too_slow(self) -> None:
        if self.cycle is not None and self.cycle.response_started:
            self.transport.close()
        else:
            self._refuse(
                b"408 Request Timeout",
                "request_timeout",
                f"the request body stalled for more than {self.limits.body_timeout:g} s",
            )

    def _refuse(self, status: bytes, code: str, message: str) -> None:
        """Answer with ``status`` and close; the request (if any) sees the client disconnect."""
        if self.transport.is_closing():
            return
        body = json.dumps({"error": {"code": code, "message": message}}).encode()
        self.transport.write(
            b"HTTP/1.1 " + status + b"\r\ncontent-type: application/json\r\nconnection: close\r\n"
            b"content-length: " + str(len(body)).encode() + b"\r\n\r\n" + body
        )
        self.transport.close()

    def _make_room(self) -> None:
        waiting = [
            other
            for other in self.connections
            if isinstance(other, GuardedHttpProtocol)
            and not other._in_request
            and other is not self
            and not other.transport.is_closing()
        ]
        if not waiting:
            self._refuse(
                b"503 Service Unavailable", "too_many_connections", "the service has too many open connections"
            )
            return
        min(waiting, key=lambda other: other._since).transport.close()
