"""One webhook POST attempt: through the SSRF guard, bounded in time, never raising for the network.

Outcome rules (``AttemptResult``):

- any status 200-399 is delivered (``ok``), Messente's rule. Redirects are **never followed**: a 3xx
  is itself the receiver's answer and counts as delivered, so no redirect can lead the request to
  another (possibly internal) host;
- 410 Gone sets ``gone``: stop retrying this URL;
- every other status, a timeout, a connection or protocol error, or a name that does not resolve
  is a failed attempt (``ok=False``) to be retried later;
- a target refused by the guard (bad URL, scheme not allowed, an address that is private,
  loopback, ...) sets ``blocked`` with ``error="blocked: <reason>"``: permanent, don't retry.

``timeout_s`` bounds the whole attempt (DNS, connect, TLS, sending, and waiting for the response
status); it starts once a per-origin concurrency slot is free, so waiting behind other deliveries
to the same host never burns an attempt. At most 64 KiB of the response body is read (only to let
the connection be reused); the body never changes the outcome.
"""

from __future__ import annotations

import asyncio
import contextlib
import email.utils
import http.cookiejar
import logging
import ssl
import time
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

import httpx

from tidings.core.strict_int import parse_int
from tidings.webhooks.guard import (
    ResolutionError,
    Resolver,
    TargetBlocked,
    TargetPolicy,
    parse_target,
)
from tidings.webhooks.signing import USER_AGENT
from tidings.webhooks.transport import PinnedTransport

__all__ = ["AttemptResult", "WebhookClient", "post_webhook"]

log = logging.getLogger("tidings.webhooks")

_OriginKey = tuple[str, str, int]


@dataclass(frozen=True, slots=True)
class AttemptResult:
    """What one POST attempt came to."""

    status_code: int | None  # None: no HTTP answer (blocked, DNS, connect, timeout, ...)
    error: str | None  # None when ok; short text otherwise (never the URL or the body)
    ok: bool  # delivered: status 200-399
    gone: bool  # 410: stop retrying this URL
    blocked: bool  # refused by the SSRF guard or malformed URL: permanent
    duration_ms: float
    retry_after_s: float | None = None  # the receiver's Retry-After, in seconds, if it sent one


def _status_result(status: int, duration_ms: float, retry_after_s: float | None) -> AttemptResult:
    ok = 200 <= status < 400
    return AttemptResult(
        status_code=status,
        error=None if ok else f"HTTP {status}",
        ok=ok,
        gone=status == 410,
        blocked=False,
        duration_ms=duration_ms,
        retry_after_s=retry_after_s,
    )


def _failure(error: str, duration_ms: float, *, blocked: bool = False) -> AttemptResult:
    return AttemptResult(None, error, False, False, blocked, duration_ms)


def _describe(e: BaseException) -> str:
    text = str(e) or type(e).__name__
    if isinstance(e, httpx.TimeoutException):
        return f"timeout ({type(e).__name__})"
    if isinstance(e, httpx.ConnectError):
        return f"connection failed: {text}"
    if isinstance(e, httpx.RemoteProtocolError | httpx.LocalProtocolError):
        return f"protocol error: {text}"
    if isinstance(e, httpx.ReadError | httpx.WriteError):
        return f"connection lost: {text}"
    return f"{type(e).__name__}: {text}"


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds from now (delta-seconds or an HTTP date), or None."""
    if value is None:
        return None
    value = value.strip()
    if (seconds := parse_int(value, 0)) is not None:
        return float(seconds)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def _no_cookies() -> http.cookiejar.CookieJar:
    # A receiver's cookies must never be replayed, least of all to another account's endpoint.
    return http.cookiejar.CookieJar(http.cookiejar.DefaultCookiePolicy(allowed_domains=[]))


@dataclass(slots=True)
class _Gate:
    sem: asyncio.Semaphore
    users: int = 0


class WebhookClient:
    """Posts webhooks through one ``httpx.AsyncClient`` on a ``PinnedTransport``.

    Safe for many concurrent ``post`` calls: each ``(scheme, host, port)`` gets its own
    keep-alive pool and at most ``max_concurrency_per_origin`` requests in flight (the rest wait
    for a slot, outside their timeout). Close with ``aclose()`` or use ``async with``.
    """

    def __init__(
        self,
        policy: TargetPolicy,
        *,
        timeout_s: float = 10.0,
        max_concurrency_per_origin: int = 8,
        keepalive_expiry_s: float = 30.0,
        max_origins: int = 512,
        max_response_bytes: int = 64 * 1024,
        verify: ssl.SSLContext | bool = True,
        resolver: Resolver | None = None,
        dns_cache_ttl_s: float = 30.0,
    ) -> None:
        if timeout_s <= 0 or max_concurrency_per_origin < 1:
            raise ValueError("timeout_s must be > 0 and max_concurrency_per_origin >= 1")
        self.policy = policy
        self._timeout_s = timeout_s
        self._per_origin = max_concurrency_per_origin
        self._max_body = max_response_bytes
        self._transport = PinnedTransport(
            policy,
            verify=verify,
            limits=httpx.Limits(
                max_connections=max_concurrency_per_origin,
                max_keepalive_connections=max_concurrency_per_origin,
                keepalive_expiry=keepalive_expiry_s,
            ),
            max_origins=max_origins,
            resolver=resolver,
            dns_cache_ttl_s=dns_cache_ttl_s,
        )
        self._client = httpx.AsyncClient(
            transport=self._transport,
            follow_redirects=False,
            trust_env=False,  # environment proxies would bypass the pinned transport
            cookies=_no_cookies(),
            timeout=httpx.Timeout(timeout_s),
            headers={"User-Agent": USER_AGENT},
        )
        self._gates: dict[_OriginKey, _Gate] = {}

    async def __aenter__(self) -> WebhookClient:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._client.aclose()

    @contextlib.asynccontextmanager
    async def _slot(self, key: _OriginKey) -> AsyncIterator[None]:
        gate = self._gates.get(key)
        if gate is None:
            gate = self._gates[key] = _Gate(asyncio.Semaphore(self._per_origin))
        gate.users += 1
        try:
            async with gate.sem:
                yield
        finally:
            gate.users -= 1
            if gate.users == 0:
                del self._gates[key]

    async def post(
        self,
        url: str,
        body: bytes,
        headers: Mapping[str, str],
        *,
        timeout_s: float | None = None,
    ) -> AttemptResult:
        """POST ``body`` with ``headers`` (sent as given; see ``signing.sign_headers``) to ``url``.

        Never raises for the target or the network; only cancellation propagates.
        """
        timeout = self._timeout_s if timeout_s is None else timeout_s
        t0 = time.perf_counter()
        try:
            key = parse_target(url, self.policy)
        except TargetBlocked as e:
            return _failure(f"blocked: {e.reason}", _ms(t0), blocked=True)
        async with self._slot(key):
            return await self._attempt(url, body, headers, timeout)

    async def _attempt(
        self, url: str, body: bytes, headers: Mapping[str, str], limit_s: float
    ) -> AttemptResult:
        t0 = time.perf_counter()
        status: int | None = None
        retry_after: float | None = None
        try:
            async with asyncio.timeout(limit_s):
                request = self._client.build_request(
                    "POST", url, content=body, headers=dict(headers), timeout=httpx.Timeout(limit_s)
                )
                response = await self._client.send(request, stream=True, follow_redirects=False)
                try:
                    status = response.status_code
                    retry_after = parse_retry_after(response.headers.get("retry-after"))
                    await self._drain(response)
                finally:
                    await response.aclose()
        except TargetBlocked as e:
            return _failure(f"blocked: {e.reason}", _ms(t0), blocked=True)
        except ResolutionError as e:
            return _failure(f"dns: {e.reason}", _ms(t0))
        except TimeoutError:
            if status is None:
                return _failure(f"timeout after {limit_s:g} s", _ms(t0))
        except (httpx.HTTPError, httpx.InvalidURL, OSError) as e:
            if status is None:
                return _failure(_describe(e), _ms(t0))
        except Exception as e:  # a bug, not the network: report it as a failed attempt
            log.exception("action=webhook_post_crashed")
            if status is None:
                return _failure(f"internal error: {type(e).__name__}", _ms(t0))
        assert status is not None  # errors after the status line only cut the body short
        return _status_result(status, _ms(t0), retry_after)

    async def _drain(self, response: httpx.Response) -> None:
        """Read (and drop) a small body so the connection can be reused; stop at the cap."""
        seen = 0
        async for chunk in response.aiter_raw():
            seen += len(chunk)
            if seen > self._max_body:
                break


def _ms(t0: float) -> float:
    return (time.perf_counter() - t0) * 1000.0


async def post_webhook(
    client: WebhookClient,
    url: str,
    body: bytes,
    headers: Mapping[str, str],
    *,
    timeout_s: float | None = None,
) -> AttemptResult:
    """One attempt through a shared ``WebhookClient`` (``client.post``)."""
    return await client.post(url, body, headers, timeout_s=timeout_s)
