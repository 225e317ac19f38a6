"""What every HTTP provider connector shares: the client, the send loop and error classes.

A subclass implements `send_one(job)` (one provider request per channel message) and, when its
provider calls back, the webhook hooks (`handshake`, `authenticate`, `events`). This base turns
transport failures into outcomes the engine understands:

- connection refused / connect timeout: the request provably never left -> `Outcome.RETRY`;
- a timeout or broken connection after the request was written -> `Outcome.UNKNOWN` (never resend
  blindly: the provider may have it);
- 429 and 5xx answers -> `Outcome.RETRY` at `Retry-After` (or exponential back-off with jitter).
"""

from __future__ import annotations

import asyncio
import email.utils
import hmac
import logging
import random
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, Protocol, TypeVar

import httpx
import orjson

from tidings.channels.port import ReportSink
from tidings.core.dispatch import Outcome, Report, SendJob, SendOutcome
from tidings.core.inbound import InboundMessage
from tidings.core.model import ERR_TEXT

log = logging.getLogger("tidings.channels")

USER_AGENT = "Tidings-Connector/0.1"


@dataclass(frozen=True, slots=True)
class HttpSettings:
    """Transport settings every HTTP connector has (configurable per connector instance)."""

    base_url: str
    timeout_s: float = 15.0
    connect_timeout_s: float = 5.0
    concurrency: int = 16
    backoff_base_s: float = 1.0
    backoff_max_s: float = 300.0


@dataclass(frozen=True, slots=True)
class InboundRequest:
    """A provider's HTTP callback as the connector sees it: raw body bytes, never re-encoded."""

    method: str
    headers: Mapping[str, str]  # lower-case names
    query: Mapping[str, str]
    body: bytes

    def json(self) -> Any:
        try:
            return orjson.loads(self.body)
        except orjson.JSONDecodeError:
            raise ValueError("body is not JSON") from None


@dataclass(frozen=True, slots=True)
class WebhookReply:
    status: int
    body: bytes = b""
    content_type: str = "text/plain"


@dataclass(frozen=True, slots=True)
class ProviderEvent:
    """A status from a provider callback, before it is matched to our message id.

    `key` de-duplicates (the provider's event id, or `ref:status`); `provider_ref` is the id the
    provider gave the message on send (stored in channel_messages.provider_ref); `message_id` is
    our id when the provider echoes it (it matches even when the send's answer was lost).
    """

    key: str
    provider_ref: str
    status: str
    err: int
    error: str | None
    at_us: int
    message_id: str | None = None


@dataclass(slots=True)
class _Backoff:
    attempts: dict[str, int] = field(default_factory=dict)

    def next_delay(self, key: str, base: float, cap: float) -> float:
        n = self.attempts.get(key, 0)
        self.attempts[key] = n + 1
        if len(self.attempts) > 100_000:  # bounded memory: forget the oldest half
            for k in list(self.attempts)[:50_000]:
                del self.attempts[k]
        delay: float = min(cap, base * (2**n))
        return delay * random.uniform(0.8, 1.2)

    def forget(self, key: str) -> None:
        self.attempts.pop(key, None)


def parse_retry_after(value: str | None, now_s: float) -> float | None:
    """Seconds to wait from a `Retry-After` header (delta-seconds or an HTTP date)."""
    if value is None or not value.strip():
        return None
    v = value.strip()
    try:
        return max(0.0, float(v))
    except ValueError:
        pass
    try:
        at = email.utils.parsedate_to_datetime(v)
    except (TypeError, ValueError):
        return None
    return max(0.0, at.timestamp() - now_s)


def constant_time_equal(a: str | bytes, b: str | bytes) -> bool:
    ab = a.encode() if isinstance(a, str) else a
    bb = b.encode() if isinstance(b, str) else b
    return hmac.compare_digest(ab, bb)


def status_error(status: str, err: int) -> str | None:
    if status in ("ACK", "DELIVRD", "SEEN", "ACCEPTD"):
        return None
    return ERR_TEXT.get(err)


class _WithHttp(Protocol):
    @property
    def http(self) -> HttpSettings: ...


SettingsT = TypeVar("SettingsT", bound=_WithHttp)


class HttpConnector(ABC, Generic[SettingsT]):
    """Base of the HTTP provider connectors (implements the `Connector` port)."""

    type_name: str = "http"

    def __init__(
        self,
        name: str,
        settings: SettingsT,
        now_us: Callable[[], int],
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.name = name
        self.settings = settings
        self.http = http = settings.http
        self._now_us = now_us
        self._transport = transport
        self._client: httpx.AsyncClient | None = None
        self._reports: ReportSink | None = None
        self._limit = asyncio.Semaphore(max(1, http.concurrency))
        self._backoff = _Backoff()

    # -- lifecycle -----------------------------------------------------------------------------

    def _headers(self) -> dict[str, str]:
        return {"User-Agent": USER_AGENT}

    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = httpx.AsyncClient(
                base_url=self.http.base_url.rstrip("/"),
                timeout=httpx.Timeout(self.http.timeout_s, connect=self.http.connect_timeout_s),
                headers=self._headers(),
                transport=self._transport,
                follow_redirects=False,
            )
        return self._client

    async def start(self, reports: ReportSink) -> None:
        self._reports = reports

    async def stop(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    async def reconcile(self, jobs: Sequence[SendJob]) -> dict[str, bool | None]:
        """HTTP providers cannot be asked reliably whether they have a message: cannot tell."""
        return {j.message_id: None for j in jobs}

    # -- sending -------------------------------------------------------------------------------

    async def send(self, jobs: Sequence[SendJob]) -> list[SendOutcome]:
        return list(await asyncio.gather(*(self._guarded(j) for j in jobs)))

    def _left_s(self, job: SendJob) -> float | None:
        """Seconds until the channel's validity ends (None: no deadline known)."""
        if job.deadline_us is None:
            return None
        return (job.deadline_us - self._now_us()) / 1_000_000

    async def _guarded(self, job: SendJob) -> SendOutcome:
        async with self._limit:
            left = self._left_s(job)
            if left is not None and left <= 0:  # waited past its validity: do not send late
                return SendOutcome(
                    job, Outcome.RETRY, self.name, retry_at_us=self._now_us(), error="too late"
                )
            try:
                # A provider that never answers cannot hold the channel past its validity.
                async with asyncio.timeout(left):
                    out = await self.send_one(job)
            except (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout) as exc:
                # never reached the provider: safe to try again
                log.warning("action=connector_unreachable connector=%s error=%s", self.name, exc)
                return self.retry(job, None)
            except httpx.TimeoutException:
                log.warning(
                    "action=connector_timeout connector=%s message_id=%s",
                    self.name,
                    job.message_id,
                )
                return SendOutcome(job, Outcome.UNKNOWN, self.name, error="provider timed out")
            except httpx.HTTPError as exc:
                log.warning("action=connector_http_error connector=%s error=%s", self.name, exc)
                return SendOutcome(job, Outcome.UNKNOWN, self.name, error=str(exc)[:200])
            except TimeoutError:  # our own deadline, not httpx's: it may have arrived
                log.warning(
                    "action=connector_no_answer_within_validity connector=%s message_id=%s",
                    self.name,
                    job.message_id,
                )
                return SendOutcome(
                    job, Outcome.UNKNOWN, self.name, error="no answer within the validity"
                )
            if out.outcome != Outcome.RETRY:
                self._backoff.forget(job.message_id)
            if out.outcome == Outcome.ACCEPTED:
                self.report(job.message_id, "ACK", 0)
            return out

    @abstractmethod
    async def send_one(self, job: SendJob) -> SendOutcome:
        """Send one channel message; raise httpx errors for transport failures."""

    # -- outcome helpers -----------------------------------------------------------------------

    def accepted(self, job: SendJob, provider_ref: str) -> SendOutcome:
        return SendOutcome(job, Outcome.ACCEPTED, self.name, provider_ref=provider_ref)

    def rejected(self, job: SendJob, err: int, error: str | None = None) -> SendOutcome:
        return SendOutcome(
            job, Outcome.REJECTED, self.name, err=err, error=error or ERR_TEXT.get(err)
        )

    def retry(self, job: SendJob, after_s: float | None, error: str | None = None) -> SendOutcome:
        if after_s is None:
            after_s = self._backoff.next_delay(
                job.message_id, self.http.backoff_base_s, self.http.backoff_max_s
            )
        else:
            after_s = min(after_s, self.http.backoff_max_s)
        at = self._now_us() + int(after_s * 1_000_000)
        return SendOutcome(job, Outcome.RETRY, self.name, retry_at_us=at, error=error)

    def retry_from(self, job: SendJob, response: httpx.Response) -> SendOutcome:
        after = parse_retry_after(response.headers.get("retry-after"), self._now_us() / 1e6)
        return self.retry(job, after, f"provider answered {response.status_code}")

    def report(self, message_id: str, status: str, err: int, at_us: int | None = None) -> None:
        if self._reports is not None:
            at = at_us if at_us is not None else self._now_us()
            self._reports(Report(message_id, status, err, status_error(status, err), at))

    # -- provider callbacks (override where the provider calls back) ------------------------------

    webhooks: bool = False

    def handshake(self, request: InboundRequest) -> WebhookReply:
        """Answer a GET on the webhook URL (a provider's subscription check)."""
        return WebhookReply(405, b"method not allowed")

    def post_handshake(self, request: InboundRequest) -> WebhookReply | None:
        """An unsigned verification POST the provider sends when the webhook is set up."""
        return None

    def authenticate(self, request: InboundRequest) -> bool | None:
        """True: genuine. False: a wrong signature or token. None: no credentials at all."""
        return False

    async def events(self, request: InboundRequest) -> list[ProviderEvent | InboundMessage]:
        """The status events and inbound messages an authenticated callback carries
        (ValueError: malformed)."""
        return []


def content_of(job: SendJob) -> dict[str, Any]:
    """The channel content (the Messente channel object minus channel/sender/validity/ttl)."""
    value = orjson.loads(job.content or "{}")
    if not isinstance(value, dict):
        raise ValueError("channel content is not an object")
    return value


def digits(e164: str) -> str:
    return e164.lstrip("+")


def seconds_to_us(value: object, default_us: int) -> int:
    """A provider timestamp in Unix seconds (int or numeric string) to microseconds; the
    default for anything else, including times no database column can hold."""
    try:
        us = int(float(str(value)) * 1_000_000)
    except (TypeError, ValueError, OverflowError):
        return default_us
    return us if 0 <= us < 2**62 else default_us
