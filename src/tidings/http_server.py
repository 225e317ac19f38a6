"""uvicorn's HTTP protocol with a deadline for a request's headers, and one send per answer.

uvicorn closes an idle keep-alive connection after `timeout_keep_alive`, but a client that sends
its request line and then one header line every few seconds (slowloris) keeps a connection, and
its buffers, for as long as it likes: measured here, still open after 25 s of a header a second.
This protocol gives every request `header_timeout_s` from its first byte (or from the
connection's opening) to complete its headers; past that it answers 408 in the error format and
closes the connection.

The close lingers (as Apache's and nginx's do): the write side is shut first and whatever the
client still sends is read and dropped for `LINGER_S`. Closing at once with the client's
header lines unread makes the kernel send a reset, which can discard the 408 before the
client reads it (seen on a CI run: ECONNRESET instead of the answer).

uvicorn writes an answer's head and its body separately, two sends (two segments, two wake-ups
of the client) for every answer; `_HeadWithBody` holds the head back until the body follows.
"""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

_BODY = orjson.dumps(
    {
        "errors": [
            {
                "title": "Request Timeout",
                "detail": "The request's headers did not arrive in time",
                "code": "105",
                "source": None,
            }
        ]
    }
)
_TIMEOUT_RESPONSE = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
    b"connection: close\r\ncontent-length: " + str(len(_BODY)).encode() + b"\r\n\r\n" + _BODY
)


LINGER_S = 2.0


class _HeadWithBody:
    """The transport as one response cycle writes to it: the answer's head is held until its
    body's first write (or the end of this turn of the event loop, for an answer without one,
    e.g. to HEAD), and both go in one send. A `100 Continue` goes at once: the client waits
    for it before sending the body. Measured, one client on one keep-alive connection, SQLite:
    GET /healthz p50 0.19 -> 0.16 ms, POST /v1/omnimessage p50 1.01-1.11 -> 0.82-0.92 ms."""

    __slots__ = ("_head", "_loop", "_started", "_transport")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._head: bytes | None = None
        self._started = False

    def write(self, data: bytes) -> None:
        if self._head is not None:
            data, self._head = self._head + data, None
        elif not self._started and not data.startswith(b"HTTP/1.1 100 "):
            self._started = True
            self._head = data
            self._loop.call_soon(self._flush)
            return
        self._transport.write(data)

    def _flush(self) -> None:
        if self._head is not None:
            head, self._head = self._head, None
            if not self._transport.is_closing():
                self._transport.write(head)

    def close(self) -> None:
        self._flush()
        self._transport.close()

    def is_closing(self) -> bool:
        return self._transport.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


class _HeaderDeadline(HttpToolsProtocol):
    header_timeout_s: float = 10.0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._lingering: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()  # a connection that never sends a complete request is closed too

    def data_received(self, data: bytes) -> None:
        if self._lingering is None:
            super().data_received(data)  # else: answered 408, dropping the rest until closed

    def eof_received(self) -> None:
        if self._lingering is not None:
            self.transport.close()  # the client has read the answer and closed its side
            return
        super().eof_received()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        if self._header_timer is None:
            self._arm()

    def on_headers_complete(self) -> None:
        self._disarm()
        super().on_headers_complete()
        cycle = self.cycle  # just made; its task has not run yet
        if cycle is not None and cycle.transport is self.transport:
            cycle.transport = _HeadWithBody(self.transport, self.loop)  # type: ignore[assignment]

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._lingering is not None:
            self._lingering.cancel()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._header_timer = self.loop.call_later(self.header_timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def _too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
            return
        self.transport.write(_TIMEOUT_RESPONSE)
        if not self.transport.can_write_eof():
            self.transport.close()
            return
        self.transport.write_eof()
        self._lingering = self.loop.call_later(LINGER_S, self.transport.close)


def http_protocol(header_timeout_s: float) -> type[HttpToolsProtocol]:
    """The protocol class for `uvicorn.Config(http=...)`, with this header deadline."""
    return type(
        "HttpWithHeaderDeadline", (_HeaderDeadline,), {"header_timeout_s": header_timeout_s}
    )
