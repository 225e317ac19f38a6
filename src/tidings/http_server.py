"""uvicorn's HTTP protocol with a deadline for a request's headers.

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
