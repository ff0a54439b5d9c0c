"""Limits of the HTTP port, whatever the API behind it (OCPI, admin, driver):

- `BodyLimit`: a request body larger than its path's limit (`http_max_body_bytes`, or
  `admin_max_body_bytes` under /admin) is answered 413 in the API's own error form, before more
  than the limit is read: at once when Content-Length says so, else (chunked) as soon as the
  limit is passed. The connection is then closed: half-closed after the answer, and what the
  client still sends is discarded for at most `LINGER_SECONDS` / `LINGER_BYTES` (so that a
  client busy sending its body still receives the answer instead of a reset), never parsed.
- `timed_protocol`: the HTTP/1.1 protocol of uvicorn with the bounds it lacks. A request's line
  and headers may take `http_max_header_bytes` (else 431, and the connection is closed: the
  parser would otherwise buffer a header of any length). A client has
  `http_header_timeout` seconds to send a request's line and headers (counted from the
  connection for the first request, from its first byte for the next ones; between requests
  uvicorn's keep-alive timeout applies), then `http_body_timeout` seconds for the whole body.
  Past a deadline the request is answered 408 (when no answer has started; a connection that
  sent nothing is closed without a word) and the connection is closed, so a client sending a
  few bytes and stopping holds nothing for long.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

from starlette.responses import Response
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

log = logging.getLogger(__name__)

#: after answering a request whose body is still coming, the connection is closed at the latest
#: this many seconds or discarded bytes later
LINGER_SECONDS = 2.0
LINGER_BYTES = 4 * 1024 * 1024

Scope = dict[str, Any]
#: (scope, message) -> the response to a body that is too large, in the API's own form
TooLarge = Callable[[Scope, str], Awaitable[Response]]


class BodyLimit:
    """Pure ASGI middleware: reads a request's body (up to its limit) before the application
    sees the request, and answers 413 for a larger one."""

    def __init__(self, app, *, limit: int, answer: TooLarge, limits: Sequence[tuple[str, int]] = ()) -> None:
        self.app = app
        self.limit = limit
        self.limits = tuple(limits)  # (path prefix, limit) that differ from the default
        self.answer = answer

    def limit_for(self, path: str) -> int:
        for prefix, limit in self.limits:
            if path == prefix or path.startswith(prefix + "/"):
                return limit
        return self.limit

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        length: int | None = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = None
            elif name == b"transfer-encoding":
                chunked = True
        if length is None and not chunked:  # no body
            await self.app(scope, receive, send)
            return
        limit = self.limit_for(scope["path"])
        if length is not None and length > limit:
            await self._too_large(scope, receive, send, limit)
            return
        body = bytearray()
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                return
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > limit:
                await self._too_large(scope, receive, send, limit)
                return
        replayed = False

        async def replay():
            nonlocal replayed
            if not replayed:
                replayed = True
                return {"type": "http.request", "body": bytes(body), "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, scope, receive, send, limit: int) -> None:
        response = await self.answer(scope, f"request body larger than {limit} bytes")
        response.headers["connection"] = "close"  # the rest of the body is not read
        await response(scope, receive, send)


class _TimedHttpToolsProtocol(HttpToolsProtocol):
    header_timeout: float = 10.0
    body_timeout: float = 60.0
    max_header_bytes: int = 65536

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._deadline: asyncio.TimerHandle | None = None
        self._in_body = False  # which deadline runs
        self._request_begun = False  # from a request's first byte to the end of its body
        self._reading_body = False  # between a request's headers and the end of its body
        self._lingering = False
        self._discarded = 0
        self._head_bytes = 0  # received since the last complete request head (about: per chunk)

    def _start(self, seconds: float, in_body: bool) -> None:
        self._stop()
        self._in_body = in_body
        self._deadline = self.loop.call_later(seconds, self._expired)

    def _stop(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _expired(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        cycle = self.cycle  # while reading headers: the request before, if any
        if self._in_body:  # 408, unless the application has begun answering
            quiet = cycle is not None and cycle.response_started
        elif not self._request_begun:  # not a byte of a request (an idle connection): nothing to answer
            quiet = True
        else:  # 408, unless a request before it (pipelined) is still being answered
            quiet = cycle is not None and not cycle.response_complete
        client = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
        what = "body" if self._in_body else "line and headers" if self._request_begun else "byte"
        log.log(logging.DEBUG if what == "byte" else logging.INFO,
                "closing the connection of %s: no complete request %s within %g s", client, what,
                self.body_timeout if self._in_body else self.header_timeout)
        if not quiet:
            self.transport.write(b"HTTP/1.1 408 Request Timeout\r\ncontent-type: text/plain; charset=utf-8\r\n"
                                 b"content-length: 16\r\nconnection: close\r\n\r\nrequest timeout\n")
        self.transport.close()

    def close_after_answer(self) -> None:
        """An answer asks to close the connection (`connection: close`). If its request's body
        is still coming, half-close and discard the rest for a moment before closing."""
        if not self._reading_body:
            self.transport.close()
            return
        self._linger()

    def _linger(self) -> None:
        """Half-close after an answer, discard what the client still sends for a moment (so that
        it reads the answer instead of a reset), then close."""
        if self.transport.is_closing() or not self.transport.can_write_eof():
            self.transport.close()
            return
        self._lingering = True
        self.transport.write_eof()
        self._stop()
        self._deadline = self.loop.call_later(LINGER_SECONDS, self.transport.close)

    def data_received(self, data: bytes) -> None:
        if self._lingering:  # the rest of a body we answered already: not parsed
            self._discarded += len(data)
            if self._discarded > LINGER_BYTES:
                self.transport.close()
            return
        if not self._reading_body:
            self._head_bytes += len(data)
        super().data_received(data)
        if not self._reading_body and self._head_bytes > self.max_header_bytes and not self.transport.is_closing():
            log.info("closing the connection of %s: request line and headers over %d bytes",
                     f"{self.client[0]}:{self.client[1]}" if self.client else "a client", self.max_header_bytes)
            if self.cycle is None or self.cycle.response_complete:
                self.transport.write(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                                     b"content-type: text/plain; charset=utf-8\r\ncontent-length: 31\r\n"
                                     b"connection: close\r\n\r\nrequest line or headers too long\n")
                self._linger()
            else:
                self.transport.close()

    def connection_made(self, transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._start(self.header_timeout, in_body=False)  # the first request, from the connection on

    def connection_lost(self, exc: Exception | None) -> None:
        self._stop()
        super().connection_lost(exc)

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._request_begun = True
        if self._deadline is None:  # (the first request keeps the deadline counted from the connection)
            self._start(self.header_timeout, in_body=False)

    def on_headers_complete(self) -> None:
        self._head_bytes = 0
        self._start(self.body_timeout, in_body=True)  # stopped when the body is complete
        self._reading_body = True
        super().on_headers_complete()
        if self.cycle is not None and self.cycle.scope is self.scope:  # (not for an upgrade)
            self.cycle.transport = _ClosingAfterAnswer(self.transport, self)  # type: ignore[assignment]

    def on_message_complete(self) -> None:
        self._stop()
        self._request_begun = self._reading_body = False
        super().on_message_complete()

    def handle_websocket_upgrade(self) -> None:
        self._stop()
        super().handle_websocket_upgrade()


class _ClosingAfterAnswer:
    """The connection as one request's answer sees it: closing it goes through
    `close_after_answer` of the protocol; everything else is the transport's own."""

    def __init__(self, transport: asyncio.Transport, protocol: _TimedHttpToolsProtocol) -> None:
        self._transport = transport
        self._protocol = protocol

    def close(self) -> None:
        self._protocol.close_after_answer()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def timed_protocol(header_timeout: float, body_timeout: float, max_header_bytes: int) -> type[asyncio.Protocol]:
    """uvicorn's HTTP/1.1 protocol (httptools) with these request bounds (`http=` of its Config)."""
    return type("TimedHttpToolsProtocol", (_TimedHttpToolsProtocol,), {
        "header_timeout": header_timeout, "body_timeout": body_timeout, "max_header_bytes": max_header_bytes})
