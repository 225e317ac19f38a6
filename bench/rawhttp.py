"""A minimal HTTP/1.1 keep-alive client for load generation.

A general client (httpx) spends about a millisecond of CPU per request; at 500 requests/s that is
half of one of this machine's two cores, taken from the server under test. The benchmarks talk
to one known server with simple requests, so they write the request bytes themselves and read
the status line, headers and a `content-length` body: a few tens of microseconds per request.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from urllib.parse import urlsplit


class RawHttpError(Exception):
    """The server closed the connection or answered something this client cannot read."""


class RawConnection:
    def __init__(self, url: str, headers: dict[str, str]) -> None:
        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self._fixed = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        self._fixed += f"Host: {self.host}:{self.port}\r\n"
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None

    async def open(self) -> None:
        self._reader, self._writer = await asyncio.open_connection(self.host, self.port)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
            self._writer = self._reader = None

    async def request(self, method: str, path: str, body: bytes = b"") -> tuple[int, bytes]:
        """Send one request and read its whole answer: (status, body)."""
        if self._writer is None or self._reader is None:
            await self.open()
        assert self._writer is not None and self._reader is not None
        head = f"{method} {path} HTTP/1.1\r\n{self._fixed}Content-Length: {len(body)}\r\n\r\n"
        self._writer.write(head.encode() + body)
        try:
            raw = await self._reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            await self.close()
            raise RawHttpError(f"connection lost: {exc}") from None
        lines = raw.decode("latin-1").split("\r\n")
        try:
            status = int(lines[0].split(" ", 2)[1])
        except (IndexError, ValueError):
            await self.close()
            raise RawHttpError(f"bad status line: {lines[0]!r}") from None
        length = 0
        closing = False
        for line in lines[1:]:
            name, _, value = line.partition(":")
            key = name.strip().lower()
            if key == "content-length":
                length = int(value.strip())
            elif key == "transfer-encoding":
                await self.close()
                raise RawHttpError("chunked answers are not supported")
            elif key == "connection" and value.strip().lower() == "close":
                closing = True
        data = await self._reader.readexactly(length) if length else b""
        if closing:
            await self.close()
        return status, data


@contextlib.asynccontextmanager
async def raw_connections(
    url: str, headers: dict[str, str], n: int
) -> AsyncIterator[list[RawConnection]]:
    """`n` open keep-alive connections, each already used once (GET /healthz)."""
    conns = [RawConnection(url, headers) for _ in range(n)]
    try:
        for c in conns:
            await c.open()
            status, _ = await c.request("GET", "/healthz")
            if status != 200:
                raise RawHttpError(f"/healthz answered {status}")
        yield conns
    finally:
        for c in conns:
            await c.close()
