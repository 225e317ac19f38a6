"""An httpx transport that only connects to addresses the SSRF guard has vetted.

For every request (and so for every redirect hop, should a caller follow them) it resolves and vets
the URL's host, then sends the request to the vetted IP: the URL's host is rewritten to the IP, the
``Host`` header keeps the original name, and for HTTPS the ``sni_hostname`` extension makes TLS
send the name as SNI and check the certificate against it. A second DNS answer (rebinding) is never
used: the address connected to is the address checked.

httpcore pools connections by origin, which after the rewrite is the IP; two host names on one IP
could then share a TLS connection negotiated for the other name. So each ``(scheme, host, port)``
gets its own connection pool (a plain ``httpx.AsyncHTTPTransport``, all sharing one SSL context),
kept in a bounded LRU; an evicted pool is closed once its last response is closed.
"""

from __future__ import annotations

import ssl
import time
from collections import OrderedDict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass

import httpx

from tidings.webhooks.guard import (
    ResolvedTarget,
    Resolver,
    TargetPolicy,
    resolve_target,
    system_resolver,
)

__all__ = ["DEFAULT_LIMITS", "PinnedTransport"]

DEFAULT_LIMITS = httpx.Limits(max_connections=8, max_keepalive_connections=8, keepalive_expiry=30.0)
_DNS_CACHE_MAX = 4096

_OriginKey = tuple[str, str, int]


@dataclass(slots=True)
class _Origin:
    transport: httpx.AsyncHTTPTransport
    active: int = 0
    retired: bool = False


class _ReleasingStream(httpx.AsyncByteStream):
    """A response body that hands its origin pool back when closed."""

    def __init__(self, stream: httpx.AsyncByteStream, release: Callable[[], Awaitable[None]]):
        self._stream = stream
        self._release = release
        self._closed = False

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._stream:
            yield chunk

    async def aclose(self) -> None:
        if self._closed:
            return
        self._closed = True
        try:
            await self._stream.aclose()
        finally:
            await self._release()


class PinnedTransport(httpx.AsyncBaseTransport):
    """SSRF-safe transport. Raises ``TargetBlocked`` / ``ResolutionError`` (from
    ``tidings.webhooks.guard``) for refused or unresolvable targets, httpx errors otherwise.

    Use it with ``trust_env=False`` on the client: with environment proxies httpx would mount
    proxy transports that bypass this one.
    """

    def __init__(
        self,
        policy: TargetPolicy,
        *,
        verify: ssl.SSLContext | bool = True,
        limits: httpx.Limits = DEFAULT_LIMITS,
        max_origins: int = 512,
        resolver: Resolver | None = None,
        dns_cache_ttl_s: float = 30.0,
        max_addresses: int = 4,
    ) -> None:
        if max_origins < 1 or max_addresses < 1:
            raise ValueError("max_origins and max_addresses must be >= 1")
        self.policy = policy
        self._ssl = httpx.create_ssl_context(verify=verify, trust_env=False)
        self._limits = limits
        self._max_origins = max_origins
        self._resolver = resolver or system_resolver
        self._dns_ttl = dns_cache_ttl_s
        self._max_addresses = max_addresses
        self._origins: OrderedDict[_OriginKey, _Origin] = OrderedDict()
        self._dns: dict[tuple[str, int], tuple[float, tuple[str, ...]]] = {}
        self._closed = False

    async def _resolve_cached(self, host: str, port: int) -> Sequence[str]:
        key = (host, port)
        now = time.monotonic()
        hit = self._dns.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        addresses = tuple(await self._resolver(host, port))
        if self._dns_ttl > 0 and addresses:
            self._dns.pop(key, None)
            if len(self._dns) >= _DNS_CACHE_MAX:
                self._dns = {k: v for k, v in self._dns.items() if v[0] > now}
                while len(self._dns) >= _DNS_CACHE_MAX:
                    del self._dns[next(iter(self._dns))]
            self._dns[key] = (now + self._dns_ttl, addresses)
        return addresses

    async def resolve(self, url: httpx.URL | str) -> ResolvedTarget:
        """``resolve_target`` with this transport's policy, resolver and DNS cache."""
        return await resolve_target(url, self.policy, resolver=self._resolve_cached)

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        if self._closed:
            raise RuntimeError("PinnedTransport is closed")
        target = await self.resolve(request.url)
        origin = await self._checkout((target.scheme, target.host, target.port))

        async def release() -> None:
            await self._release(origin)

        try:
            response = await self._send_pinned(origin.transport, request, target)
        except BaseException:
            await release()
            raise
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        return httpx.Response(
            status_code=response.status_code,
            headers=response.headers,
            stream=_ReleasingStream(stream, release),
            extensions=response.extensions,
        )

    async def _send_pinned(
        self, transport: httpx.AsyncHTTPTransport, request: httpx.Request, target: ResolvedTarget
    ) -> httpx.Response:
        extensions = dict(request.extensions)
        if target.scheme == "https" and not target.host_is_ip:
            extensions["sni_hostname"] = target.host
        last: httpx.ConnectError | None = None
        # Nothing has been sent when a connect fails, so the next vetted address is safe to try.
        for ip in target.addresses[: self._max_addresses]:
            pinned = httpx.Request(
                request.method,
                request.url.copy_with(host=str(ip)),
                headers=request.headers,  # Host still names the original host
                stream=request.stream,
                extensions=extensions,
            )
            try:
                return await transport.handle_async_request(pinned)
            except httpx.ConnectError as e:
                last = e
        assert last is not None
        raise last

    async def _checkout(self, key: _OriginKey) -> _Origin:
        origin = self._origins.get(key)
        if origin is None:
            origin = _Origin(
                httpx.AsyncHTTPTransport(verify=self._ssl, limits=self._limits, trust_env=False)
            )
            self._origins[key] = origin
            while len(self._origins) > self._max_origins:
                _, old = self._origins.popitem(last=False)
                old.retired = True
                if old.active == 0:
                    await old.transport.aclose()
        else:
            self._origins.move_to_end(key)
        origin.active += 1
        return origin

    async def _release(self, origin: _Origin) -> None:
        origin.active -= 1
        if origin.retired and origin.active == 0:
            await origin.transport.aclose()

    @property
    def origin_count(self) -> int:
        """Connection pools currently kept (one per scheme, host and port)."""
        return len(self._origins)

    async def aclose(self) -> None:
        self._closed = True
        origins = list(self._origins.values())
        self._origins.clear()
        for origin in origins:
            origin.retired = True
            await origin.transport.aclose()
